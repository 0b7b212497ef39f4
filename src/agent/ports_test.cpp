#include "agent/ports.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

namespace zlh::agent {
namespace {

// Lines as the kernel writes them (x86: IPv4 addresses in host byte order).
constexpr const char* kTcp =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 00000000:49A0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 "
    "1\n"  // 0.0.0.0:18848
    "   1: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 2 "
    "1\n"  // 0.0.0.0:3000
    "   2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 "
    "1\n"  // 127.0.0.1:8080
    "   3: 174D4D7F:1770 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4 "
    "1\n"  // 127.77.77.23:6000
    "   4: 00000000:49D0 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5 "
    "1\n"  // 0.0.0.0:18896
    "   5: 00000000:0BB8 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 6 "
    "1\n"  // established
    "   6: garbage\n";

TEST(Ports, ListeningSocketsOfTheWildcardAndTheAgentsAddress) {
  // In a container (agent on 0.0.0.0) every listener counts, but the excluded port.
  EXPECT_EQ(listening_ports(kTcp, "0.0.0.0", 18896), (std::vector<int>{3000, 6000, 8080, 18848}));
  // The local driver's agent on 127.77.77.23 sees only its own and wildcard binds.
  EXPECT_EQ(listening_ports(kTcp, "127.77.77.23", 18896), (std::vector<int>{3000, 6000, 18848}));
  EXPECT_TRUE(listening_ports("", "0.0.0.0", 0).empty());
}

TEST(Ports, Tcp6WildcardCounts) {
  const char* tcp6 =
      "  sl  local_address                         remote_address                        st\n"
      "   0: 00000000000000000000000000000000:1F40 00000000000000000000000000000000:0000 0A 0 0 0 "
      "0 0 0\n"
      "   1: 00000000000000000000000001000000:1F41 00000000000000000000000000000000:0000 0A 0 0 0 "
      "0 0 0\n";
  EXPECT_EQ(listening_ports(tcp6, "127.77.77.23", 0), (std::vector<int>{8000}));
  EXPECT_EQ(listening_ports(tcp6, "0.0.0.0", 0), (std::vector<int>{8000, 8001}));
}

// The live namespace: a socket listening on 127.0.0.1 shows for that
// address and for any, not for another; one that only connects does not.
TEST(Ports, TheLiveNamespaceThroughSockDiag) {
  int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  auto has = [port](const std::vector<int>& v) {
    return std::find(v.begin(), v.end(), port) != v.end();
  };
  EXPECT_FALSE(has(listening_ports_now("", 0))) << "bound, not listening yet";
  ASSERT_EQ(::listen(l, 4), 0);
  EXPECT_TRUE(has(listening_ports_now("127.0.0.1", 0)));
  EXPECT_TRUE(has(listening_ports_now("", 0)));
  EXPECT_FALSE(has(listening_ports_now("127.0.0.2", 0)));
  EXPECT_FALSE(has(listening_ports_now("127.0.0.1", port))) << "the excluded port";
  ::close(l);
  EXPECT_FALSE(has(listening_ports_now("", 0)));
}

}  // namespace
}  // namespace zlh::agent
