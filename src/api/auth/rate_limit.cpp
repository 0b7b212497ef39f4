#include "api/auth/rate_limit.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "api/store/store.hpp"
#include "base/crypto.hpp"
#include "base/log.hpp"

namespace zlh::api::auth {
namespace {

constexpr size_t kMaxRawKeyBytes = 128;

// Attacker-chosen identifiers could be megabytes; hashing long ones bounds
// memory per key without letting two different keys collide in practice.
std::string table_key(std::string_view k) {
  if (k.size() <= kMaxRawKeyBytes) return std::string(k);
  return "sha256:" + crypto::sha256_hex(k);
}

}  // namespace

Error rate_limited_error(std::chrono::seconds retry_after) {
  return Error::make(codes::kRateLimited, "too many failed logins; retry in " +
                                              std::to_string(retry_after.count()) + " s");
}

std::string address_key(std::string_view ip) {
  std::string s(ip);
  unsigned char b[16];
  if (::inet_pton(AF_INET, s.c_str(), b) == 1) return s;
  if (::inet_pton(AF_INET6, s.c_str(), b) != 1) return s;
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(b, kMapped, 12) == 0) {
    char v4[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, b + 12, v4, sizeof v4);
    return v4;
  }
  std::memset(b + 8, 0, 8);
  char v6[INET6_ADDRSTRLEN];
  ::inet_ntop(AF_INET6, b, v6, sizeof v6);
  return std::string(v6) + "/64";
}

void LoginRateLimiter::Table::prune(Entry& e, TimePoint now) const {
  auto live = std::find_if(e.failures.begin(), e.failures.end(),
                           [&](TimePoint t) { return t + window_ > now; });
  e.failures.erase(e.failures.begin(), live);
}

std::optional<std::chrono::seconds> LoginRateLimiter::Table::retry_after(const std::string& key,
                                                                         TimePoint now) {
  if (limit_ == 0) return std::nullopt;
  auto it = map_.find(key);
  if (it == map_.end()) return std::nullopt;
  prune(it->second, now);
  if (it->second.failures.empty()) {
    erase(key);
    return std::nullopt;
  }
  if (it->second.failures.size() < limit_) return std::nullopt;
  // At most limit_ failures are kept, so the front is the one whose expiry
  // frees the next attempt. It is live (prune), so the wait is > 0 and the
  // rounding up makes it >= 1 s.
  return std::chrono::ceil<std::chrono::seconds>(it->second.failures.front() + window_ - now);
}

void LoginRateLimiter::Table::record(const std::string& key, TimePoint now) {
  if (limit_ == 0) return;
  auto it = map_.find(key);
  if (it == map_.end()) {
    evict(now);
    lru_.push_front(key);
    it = map_.emplace(key, Entry{{}, lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  Entry& e = it->second;
  prune(e, now);
  e.failures.push_back(now);
  if (e.failures.size() > limit_) e.failures.erase(e.failures.begin());
}

void LoginRateLimiter::Table::unrecord_last(const std::string& key) {
  auto it = map_.find(key);
  if (it == map_.end() || it->second.failures.empty()) return;
  it->second.failures.pop_back();
  if (it->second.failures.empty()) erase(key);
}

void LoginRateLimiter::Table::erase(const std::string& key) {
  auto it = map_.find(key);
  if (it == map_.end()) return;
  lru_.erase(it->second.lru);
  map_.erase(it);
}

void LoginRateLimiter::Table::evict(TimePoint now) {
  // The list is ordered by last failure, so once the back is still live,
  // every other key is too.
  while (!lru_.empty()) {
    auto it = map_.find(lru_.back());
    bool expired = it->second.failures.empty() || it->second.failures.back() + window_ <= now;
    if (!expired && map_.size() < max_keys_) break;
    lru_.pop_back();
    map_.erase(it);
  }
}

LoginRateLimiter::LoginRateLimiter(RateLimitConfig cfg, Clock clock)
    : clock_(std::move(clock)),
      cfg_(cfg),
      accounts_(cfg.account_limit, cfg.account_window, std::max<size_t>(1, cfg.max_keys)),
      addresses_(cfg.address_limit, cfg.address_window, std::max<size_t>(1, cfg.max_keys)) {}

LoginRateLimiter::LoginRateLimiter(RateLimitConfig cfg, store::Store& store, std::string scope,
                                   Clock clock)
    : LoginRateLimiter(cfg, std::move(clock)) {
  store_ = &store;
  scope_ = std::move(scope);
  if (!clock_)  // wall time, so that every replica reads the same windows
    clock_ = [] {
      return std::chrono::steady_clock::time_point(
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(
              std::chrono::system_clock::now().time_since_epoch()));
    };
}

LoginRateLimiter::TimePoint LoginRateLimiter::now() const {
  return clock_ ? clock_() : std::chrono::steady_clock::now();
}

// ---- counted in the store ----

namespace {

store::Time store_time(std::chrono::steady_clock::time_point t) {
  return store::Time(std::chrono::duration_cast<store::Clock::duration>(t.time_since_epoch()));
}

}  // namespace

std::optional<std::chrono::seconds> LoginRateLimiter::shared_check(std::string_view account,
                                                                   std::string_view address,
                                                                   bool record) {
  const TimePoint t = now();
  shared_purge(t);
  const store::RateBudget budgets[] = {
      {scope_ + "/a/" + table_key(account), cfg_.account_limit, cfg_.account_window},
      {scope_ + "/d/" + table_key(address), cfg_.address_limit, cfg_.address_window}};
  auto wait = store_->check_rate(budgets, store_time(t), record);
  if (!wait) {
    log::warn("auth", "rate limit: the store failed; counting in this process",
              {{"error", wait.error().message}});
    std::lock_guard lock(mu_);
    const std::string ak = table_key(account), bk = table_key(address);
    auto a = accounts_.retry_after(ak, t);
    auto b = addresses_.retry_after(bk, t);
    if (a || b)
      return std::max(a.value_or(std::chrono::seconds(0)), b.value_or(std::chrono::seconds(0)));
    if (record) {
      accounts_.record(ak, t);
      addresses_.record(bk, t);
    }
    return std::nullopt;
  }
  if (!*wait) return std::nullopt;
  return std::max(std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(**wait));
}

void LoginRateLimiter::shared_record(std::string_view account, std::string_view address) {
  const TimePoint t = now();
  shared_purge(t);
  const store::RateBudget budgets[] = {
      {scope_ + "/a/" + table_key(account), cfg_.account_limit, cfg_.account_window},
      {scope_ + "/d/" + table_key(address), cfg_.address_limit, cfg_.address_window}};
  if (auto r = store_->record_rate(budgets, store_time(t)); !r) {
    log::warn("auth", "rate limit: cannot record a failure; counted in this process",
              {{"error", r.error().message}});
    std::lock_guard lock(mu_);
    accounts_.record(table_key(account), t);
    addresses_.record(table_key(address), t);
  }
}

void LoginRateLimiter::shared_clear(std::string_view account, std::string_view address,
                                    bool give_back) {
  auto r = store_->clear_rate(scope_ + "/a/" + table_key(account));
  if (r && give_back) r = store_->clear_rate(scope_ + "/d/" + table_key(address), true);
  if (!r) log::warn("auth", "rate limit: cannot clear a count", {{"error", r.error().message}});
  std::lock_guard lock(mu_);  // what was counted here while the store failed
  accounts_.erase(table_key(account));
  if (!r && give_back) addresses_.unrecord_last(table_key(address));
}

size_t LoginRateLimiter::shared_keys(char table, std::chrono::seconds window) const {
  auto n = store_->count_rate_keys(scope_ + "/" + table + "/", store_time(now() - window));
  return n ? static_cast<size_t>(*n) : 0;
}

// Rows past the longest window, at most once a minute (by this limiter's
// clock); the first call purges too.
void LoginRateLimiter::shared_purge(TimePoint t) {
  {
    std::lock_guard lock(mu_);
    if (last_purge_ != TimePoint{} && t - last_purge_ < std::chrono::minutes(1)) return;
    last_purge_ = t;
  }
  const auto longest = std::max(cfg_.account_window, cfg_.address_window);
  if (auto r = store_->purge_rate_events(scope_ + "/", store_time(t - longest)); !r)
    log::warn("auth", "rate limit: cannot purge old counts", {{"error", r.error().message}});
}

std::optional<std::chrono::seconds> LoginRateLimiter::retry_after(std::string_view account,
                                                                  std::string_view address) {
  if (store_) return shared_check(account, address, false);
  // Read under the lock so each key's failures are recorded in time order.
  std::lock_guard lock(mu_);
  TimePoint t = now();
  auto a = accounts_.retry_after(table_key(account), t);
  auto b = addresses_.retry_after(table_key(address), t);
  if (!a) return b;
  if (!b) return a;
  return std::max(*a, *b);
}

void LoginRateLimiter::record_failure(std::string_view account, std::string_view address) {
  if (store_) return shared_record(account, address);
  // Read under the lock so each key's failures are recorded in time order.
  std::lock_guard lock(mu_);
  TimePoint t = now();
  accounts_.record(table_key(account), t);
  addresses_.record(table_key(address), t);
}

void LoginRateLimiter::record_success(std::string_view account) {
  if (store_) return shared_clear(account, "", false);
  std::lock_guard lock(mu_);
  accounts_.erase(table_key(account));
}

std::optional<std::chrono::seconds> LoginRateLimiter::reserve(std::string_view account,
                                                              std::string_view address) {
  if (store_) return shared_check(account, address, true);
  std::lock_guard lock(mu_);
  TimePoint t = now();
  const std::string ak = table_key(account), bk = table_key(address);
  auto a = accounts_.retry_after(ak, t);
  auto b = addresses_.retry_after(bk, t);
  if (a || b)
    return std::max(a.value_or(std::chrono::seconds(0)), b.value_or(std::chrono::seconds(0)));
  accounts_.record(ak, t);
  addresses_.record(bk, t);
  return std::nullopt;
}

void LoginRateLimiter::succeeded(std::string_view account, std::string_view address) {
  if (store_) return shared_clear(account, address, true);
  std::lock_guard lock(mu_);
  accounts_.erase(table_key(account));
  addresses_.unrecord_last(table_key(address));
}

size_t LoginRateLimiter::account_keys() const {
  if (store_) return shared_keys('a', cfg_.account_window);
  std::lock_guard lock(mu_);
  return accounts_.size();
}

size_t LoginRateLimiter::address_keys() const {
  if (store_) return shared_keys('d', cfg_.address_window);
  std::lock_guard lock(mu_);
  return addresses_.size();
}

}  // namespace zlh::api::auth
