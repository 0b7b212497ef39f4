#include "api/servers/server_view.hpp"

#include <gtest/gtest.h>

#include "base/json_text.hpp"

namespace zlh::api {
namespace {

using nlohmann::json;
using store::Server;

// The document as the route handlers built it before the writer existed
// (a nlohmann tree): the writer must produce exactly its dump.
json reference(const Server& s, const std::optional<StatsBrief>& stats = std::nullopt) {
  auto p = json::parse(s.payload, nullptr, false);
  json j = {
      {"id", s.id},
      {"name", s.name},
      {"node", s.node},
      {"type", to_string(s.type)},
      {"vmid", s.vmid ? json(*s.vmid) : json(nullptr)},
      {"hostname", s.hostname},
      {"ip", s.ip},
      {"state", to_string(s.state)},
      {"agent_state", s.agent_state},
      {"agent_last_seen", s.agent_last_seen ? json(iso_time(*s.agent_last_seen)) : json(nullptr)},
      {"install_step", s.install_step},
      {"progress", s.progress},
      {"error", s.error.empty() ? json(nullptr) : json(s.error)},
      {"crash_count", s.crash_count},
      {"last_exit", s.last_exit.empty() ? json(nullptr) : json::parse(s.last_exit)},
      {"ports", s.ports},
      {"created_at", iso_time(s.created_at)},
      {"updated_at", iso_time(s.updated_at)},
      {"spec", p.is_object() ? p : json::object()}};
  bool ide = s.type == store::ServerType::kDev && p.is_object() &&
             p.value("enable_code_server", false) && s.vmid;
  j["ide_url"] = ide ? json("/dev/" + std::to_string(*s.vmid) + "/ide/") : json(nullptr);
  j["stats"] = nullptr;
  if (stats)
    j["stats"] = {
        {"cpu_ratio", stats->cpu_ratio ? json(*stats->cpu_ratio) : json(nullptr)},
        {"memory_bytes", stats->memory_bytes},
        {"memory_limit", stats->memory_limit ? json(stats->memory_limit) : json(nullptr)}};
  return j;
}

Server sample() {
  Server s;
  s.id = 42;
  s.owner_id = 7;
  s.type = store::ServerType::kDev;
  s.name = "my dev box";
  s.vmid = 6001;
  s.hostname = "dev-6001";
  s.ip = "127.77.23.113";
  s.node = "local";
  s.payload = json{
      {"runtime", "node"},
      {"version", "22.23.3"},
      {"enable_code_server", true},
      {"memory_mb",
       1024}}.dump();
  s.state = store::ServerState::kReady;
  s.agent_state = "running";
  s.agent_last_seen = store::Time(std::chrono::milliseconds(1795514400123));
  s.crash_count = 2;
  s.last_exit =
      R"({"reason":"out of memory","signal":9})";  // as the poller stores it (sorted keys)
  s.install_step = "done";
  s.progress = 1;
  s.created_at = store::Time(std::chrono::milliseconds(1795514000000));
  s.updated_at = store::Time(std::chrono::milliseconds(1795514401999));
  return s;
}

TEST(ServerView, WritesExactlyTheTreeDump) {
  Server s = sample();
  std::string text;
  append_server_json(text, s);
  EXPECT_EQ(text, reference(s).dump());
  EXPECT_EQ(server_json(s), reference(s));
  auto j = json::parse(text);
  EXPECT_EQ(j["ide_url"], "/dev/6001/ide/");
  EXPECT_EQ(j["agent_last_seen"], "2026-11-24T10:00:00Z");
  EXPECT_EQ(j["error"], nullptr);
}

TEST(ServerView, VariantsMatchTheTree) {
  std::vector<Server> cases;
  {
    Server s = sample();  // released: no vmid, no ports, an error, never seen
    s.vmid.reset();
    s.state = store::ServerState::kError;
    s.error = "agent: install failed";
    s.agent_last_seen.reset();
    s.progress = 0.25;
    cases.push_back(s);
  }
  {
    Server s = sample();  // a game server with ports; code-server flag is ignored
    s.type = store::ServerType::kGame;
    s.ports = {25565, 25570};
    s.payload = json{
        {"game", "minecraft"},
        {"variant", "paper"},
        {"properties", {{"motd", "hi \"there\""}}},
        {"enable_code_server",
         true}}.dump();
    s.progress = 1.0 / 3;
    s.crash_count = 0;
    cases.push_back(s);
  }
  {
    Server s = sample();  // code-server off; payload not an object
    s.payload = "[1,2]";
    cases.push_back(s);
  }
  {
    Server s = sample();
    s.payload = json{{"enable_code_server", false}}.dump();
    s.progress = 0;
    cases.push_back(s);
  }
  {
    Server s = sample();  // strings that need escaping, and non-ASCII text
    s.name = "q\"uote \\ back\n\t\r\b\f \x01\x1f\x7f é 中 🎮 /";
    s.install_step = "download runtime \"node\" 22";
    s.error = std::string("nul\0byte", 8);
    cases.push_back(s);
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    std::string text;
    append_server_json(text, cases[i]);
    EXPECT_EQ(text, reference(cases[i]).dump()) << "case " << i;
  }
}

TEST(ServerView, StatsAreTheLatestSamplesHeadlineOrNull) {
  Server s = sample();
  const std::optional<StatsBrief> cases[] = {std::nullopt, StatsBrief{0.25, 123456789, 1ull << 30},
                                             StatsBrief{std::nullopt, 42, 0}};
  for (const auto& c : cases) {
    std::string text;
    append_server_json(text, s, c);
    EXPECT_EQ(text, reference(s, c).dump());
  }
  auto j = json::parse(server_list_json({s, s}, {std::nullopt, cases[1]}));
  EXPECT_TRUE(j["servers"][0]["stats"].is_null());
  EXPECT_EQ(j["servers"][1]["stats"]["cpu_ratio"], 0.25);
  EXPECT_EQ(j["servers"][1]["stats"]["memory_limit"], 1ull << 30);
}

TEST(ServerView, InvalidUtf8BecomesReplacementCharacters) {
  const std::string bad[] = {"\xff",     "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                             "\xe2\x82", "x\x80y"};
  for (const auto& b : bad) {
    std::string out;
    json_text::append_string(out, b);
    auto j = json::parse(out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << out;
    std::string v = j.get<std::string>();
    EXPECT_NE(v.find("\xEF\xBF\xBD"), std::string::npos) << out;
    // And it is valid UTF-8: nlohmann refuses to dump anything else.
    EXPECT_NO_THROW((void)json(v).dump());
  }
  std::string ok;
  json_text::append_string(ok, "\xf0\x9f\x8e\xae\xe2\x82\xac\xc3\xa9");  // 🎮 € é pass through
  EXPECT_EQ(ok, "\"\xf0\x9f\x8e\xae\xe2\x82\xac\xc3\xa9\"");
}

TEST(ServerView, ListKeepsOrderAndIsValidJson) {
  EXPECT_EQ(server_list_json({}), R"({"servers":[]})");
  std::vector<Server> v;
  for (int i = 0; i < 3; ++i) {
    Server s = sample();
    s.id = 100 - i;
    v.push_back(s);
  }
  auto j = json::parse(server_list_json(v));
  ASSERT_EQ(j["servers"].size(), 3u);
  EXPECT_EQ(j["servers"][0]["id"], 100);
  EXPECT_EQ(j["servers"][2]["id"], 98);
  EXPECT_EQ(j["servers"][1], reference(v[1]));
}

}  // namespace
}  // namespace zlh::api
