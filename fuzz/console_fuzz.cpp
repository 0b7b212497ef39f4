// The console WebSocket's control messages (agent/console/control.hpp), as a
// client sends them in text frames.
//
// Invariants: parse_control() never throws; a message it accepts holds cols
// and rows in 1..1000 or a signal signal_from_name() knows, and the same
// numbers written back as JSON parse to the same message.
#include <nlohmann/json.hpp>

#include "agent/console/control.hpp"
#include "fuzz_input.hpp"

using zlh::agent::console::Control;
using zlh::agent::console::parse_control;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  zlh::Result<Control> c = zlh::fail(zlh::codes::kInternal, "not run");
  try {
    c = parse_control(text);
  } catch (const std::exception& e) {
    zlh::fuzz::broken("parse_control threw", e.what());
  }
  if (!c) {
    ZLH_FUZZ_CHECK(c.error().is(zlh::codes::kInvalid), c.error().to_string());
    return 0;
  }
  if (c->kind == Control::Kind::kSignal) {
    ZLH_FUZZ_CHECK(c->signal > 0);
    return 0;
  }
  ZLH_FUZZ_CHECK(c->cols >= 1 && c->cols <= 1000 && c->rows >= 1 && c->rows <= 1000);
  nlohmann::json again = {{"type", "resize"}, {"cols", c->cols}, {"rows", c->rows}};
  auto r = parse_control(again.dump());
  ZLH_FUZZ_CHECK(r && r->kind == c->kind && r->cols == c->cols && r->rows == c->rows);
  return 0;
}
