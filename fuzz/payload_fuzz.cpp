// The agent's payload.json (proto/payload.hpp), as POST /provision and the
// stored payload file hand it to parse_payload.
//
// Invariants: no exception escapes; an error is E_INVALID or
// E_EULA_REQUIRED naming a field (Error::field); an accepted payload's ids pass
// valid_id/valid_version, its numbers are in range, and its canonical JSON
// (to_json) is accepted again and canonical already (the agent compares
// canonical forms to decide "same payload again").
//
// The API's create body has its own harness, create_fuzz.cpp.
#include "fuzz_input.hpp"
#include "proto/ids.hpp"
#include "proto/payload.hpp"

namespace {

void check(std::string_view text, std::optional<int64_t> vmid) {
  zlh::Result<zlh::payload::Payload> p = zlh::fail(zlh::codes::kInternal, "not run");
  try {
    p = zlh::payload::parse_payload(text, vmid);
  } catch (const std::exception& e) {
    zlh::fuzz::broken("parse_payload threw", e.what());
  }
  if (!p) {
    const auto& e = p.error();
    ZLH_FUZZ_CHECK(e.is(zlh::codes::kInvalid) || e.is(zlh::codes::kEulaRequired), e.to_string());
    // The offending field is named; it is "" only for a member named "".
    ZLH_FUZZ_CHECK(!e.field.empty() || e.message.starts_with("field \"\""), e.to_string());
    return;
  }
  ZLH_FUZZ_CHECK(p->vmid >= 0 && (!vmid || p->vmid == *vmid));
  ZLH_FUZZ_CHECK(p->memory_mb >= zlh::payload::kMinMemoryMb &&
                 p->memory_mb <= zlh::payload::kMaxMemoryMb);
  ZLH_FUZZ_CHECK(zlh::proto::valid_version(p->version), p->version);
  if (p->container_type == zlh::ContainerType::kDev) {
    ZLH_FUZZ_CHECK(zlh::proto::valid_id(p->runtime), p->runtime);
  } else {
    ZLH_FUZZ_CHECK(zlh::proto::valid_id(p->game) && zlh::proto::valid_id(p->variant));
    ZLH_FUZZ_CHECK(p->eula);
    for (const auto& [name, port] : p->ports)
      ZLH_FUZZ_CHECK(zlh::proto::valid_id(name) && port >= 1 && port <= 65535);
  }
  auto canon = p->to_json();
  auto again = zlh::payload::validate_payload(canon, p->vmid);
  ZLH_FUZZ_CHECK(again, canon.dump() + " → " + again.error().to_string());
  ZLH_FUZZ_CHECK(again->to_json() == canon, canon.dump());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check(text, std::nullopt);
  check(text, 6001);
  return 0;
}
