#include "api/tailscale/access.hpp"

#include <gtest/gtest.h>

namespace zlh::api::tailscale {
namespace {

store::Server ready_dev() {
  store::Server s;
  s.id = 7;
  s.type = store::ServerType::kDev;
  s.state = store::ServerState::kReady;
  s.vmid = 16001;
  s.ip = "127.77.62.129";
  return s;
}

TEST(Access, OneHeadscaleUserPerZlhUser) {
  EXPECT_EQ(headscale_user_name("zlh-u", 42), "zlh-u42");
  EXPECT_EQ(headscale_user_name("tenant-", 1), "tenant-1");
  EXPECT_NE(headscale_user_name("zlh-u", 1), headscale_user_name("zlh-u", 11));
  EXPECT_EQ(container_hostname(16001), "dev-16001");
}

TEST(Access, OnlyReadyDevServersWithAContainer) {
  EXPECT_TRUE(check_server(ready_dev()));
  auto game = ready_dev();
  game.type = store::ServerType::kGame;
  ASSERT_FALSE(check_server(game));
  EXPECT_EQ(check_server(game).error().code, codes::kConflict);
  EXPECT_NE(check_server(game).error().message.find("dev servers"), std::string::npos);
  for (auto st : {store::ServerState::kProvisioning, store::ServerState::kError,
                  store::ServerState::kDeleting}) {
    auto s = ready_dev();
    s.state = st;
    ASSERT_FALSE(check_server(s));
    EXPECT_EQ(check_server(s).error().code, codes::kConflict);
  }
  auto no_ip = ready_dev();
  no_ip.ip.clear();
  EXPECT_FALSE(check_server(no_ip));
  auto no_vmid = ready_dev();
  no_vmid.vmid.reset();
  EXPECT_FALSE(check_server(no_vmid));
}

TEST(Access, TheResponseHoldsTheKeyStepsAndConstraints) {
  DeviceAccess a;
  a.server_id = 7;
  a.vmid = 16001;
  a.login_server = "https://hs.example.com";
  a.headscale_user = "zlh-u3";
  a.authkey = "device-key-0123";
  a.key_id = "12";
  a.expiration = "2030-01-01T00:00:00Z";
  a.addon_version = "1.78.1";
  auto j = enable_response(a);
  EXPECT_EQ(j["server_id"], 7);
  EXPECT_EQ(j["hostname"], "dev-16001");
  EXPECT_EQ(j["device"]["authkey"], "device-key-0123");
  EXPECT_EQ(j["device"]["reusable"], false);
  EXPECT_EQ(j["device"]["ephemeral"], false);
  EXPECT_EQ(j["device"]["expires_at"], "2030-01-01T00:00:00Z");
  EXPECT_EQ(j["instructions"]["tailscale_up"],
            "tailscale up --login-server https://hs.example.com --authkey device-key-0123");
  EXPECT_EQ(j["instructions"]["ssh"], "ssh dev@<tailscale ip of dev-16001>");
  EXPECT_EQ(j["instructions"]["find_ip"], "tailscale ip -4 dev-16001");
  EXPECT_NE(j["instructions"]["vscode"].get<std::string>().find("Remote-SSH"), std::string::npos);
  std::string text = j["instructions"]["text"];
  EXPECT_NE(
      text.find("tailscale up --login-server https://hs.example.com --authkey device-key-0123"),
      std::string::npos);
  EXPECT_NE(text.find("ssh dev@"), std::string::npos);
  std::string constraints = j["constraints"].dump();
  for (const char* c : {"no MagicDNS", "no exit nodes", "no DNS takeover", "--accept-dns=false"})
    EXPECT_NE(constraints.find(c), std::string::npos) << c;
  EXPECT_EQ(j["container"]["version"], "1.78.1");
  EXPECT_EQ(j["shown_once"], true);
}

}  // namespace
}  // namespace zlh::api::tailscale
