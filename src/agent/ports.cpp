#include "agent/ports.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "base/fs.hpp"

namespace zlh::agent {

namespace {

constexpr std::string_view kListen = "0A";  // TCP_LISTEN in the st column

// /proc/net/tcp writes an IPv4 address as the 32-bit value in host byte
// order, in hex: 127.0.0.1 is "0100007F" on x86.
std::string v4_hex(std::string_view dotted) {
  in_addr a{};
  if (::inet_pton(AF_INET, std::string(dotted).c_str(), &a) != 1) return "";
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08X", a.s_addr);
  return buf;
}

bool all_zero(std::string_view hex) { return hex.find_first_not_of('0') == std::string_view::npos; }

}  // namespace

std::vector<int> listening_ports(std::string_view text, std::string_view host, int exclude) {
  const bool any_host = host.empty() || host == "0.0.0.0";
  const std::string want = any_host ? "" : v4_hex(host);
  std::vector<int> out;
  std::istringstream in{std::string(text)};
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string slot, local, remote, st;
    if (!(ls >> slot >> local >> remote >> st) || st != kListen) continue;
    auto colon = local.rfind(':');
    if (colon == std::string::npos) continue;
    std::string addr = local.substr(0, colon);
    int port = int(std::strtol(local.c_str() + colon + 1, nullptr, 16));
    if (port <= 0 || port > 65535 || port == exclude) continue;
    // tcp6 also lists IPv4-mapped wildcard binds as ::; its other addresses
    // never equal a dotted quad, so they count only for any_host.
    if (!any_host && !all_zero(addr) && addr != want) continue;
    out.push_back(port);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

// The listening TCP sockets through NETLINK_SOCK_DIAG, asking for the
// LISTEN state only: the kernel then walks its listening hash and not the
// established table, which is global and sized by the host's memory
// (reading /proc/net/tcp cost about 2 ms per /status on a 24 GiB host,
// whatever the number of sockets). nullopt when netlink is unavailable.
std::optional<std::vector<int>> listening_ports_diag(const std::string& host, int exclude) {
  int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return std::nullopt;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const bool any_host = host.empty() || host == "0.0.0.0";
  in_addr want{};
  if (!any_host && ::inet_pton(AF_INET, host.c_str(), &want) != 1) return std::nullopt;
  std::vector<int> out;
  for (int family : {AF_INET, AF_INET6}) {
    struct {
      nlmsghdr nlh;
      inet_diag_req_v2 req;
    } msg{};
    msg.nlh.nlmsg_len = sizeof msg;
    msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.req.sdiag_family = uint8_t(family);
    msg.req.sdiag_protocol = IPPROTO_TCP;
    msg.req.idiag_states = 1u << 10;  // TCP_LISTEN
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd, &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
      return std::nullopt;
    alignas(nlmsghdr) char buf[32768];
    for (bool done = false; !done;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return std::nullopt;
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_DONE) {
          done = true;
          break;
        }
        if (h->nlmsg_type == NLMSG_ERROR) return std::nullopt;
        const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
        const int port = ntohs(m->id.idiag_sport);
        if (port <= 0 || port == exclude) continue;
        const auto& a = m->id.idiag_src;
        const bool wildcard = family == AF_INET ? a[0] == 0 : (a[0] | a[1] | a[2] | a[3]) == 0;
        // As with /proc/net/tcp6: its other addresses count only for any host.
        const bool mine = family == AF_INET && !any_host && a[0] == want.s_addr;
        if (any_host || wildcard || mine) out.push_back(port);
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

std::vector<int> listening_ports_now(const std::string& host, int exclude) {
  if (auto diag = listening_ports_diag(host, exclude)) return *diag;
  std::vector<int> out;
  for (const char* p : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    auto text = fs::read_file(p, 16 << 20);
    if (!text) continue;
    auto ports = listening_ports(*text, host, exclude);
    out.insert(out.end(), ports.begin(), ports.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace zlh::agent
