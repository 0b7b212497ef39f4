#include "api/authz/live_sessions.hpp"

#include <set>
#include <utility>
#include <vector>

namespace zlh::api::authz {

LiveSessions::Handle::~Handle() { owner_.remove(id_); }

void LiveSessions::Handle::set_cut(Cut cut) { owner_.set_cut(id_, std::move(cut)); }

std::unique_ptr<LiveSessions::Handle> LiveSessions::add(int64_t server_id, int64_t user_id,
                                                        std::optional<store::Permission> need) {
  std::lock_guard lk(mu_);
  const uint64_t id = next_++;
  entries_[id] = Entry{server_id, user_id, need, {}, false};
  return std::unique_ptr<Handle>(new Handle(*this, id));
}

int LiveSessions::cut(int64_t server_id, int64_t user_id) {
  std::vector<Cut> run;
  int n = 0;
  {
    std::lock_guard lk(mu_);
    for (auto& [id, e] : entries_) {
      if (e.server_id != server_id || e.user_id != user_id) continue;
      ++n;
      if (e.cut)
        run.push_back(e.cut);
      else
        e.cut_pending = true;
    }
  }
  for (auto& c : run) c();
  return n;
}

int LiveSessions::recheck(std::optional<int64_t> server_id, const Access& access) {
  std::set<std::pair<int64_t, int64_t>> pairs;
  {
    std::lock_guard lk(mu_);
    for (const auto& [id, e] : entries_)
      if (!server_id || e.server_id == *server_id) pairs.emplace(e.server_id, e.user_id);
  }
  std::vector<Cut> run;
  int n = 0;
  for (const auto& [server, user] : pairs) {
    auto a = access(server, user);  // outside the lock: it reads the store
    if (!a) continue;
    std::lock_guard lk(mu_);
    for (auto& [id, e] : entries_) {
      if (e.server_id != server || e.user_id != user) continue;
      if (*a && (!e.need || (*a)->has(*e.need))) continue;
      ++n;
      if (e.cut)
        run.push_back(e.cut);
      else
        e.cut_pending = true;
    }
  }
  for (auto& c : run) c();
  return n;
}

size_t LiveSessions::size() const {
  std::lock_guard lk(mu_);
  return entries_.size();
}

void LiveSessions::remove(uint64_t id) {
  std::lock_guard lk(mu_);
  entries_.erase(id);
}

void LiveSessions::set_cut(uint64_t id, Cut cut) {
  bool now = false;
  {
    std::lock_guard lk(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    it->second.cut = cut;
    now = it->second.cut_pending;
  }
  if (now) cut();
}

}  // namespace zlh::api::authz
