#include "api/drivers/local/local_record.hpp"

#include <gtest/gtest.h>

namespace zlh::api::drivers {
namespace {

TEST(LocalRecord, RoundTrip) {
  LocalRecord r;
  r.vmid = 6123;
  r.spec.type = ContainerType::kGame;
  r.spec.memory_mb = 4096;
  r.spec.cpu_cores = 3;
  r.spec.agent = {"/k/api.pub", "/k/catalog.pub", "http://127.0.0.1:8080/artifacts", "-"};
  r.agent_pid = 4242;
  r.agent_start_time = 18446744073709551000ull;  // u64 survives
  r.boot_id = "b0a1";
  r.created_at = "2026-11-24T10:00:00.000000Z";
  auto p = parse_record(to_json(r));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->vmid, 6123);
  EXPECT_EQ(p->spec.type, ContainerType::kGame);
  EXPECT_EQ(p->spec.memory_mb, 4096);
  EXPECT_EQ(p->spec.cpu_cores, 3);
  EXPECT_EQ(p->spec.agent.api_public_key_file, "/k/api.pub");
  EXPECT_EQ(p->spec.agent.catalog_public_key_file, "/k/catalog.pub");
  EXPECT_EQ(p->spec.agent.artifacts_url, "http://127.0.0.1:8080/artifacts");
  EXPECT_EQ(p->spec.agent.dev_user, "-");
  EXPECT_EQ(p->agent_pid, 4242);
  EXPECT_EQ(p->agent_start_time, 18446744073709551000ull);
  EXPECT_EQ(p->boot_id, "b0a1");
  EXPECT_EQ(p->created_at, r.created_at);
}

TEST(LocalRecord, MinimalRecordHasNoAgent) {
  auto p = parse_record(R"({"vmid":7,"type":"dev"})");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->agent_pid, 0);
  EXPECT_EQ(p->agent_start_time, 0u);
}

TEST(LocalRecord, RejectsBrokenRecords) {
  struct Case {
    const char* json;
    const char* field;
  } cases[] = {
      {"", "record"},
      {"[1]", "record"},
      {R"({"type":"dev"})", "vmid"},
      {R"({"vmid":"7","type":"dev"})", "vmid"},
      {R"({"vmid":7})", "type"},
      {R"({"vmid":7,"type":"vm"})", "type"},
      {R"({"vmid":7,"type":"dev","agent_pid":"12"})", "agent_pid"},
      {R"({"vmid":7,"type":"dev","agent":"x"})", "agent"},
      {R"({"vmid":7,"type":"dev","agent":{"dev_user":1}})", "dev_user"},
  };
  for (auto& c : cases) {
    auto p = parse_record(c.json);
    ASSERT_FALSE(p) << c.json;
    EXPECT_EQ(p.error().code, codes::kInvalid) << c.json;
    EXPECT_EQ(p.error().field, c.field) << c.json;
  }
}

}  // namespace
}  // namespace zlh::api::drivers
