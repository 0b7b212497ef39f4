// Change notifications: Store::on_change, and what Impl::changed runs on
// PostgreSQL (docs/store-engines.md, "Cache invalidation").
#include "api/store/impl.hpp"

namespace zlh::api::store {

void publish_change(Db& db, std::string_view key) {
  Stmt q = db.prepare("SELECT pg_notify('zlh_cache', ?)");
  q.bind(1, key);
  while (q.step()) {
  }
}

void Store::Impl::changed_server(Db& d, int64_t server_id) {
  changed(d, "server:" + std::to_string(server_id));
  Stmt q = d.prepare("SELECT vmid FROM vmid_allocations WHERE server_id = ?");
  q.bind(1, server_id);
  while (q.step()) changed(d, "vmid:" + std::to_string(q.col(0).int64()));
}

void ChangeCallbacks::add(std::function<void(std::string_view)> f) {
  std::lock_guard lk(mu_);
  fs_.push_back(std::move(f));
}

void ChangeCallbacks::fire(std::string_view key) const {
  std::vector<std::function<void(std::string_view)>> run;
  {
    std::lock_guard lk(mu_);
    run = fs_;
  }
  for (const auto& f : run) f(key);
}

void Store::on_change(std::function<void(std::string_view key)> f) {
  impl_->changes.add(std::move(f));
}

}  // namespace zlh::api::store
