#include "agent/ports.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "common/fs.hpp"

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

std::vector<int> listening_ports_now(const std::string& host, int exclude) {
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
