#include "agent/console/control.hpp"

#include <signal.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

namespace zlh::agent::console {
namespace {

// A window dimension: j.value("cols", 0) would throw for a string and
// convert a huge double with undefined behaviour, so look at the type first.
std::optional<uint16_t> cells(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  if (it->is_number_unsigned()) {
    uint64_t v = it->get<uint64_t>();
    if (v < 1 || v > uint64_t(kMaxWindowCells)) return std::nullopt;
    return uint16_t(v);
  }
  int64_t v = it->get<int64_t>();
  if (v < 1 || v > kMaxWindowCells) return std::nullopt;
  return uint16_t(v);
}

}  // namespace

int signal_from_name(std::string_view n) {
  static const std::pair<std::string_view, int> kSignals[] = {
      {"INT", SIGINT},   {"TERM", SIGTERM},  {"HUP", SIGHUP},   {"QUIT", SIGQUIT},
      {"KILL", SIGKILL}, {"TSTP", SIGTSTP},  {"CONT", SIGCONT}, {"USR1", SIGUSR1},
      {"USR2", SIGUSR2}, {"WINCH", SIGWINCH}};
  if (n.starts_with("SIG")) n.remove_prefix(3);
  for (auto& [name, sig] : kSignals)
    if (name == n) return sig;
  return 0;
}

Result<Control> parse_control(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return fail(Error::invalid("control", "not a JSON object"));
  auto type = j.find("type");
  if (type == j.end() || !type->is_string())
    return fail(Error::invalid("type", "type must be a string"));
  const auto& t = type->get_ref<const std::string&>();
  Control c;
  if (t == "resize") {
    auto cols = cells(j, "cols"), rows = cells(j, "rows");
    if (!cols || !rows)
      return fail(Error::invalid("cols", "cols and rows must be integers in 1..1000"));
    c.kind = Control::Kind::kResize;
    c.cols = *cols;
    c.rows = *rows;
    return c;
  }
  if (t == "signal") {
    auto name = j.find("name");
    int sig = name != j.end() && name->is_string()
                  ? signal_from_name(name->get_ref<const std::string&>())
                  : 0;
    if (sig <= 0) return fail(Error::invalid("name", "unknown signal"));
    c.kind = Control::Kind::kSignal;
    c.signal = sig;
    return c;
  }
  return fail(Error::invalid("type", "unknown control message"));
}

}  // namespace zlh::agent::console
