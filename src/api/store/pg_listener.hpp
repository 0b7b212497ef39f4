// Private to store/: the LISTEN side of change notifications on PostgreSQL
// (docs/store-engines.md "Cache invalidation"; Store::on_change).
//
// One connection of its own, outside any pool, LISTENing on zlh_cache, and
// a thread that waits on its socket (poll) and hands each notification's
// payload (a key: "session:<id>", "server:<id>", …) to `on_key`. Every
// replica's committed writes arrive here, this replica's own included,
// about one round trip after their commit.
//
// A lost connection loses the notifications sent meanwhile, so the
// listener calls on_key("*") (drop every cache) when it finds the
// connection lost, then reconnects every `retry` until it can LISTEN again,
// and calls on_key("*") once more (what was read while it was away may be
// stale). The first LISTEN calls it too, for what was cached before it.
// Idle for `ping`, it runs SELECT 1, so a connection that died silently (a
// network that drops packets) is found within about `ping`.
//
// Threading: on_key runs on the listener's thread, one key at a time; it
// must not block for long (later keys wait). The destructor stops the
// thread (it returns within one poll round) and closes the connection; it
// must not run on the listener's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "api/store/impl.hpp"

namespace zlh::api::store {

class PgListener final : public ChangeFeed {
 public:
  struct Options {
    std::chrono::milliseconds retry{500};   // between connection attempts
    std::chrono::milliseconds ping{10000};  // idle time before a SELECT 1
  };
  // Starts the thread, which connects with `conninfo` (retrying until it
  // can; the connection string is never logged). Never fails but for
  // resources (E_IO: no eventfd).
  static Result<std::unique_ptr<PgListener>> start(std::string conninfo,
                                                   std::function<void(std::string_view)> on_key,
                                                   Options options);
  static Result<std::unique_ptr<PgListener>> start(std::string conninfo,
                                                   std::function<void(std::string_view)> on_key) {
    return start(std::move(conninfo), std::move(on_key), Options{});
  }
  ~PgListener() override;
  PgListener(const PgListener&) = delete;
  PgListener& operator=(const PgListener&) = delete;

  // Connected and LISTENing now.
  bool listening() const { return backend_pid_.load() != 0; }
  // The server process of the current connection; 0 while there is none.
  int backend_pid() const { return backend_pid_.load(); }
  // How many times a LISTEN was established (1 after the first connection).
  uint64_t connections() const { return connections_.load(); }

 private:
  PgListener(std::string conninfo, std::function<void(std::string_view)> on_key, Options o,
             int wake_fd);
  void run();
  void serve(class PgDb& db);
  void pause(std::chrono::milliseconds d);

  std::string conninfo_;
  std::function<void(std::string_view)> on_key_;
  Options opts_;
  int wake_fd_;
  std::atomic<bool> stop_{false};
  std::atomic<int> backend_pid_{0};
  std::atomic<uint64_t> connections_{0};
  std::thread thread_;
};

}  // namespace zlh::api::store
