#include "agent/backups/restore.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "agent/files/as_user.hpp"
#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/remove_tree.hpp"

namespace zlh::agent::backups {

namespace {
constexpr std::string_view kComponent = "backups";

// Writes all of `data` to the extraction's socket; EPIPE means the reader
// stopped (MSG_NOSIGNAL: no SIGPIPE, whoever calls).
int write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data.remove_prefix(size_t(n));
  }
  return 0;
}
}  // namespace

Result<std::unique_ptr<RestoreJob>> RestoreJob::start(const std::string& root_dir,
                                                      std::optional<files::Owner> owner,
                                                      runtimes::ExtractOptions opts) {
  std::unique_ptr<RestoreJob> j(new RestoreJob());
  j->root_dir_ = root_dir;
  while (j->root_dir_.size() > 1 && j->root_dir_.back() == '/') j->root_dir_.pop_back();
  auto slash = j->root_dir_.rfind('/');
  if (slash == std::string::npos || slash + 1 == j->root_dir_.size())
    return fail(codes::kInternal, "restore: the root \"" + root_dir + "\" is not absolute");
  j->parent_ = slash == 0 ? "/" : j->root_dir_.substr(0, slash);
  j->name_ = j->root_dir_.substr(slash + 1);
  j->owner_ = owner;
  j->opts_ = std::move(opts);
  j->opts_.cancel = &j->cancel_;
  j->opts_.stats = &j->stats_;

  j->parent_fd_.reset(::open(j->parent_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!j->parent_fd_.valid()) return fail(Error::from_errno("restore: open " + j->parent_, errno));
  struct stat st {};
  if (::fstatat(j->parent_fd_.get(), j->name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return fail(codes::kNotFound, "restore: there are no files to replace");
    return fail(Error::from_errno("restore: stat " + j->root_dir_, errno));
  }
  if (!S_ISDIR(st.st_mode)) return fail(codes::kConflict, "restore: the root is not a directory");

  j->discard_leftovers();
  // Beside the root, so the exchange is one rename on one file system.
  j->staging_name_ = "." + j->name_ + ".restore-" + crypto::random_hex(6);
  if (::mkdirat(j->parent_fd_.get(), j->staging_name_.c_str(), 0700) != 0)
    return fail(Error::from_errno("restore: create a staging dir in " + j->parent_, errno));
  j->staging_path_ = fs::join(j->parent_, j->staging_name_);  // ours to remove from now on
  safe_path::UniqueFd sd(::openat(j->parent_fd_.get(), j->staging_name_.c_str(),
                                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!sd.valid() || ::fchmod(sd.get(), (st.st_mode & 07777) | 0700) != 0 ||
      (owner && ::fchown(sd.get(), owner->uid, owner->gid) != 0)) {
    int err = errno;
    j->discard_staging();
    return fail(Error::from_errno("restore: prepare " + j->staging_path_, err));
  }

  // A socket pair rather than a pipe: send() with MSG_NOSIGNAL reports a
  // reader that stopped as EPIPE without raising SIGPIPE.
  int p[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0) {
    int err = errno;
    j->discard_staging();
    return fail(Error::from_errno("restore: socketpair", err));
  }
  ::shutdown(p[0], SHUT_WR);
  ::shutdown(p[1], SHUT_RD);
  j->write_fd_.reset(p[1]);
  j->thread_ = std::thread([raw = j.get(), rfd = p[0]] { raw->extract_thread(rfd); });
  return j;
}

void RestoreJob::extract_thread(int read_fd) {
  safe_path::UniqueFd in(read_fd);
  Result<void> r;
  {
    files::AsUser as(owner_);
    r = as.check();
    if (r) r = runtimes::extract_archive_fd(in.get(), staging_path_, opts_);
  }
  if (r) {
    // The archive's end may come before the end of the body (compressor
    // trailers, padding): read it all so the writer never sees EPIPE.
    char buf[16384];
    ssize_t n;
    while ((n = ::read(in.get(), buf, sizeof buf)) != 0)
      if (n < 0 && errno != EINTR) break;
  }
  extract_result_ = std::move(r);
  extract_done_ = true;
}  // closing the read end makes a writer's next write fail with EPIPE

Result<void> RestoreJob::write(std::string_view chunk) {
  if (!write_fd_.valid()) return fail(codes::kInternal, "restore: the body is already complete");
  int err = write_all(write_fd_.get(), chunk);
  if (err == 0) return {};
  write_fd_.reset();
  if (err == EPIPE) {
    if (auto r = wait_extraction(); !r) return r;
    return fail(codes::kBadArchive, "restore: the archive ended before the body");
  }
  return fail(Error::from_errno("restore: write", err));
}

Result<void> RestoreJob::wait_extraction() {
  write_fd_.reset();  // end of input
  if (thread_.joinable()) thread_.join();
  return extract_result_;
}

Result<RestoreResult> RestoreJob::finish(const std::function<Result<void>()>& may_swap) {
  if (auto r = wait_extraction(); !r) {
    discard_staging();
    return fail(std::move(r.error()).wrap("restore"));
  }
  if (may_swap) {
    if (auto r = may_swap(); !r) {
      discard_staging();
      return fail(r.error());
    }
  }
  if (::renameat2(parent_fd_.get(), staging_name_.c_str(), parent_fd_.get(), name_.c_str(),
                  RENAME_EXCHANGE) != 0) {
    int err = errno;
    discard_staging();
    return fail(Error::from_errno("restore: exchange " + root_dir_, err));
  }
  swapped_ = true;
  ::fsync(parent_fd_.get());
  // The staging name now holds the old tree.
  if (auto r = fs::remove_tree(staging_path_, {.missing_ok = true}); !r)
    log::warn(kComponent, "cannot remove the replaced tree",
              {{"path", staging_path_}, {"error", r.error().to_string()}});
  return RestoreResult{stats_.entries, stats_.bytes};
}

void RestoreJob::discard_leftovers() {
  // One restore at a time: a staging dir already there is an agent's that
  // died mid-restore (before the exchange: incomplete; after: the old tree).
  const std::string prefix = "." + name_ + ".restore-";
  std::error_code ec;
  std::vector<std::string> stale;
  for (const auto& e : std::filesystem::directory_iterator(parent_, ec))
    if (e.path().filename().string().starts_with(prefix)) stale.push_back(e.path().string());
  for (const auto& p : stale) {
    log::info(kComponent, "removing a restore's leftover", {{"path", p}});
    if (auto r = fs::remove_tree(p, {.missing_ok = true}); !r)
      log::warn(kComponent, "cannot remove a restore's leftover",
                {{"path", p}, {"error", r.error().to_string()}});
  }
}

void RestoreJob::discard_staging() {
  if (staging_path_.empty()) return;
  if (auto r = fs::remove_tree(staging_path_, {.missing_ok = true}); !r)
    log::warn(kComponent, "cannot remove a restore's staging dir",
              {{"path", staging_path_}, {"error", r.error().to_string()}});
}

RestoreJob::~RestoreJob() {
  if (thread_.joinable()) {
    cancel_ = true;
    write_fd_.reset();
    thread_.join();
  }
  if (!swapped_) discard_staging();
}

}  // namespace zlh::agent::backups
