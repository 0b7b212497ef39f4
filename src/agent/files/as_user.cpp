#include "agent/files/as_user.hpp"

#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace zlh::agent::files {

namespace {
// The thread's own supplementary groups (the raw syscall: per thread).
bool set_thread_groups(const std::vector<gid_t>& g) {
  return ::syscall(SYS_setgroups, g.size(), g.empty() ? nullptr : g.data()) == 0;
}
}  // namespace

AsUser::AsUser(std::optional<Owner> owner) {
  if (!owner || ::geteuid() != 0 || (owner->uid == 0 && owner->gid == 0)) return;
  int n = ::getgroups(0, nullptr);
  if (n > 0) {
    groups_.resize(size_t(n));
    n = ::getgroups(n, groups_.data());
    groups_.resize(n > 0 ? size_t(n) : 0);
  }
  active_ = true;
  if (!set_thread_groups({})) ok_ = false;
  old_gid_ = gid_t(::setfsgid(owner->gid));
  old_uid_ = uid_t(::setfsuid(owner->uid));
  // setfsuid/setfsgid report the previous value, never an error: read back.
  if (uid_t(::setfsuid(uid_t(-1))) != owner->uid || gid_t(::setfsgid(gid_t(-1))) != owner->gid)
    ok_ = false;
}

AsUser::~AsUser() {
  if (!active_) return;
  ::setfsuid(old_uid_);
  ::setfsgid(old_gid_);
  (void)set_thread_groups(groups_);
}

Result<void> AsUser::check() const {
  if (!ok_) return fail(codes::kInternal, "cannot take the workload user's file-system identity");
  return {};
}

}  // namespace zlh::agent::files
