// The dev user of a dev container (docs/design.md §5): the account console
// shells, code-server and workspace files run as / belong to.
//
// Paths in DevUser are host paths under the agent's --root (docs/design.md
// §3.1), so with --root /srv/c42 the home is /srv/c42/home/dev.
//
// Thread-safety: ensure_dev_user() mutates account files and the home
// directory; callers serialize calls for one root (the provisioner runs it
// from its single worker). Distinct roots may run concurrently.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/error.hpp"

namespace zlh::agent::devenv {

struct DevUser {
  std::string name;  // "dev", or the current user's name for "-"
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;              // <root>/home/dev (also for "-", owned by the current user)
  std::string workspace;         // <root>/home/dev/workspace
  std::string shell;             // "/bin/bash"
  bool is_current_user = false;  // "-": no account exists, run as the agent's user
};

// The marker line of the block ensure_dev_user() appends to .bashrc and
// .profile; its presence means "already set up".
inline constexpr std::string_view kRcMarker = "# >>> zlh environment >>>";

// Makes sure the dev user, its home and workspace exist. Idempotent: safe to
// call on every agent start and every provisioning step.
//
// name "-": no account is created; <root>/home/dev and its workspace are
// created owned by the agent's own uid/gid (docs/design.md §3.1 --dev-user -).
//
// a real name (needs root):
//  - root "/": `useradd -m -U -s /bin/bash -d /home/dev [-u 1000] NAME` when
//    the user does not exist (-u 1000 only when uid 1000 is free); lookups
//    use the host's user database.
//  - any other root: the container's own account files under <root>/etc are
//    used (`useradd --prefix <root>`), never the host's. When
//    <root>/etc/passwd is missing, minimal passwd/group/shadow/gshadow files
//    with just root and nobody/nogroup are created first (fixed Debian
//    defaults; nothing, in particular no password hash, is copied from the
//    host). Lookups parse <root>/etc/passwd.
//  An existing user is used as it is (its passwd entry is never modified);
//  home is <root>/home/dev regardless of the passwd home field.
//
// Always: home is mode 0755 and home + workspace are owned by uid:gid;
// .bashrc and .profile in home (and .bash_profile when it exists, since it
// shadows .profile for bash) get a marked block (kRcMarker) that sources
// <root>/etc/profile.d/zlh.sh. Existing content is never rewritten: the
// block is appended when the marker is missing (mode kept, file owned by
// the dev user), files are created when absent, and one that is a symlink
// is left alone (the agent runs as root; it must not write through links
// the user controls).
//
// Errors: E_INVALID for a bad name, E_FORBIDDEN when a real user is asked
// for without root, E_IO for filesystem failures, E_INTERNAL when useradd
// fails (its output in the message).
Result<DevUser> ensure_dev_user(const std::string& root, const std::string& name);

// The lines appended to .bashrc/.profile (exposed for tests and docs).
std::string rc_block(const std::string& root);

}  // namespace zlh::agent::devenv
