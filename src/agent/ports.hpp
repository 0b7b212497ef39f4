// The TCP ports a container listens on (docs/design.md §10.4: the agent reports
// them in /status as ports_listening, for the IDE origin's port preview).
//
// Read from the kernel's socket tables (/proc/net/tcp and /proc/net/tcp6 of
// the agent's network namespace). In an lxc container that namespace is the
// container's own; the local driver's agents share the host's, so only
// sockets bound to the wildcard address or to the agent's own address
// count there.
//
// Thread-safety: plain functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace zlh::agent {

// Ports in LISTEN state in one /proc/net/tcp{,6} text whose local address is
// the wildcard (0.0.0.0 / ::) or `host` (a dotted quad; "0.0.0.0" or "" =
// every address), without `exclude`, ascending, no duplicates. Lines that do
// not parse are skipped.
std::vector<int> listening_ports(std::string_view proc_net_tcp, std::string_view host, int exclude);

// This process's network namespace, ascending: asked of the kernel through
// NETLINK_SOCK_DIAG (LISTEN only, which spares the kernel a walk of its
// whole established table), else read from both /proc tables. Same rules
// as listening_ports().
std::vector<int> listening_ports_now(const std::string& host, int exclude);

}  // namespace zlh::agent
