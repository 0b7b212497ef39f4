// File-system accesses with the workload user's rights (security finding H2).
//
// The agent runs as root in its container, but everything the /files API and
// mods do on the workload's tree is the dev (service) user's business: a
// root agent acting on a tree the user controls would read or overwrite
// whatever the user can point it at (a hard link to /etc/shadow, a symlinked
// workspace). AsUser switches the calling thread's fsuid/fsgid to the user
// and drops its supplementary groups for its lifetime, so the kernel checks
// every open, mkdir, rename and unlink as the user (the file-system
// capabilities go with fsuid 0, CAP_DAC_OVERRIDE included), and restores
// them after. Per thread: the raw syscalls touch only the calling thread
// (glibc's setgroups would change every thread).
//
// No-op when `owner` is empty or the process is not root (the local driver
// runs the agent as the user itself). ok() is false when the switch did not
// happen although it should have; callers then refuse the operation.
#pragma once

#include <sys/types.h>

#include <optional>
#include <vector>

#include "agent/files/atomic_file.hpp"
#include "base/error.hpp"

namespace zlh::agent::files {

class AsUser {
 public:
  explicit AsUser(std::optional<Owner> owner);
  ~AsUser();
  AsUser(const AsUser&) = delete;
  AsUser& operator=(const AsUser&) = delete;

  bool ok() const { return ok_; }
  // E_INTERNAL unless ok().
  Result<void> check() const;

 private:
  bool active_ = false;
  bool ok_ = true;
  uid_t old_uid_ = 0;
  gid_t old_gid_ = 0;
  std::vector<gid_t> groups_;
};

}  // namespace zlh::agent::files
