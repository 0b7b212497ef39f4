// Login rate limiting (docs/design.md §10.2): failed logins are counted per
// account and per remote address in sliding windows; when either budget is
// spent, further attempts are refused (429 E_RATE_LIMITED, Retry-After) until
// the oldest counted failure leaves the window.
//
// Defaults: 5 failures per 15 min per account, 20 per 15 min per address.
//
// Use at login:
//   if (auto wait = limiter.retry_after(account, addr)) -> 429, Retry-After: wait->count()
//                          (the password is not checked, nothing is counted)
//   check the password (or dummy_verify for an unknown account)
//   wrong:   limiter.record_failure(account, addr)
//   correct: limiter.record_success(account)   (clears the account's failures;
//            the address keeps its count, so one good account does not buy an
//            address unlimited guesses at others)
// `account` must be canonical: the user id when the identifier names a user,
// else the identifier lowercased, so "Bob" and "bob@x" for one user share a
// budget and unknown accounts behave exactly like known ones. `address` should
// go through address_key() so an IPv6 client cannot rotate through its /64.
//
// Memory: each table keeps at most `max_keys` keys with at most `limit`
// timestamps each. Keys whose failures have all left the window are dropped
// as they are met; when a table is still full, the least recently failed key
// is evicted (an attacker flooding the table can thus only reset the oldest
// counters, and is slowed by the address budget while doing it). Keys longer
// than 128 bytes are stored as their SHA-256.
//
// Threading: all members may be called from any thread (one mutex; every call
// is O(limit) plus amortised O(1) eviction). Not copyable.
//
// Shared by replicas (issue 25): built with a store, the limiter keeps its
// windows in the database (store::Store::check_rate, table rate_events of
// migration 0015) instead of memory, so failures counted by one zlh-api
// replica count on every other. Same rules and the same answers (a log of
// the last `limit` failures per key, sliding windows); each call is one
// store call (reserve: one write transaction, so parallel guesses over
// several replicas still get no more than the budget), and keys are
// "<scope>/a/<account>" and "<scope>/d/<address>". `max_keys` does not
// apply: rows older than the window are purged (at most once a minute per
// limiter). The clock must agree across replicas: the default is wall
// time. When the store fails (unreachable, table missing), the call counts
// in this process's tables instead (logged): still limited, per replica.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/error.hpp"

namespace zlh::api::store {
class Store;
}

namespace zlh::api::auth {

struct RateLimitConfig {
  unsigned account_limit = 5;
  std::chrono::seconds account_window{15 * 60};
  unsigned address_limit = 20;
  std::chrono::seconds address_window{15 * 60};
  size_t max_keys = 100'000;  // per table
};

// E_RATE_LIMITED "too many failed logins; retry in N s" for the caller to
// answer 429 with `Retry-After: N`.
Error rate_limited_error(std::chrono::seconds retry_after);

// Canonical address for rate limiting: IPv4 as is, IPv4-mapped IPv6 as its
// IPv4, other IPv6 as its /64 prefix ("2001:db8:1:2::/64"). Anything that does
// not parse is returned unchanged.
std::string address_key(std::string_view ip);

class LoginRateLimiter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // A limit of 0 disables that table. `clock` defaults to steady_clock::now
  // and must be callable from any thread.
  explicit LoginRateLimiter(RateLimitConfig cfg = {}, Clock clock = nullptr);
  // Counted in `store` (see above), under `scope` ("login", "register"):
  // limiters of one scope on any replica share their counts. `clock`
  // defaults to wall time (system_clock since the epoch).
  LoginRateLimiter(RateLimitConfig cfg, store::Store& store, std::string scope,
                   Clock clock = nullptr);
  LoginRateLimiter(const LoginRateLimiter&) = delete;
  LoginRateLimiter& operator=(const LoginRateLimiter&) = delete;

  // nullopt: the attempt may go ahead. Otherwise the time (>= 1 s, rounded
  // up) until both budgets allow one more attempt.
  std::optional<std::chrono::seconds> retry_after(std::string_view account,
                                                  std::string_view address);
  void record_failure(std::string_view account, std::string_view address);
  void record_success(std::string_view account);

  // M2: check and count in one step, before the password is checked, so N
  // parallel guesses cannot all pass a check made before any is recorded.
  // nullopt: go ahead, the attempt is counted as a failure for the account
  // and the address; a correct password then calls succeeded(), which clears
  // the account and takes the attempt back from the address.
  std::optional<std::chrono::seconds> reserve(std::string_view account, std::string_view address);
  void succeeded(std::string_view account, std::string_view address);

  // Keys currently held (tests, metrics).
  size_t account_keys() const;
  size_t address_keys() const;

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  // One sliding-window table (a failure log per key, LRU-ordered by last failure).
  class Table {
   public:
    Table(unsigned limit, std::chrono::seconds window, size_t max_keys)
        : limit_(limit), window_(window), max_keys_(max_keys) {}
    std::optional<std::chrono::seconds> retry_after(const std::string& key, TimePoint now);
    void record(const std::string& key, TimePoint now);
    void erase(const std::string& key);
    void unrecord_last(const std::string& key);
    size_t size() const { return map_.size(); }

   private:
    struct Entry {
      std::vector<TimePoint> failures;  // oldest first, at most limit_
      std::list<std::string>::iterator lru;
    };
    void prune(Entry& e, TimePoint now) const;
    void evict(TimePoint now);
    unsigned limit_;
    std::chrono::seconds window_;
    size_t max_keys_;
    std::unordered_map<std::string, Entry> map_;
    std::list<std::string> lru_;  // front: most recent failure
  };

  TimePoint now() const;
  // The same calls on the store (shared()).
  std::optional<std::chrono::seconds> shared_check(std::string_view account,
                                                   std::string_view address, bool record);
  void shared_record(std::string_view account, std::string_view address);
  void shared_clear(std::string_view account, std::string_view address, bool give_back);
  size_t shared_keys(char table, std::chrono::seconds window) const;
  void shared_purge(TimePoint now);

  Clock clock_;
  RateLimitConfig cfg_;
  store::Store* store_ = nullptr;  // counted in the store when set
  std::string scope_;
  TimePoint last_purge_{};
  mutable std::mutex mu_;
  Table accounts_;
  Table addresses_;
};

}  // namespace zlh::api::auth
