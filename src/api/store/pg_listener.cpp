#include "api/store/pg_listener.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "api/store/pg_db.hpp"
#include "base/log.hpp"

namespace zlh::api::store {

Result<std::unique_ptr<PgListener>> PgListener::start(std::string conninfo,
                                                      std::function<void(std::string_view)> on_key,
                                                      Options options) {
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return std::unexpected(Error::from_errno("eventfd", errno));
  return std::unique_ptr<PgListener>(
      new PgListener(std::move(conninfo), std::move(on_key), options, fd));
}

PgListener::PgListener(std::string conninfo, std::function<void(std::string_view)> on_key,
                       Options o, int wake_fd)
    : conninfo_(std::move(conninfo)), on_key_(std::move(on_key)), opts_(o), wake_fd_(wake_fd) {
  thread_ = std::thread([this] { run(); });
}

PgListener::~PgListener() {
  stop_.store(true);
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  ::close(wake_fd_);
}

// Sleeps `d`, or less when stopped.
void PgListener::pause(std::chrono::milliseconds d) {
  pollfd p{wake_fd_, POLLIN, 0};
  (void)::poll(&p, 1, static_cast<int>(d.count()));
}

void PgListener::run() {
  bool warned = false;
  while (!stop_.load()) {
    auto db = PgDb::connect(conninfo_);
    if (!db) {
      if (!warned)
        log::warn("store", "cannot LISTEN for cache invalidations; retrying",
                  {{"error", db.error().message}});
      warned = true;
      pause(opts_.retry);
      continue;
    }
    try {
      (*db)->exec(std::string("LISTEN ") + kChangeChannel);
    } catch (const DbError& e) {
      log::warn("store", "LISTEN failed; retrying", {{"error", e.what()}});
      pause(opts_.retry);
      continue;
    }
    if (warned) log::info("store", "listening for cache invalidations again", {});
    warned = false;
    backend_pid_.store((*db)->backend_pid());
    connections_.fetch_add(1);
    on_key_("*");  // what was cached before this LISTEN may be stale
    serve(**db);
    backend_pid_.store(0);
    if (stop_.load()) break;
    log::warn("store", "lost the LISTEN connection: caches dropped, reconnecting", {});
    on_key_("*");
  }
}

// Until the connection is lost or the listener stops.
void PgListener::serve(PgDb& db) {
  auto idle_since = std::chrono::steady_clock::now();
  const auto round = std::min(opts_.ping, std::chrono::milliseconds(1000));
  while (!stop_.load()) {
    try {
      auto got = db.wait_notifications(round, wake_fd_);
      for (const auto& n : got) on_key_(n.payload);
      const auto now = std::chrono::steady_clock::now();
      if (!got.empty()) {
        idle_since = now;
      } else if (now - idle_since >= opts_.ping) {
        db.scalar_int64("SELECT 1");
        idle_since = now;
      }
    } catch (const DbError& e) {
      if (stop_.load()) return;
      log::warn("store", "LISTEN connection failed", {{"error", e.what()}});
      return;
    }
  }
}

}  // namespace zlh::api::store
