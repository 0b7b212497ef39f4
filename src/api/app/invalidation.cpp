#include "api/app/invalidation.hpp"

#include <charconv>
#include <optional>

#include "api/ide/ide_proxy.hpp"

namespace zlh::api {

namespace {

// The number after `prefix` in `key`, if key is exactly prefix + digits.
std::optional<int64_t> id_after(std::string_view key, std::string_view prefix) {
  if (!key.starts_with(prefix)) return std::nullopt;
  std::string_view n = key.substr(prefix.size());
  int64_t v = 0;
  auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
  if (ec != std::errc() || p != n.data() + n.size() || n.empty()) return std::nullopt;
  return v;
}

// LiveSessions::Access over the store: no access (nullopt), an owner (all
// permissions) or a member (theirs); errors other than E_NOT_FOUND unknown.
authz::LiveSessions::Access store_access(store::Store& store) {
  return [&store](int64_t server, int64_t user) -> Result<std::optional<store::PermSet>> {
    auto a = store.get_server_access(server, user);
    if (!a && a.error().is(codes::kNotFound)) return std::optional<store::PermSet>();
    if (!a) return fail(a.error());
    return std::optional<store::PermSet>(a->owner ? store::PermSet::all() : a->permissions);
  };
}

}  // namespace

void apply_change(std::string_view key, store::Store& store, IdeAccess* ide,
                  authz::LiveSessions* sessions) {
  if (key == "*") {
    if (ide) ide->forget_all();
    if (sessions) sessions->recheck(std::nullopt, store_access(store));
    return;
  }
  if (key.starts_with("session:")) {
    if (ide) ide->forget_session(key.substr(8));
    return;
  }
  if (auto vmid = id_after(key, "vmid:")) {
    if (ide) ide->forget_vmid(static_cast<int>(*vmid));
    return;
  }
  if (auto server = id_after(key, "server:"))
    if (sessions) sessions->recheck(*server, store_access(store));
}

ChangeWatch::~ChangeWatch() {
  std::lock_guard lk(state_->mu);
  state_->on = false;
}

std::unique_ptr<ChangeWatch> watch_changes(store::Store& store, IdeAccess* ide,
                                           authz::LiveSessions* sessions) {
  auto state = std::make_shared<ChangeWatch::State>();
  state->ide = ide;
  state->sessions = sessions;
  store.on_change([&store, weak = std::weak_ptr(state)](std::string_view key) {
    auto s = weak.lock();
    if (!s) return;
    std::lock_guard lk(s->mu);
    if (s->on) apply_change(key, store, s->ide, s->sessions);
  });
  return std::make_unique<ChangeWatch>(std::move(state));
}

}  // namespace zlh::api
