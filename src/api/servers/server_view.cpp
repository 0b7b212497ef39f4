#include "api/servers/server_view.hpp"

#include <charconv>
#include <cmath>
#include <ctime>
#include <mutex>
#include <unordered_map>

#include "base/json_text.hpp"

namespace zlh::api {

namespace {

void append_int(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// Like nlohmann::json's dump of a double: shortest round-trip form, ".0"
// on integral values, null for NaN and infinities.
void append_double(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  std::string_view s(buf, size_t(end - buf));
  out += s;
  if (s.find_first_of(".e") == std::string_view::npos) out += ".0";
}

void append_time(std::string& out, const std::optional<store::Time>& t) {
  if (!t) {
    out += "null";
    return;
  }
  out += '"';
  out += iso_time(*t);
  out += '"';
}

// What the document needs from a stored payload: whether it is a JSON
// object (then it goes out verbatim as "spec") and its top-level
// enable_code_server. Parsing it was a third of the list's cost, and many
// servers carry the same payload text, so the answer is memoized per text.
// Bounded: the memo is emptied when it reaches kMemoMax texts.
struct PayloadFacts {
  bool object = false;
  bool code_server = false;
};
constexpr size_t kMemoMax = 4096;

PayloadFacts payload_facts(const std::string& text) {
  static std::mutex mu;
  static std::unordered_map<std::string, PayloadFacts> memo;
  {
    std::lock_guard lk(mu);
    if (auto it = memo.find(text); it != memo.end()) return it->second;
  }
  auto p = nlohmann::json::parse(text, nullptr, false);
  PayloadFacts f;
  f.object = !p.is_discarded() && p.is_object();
  f.code_server = f.object && p.value("enable_code_server", false);
  std::lock_guard lk(mu);
  if (memo.size() >= kMemoMax) memo.clear();
  memo.emplace(text, f);
  return f;
}

void key(std::string& out, std::string_view k, bool first = false) {
  if (!first) out += ',';
  out += '"';
  out += k;  // constant, needs no escaping
  out += "\":";
}

void append_stats(std::string& out, const std::optional<StatsBrief>& stats) {
  if (!stats) {
    out += "null";
    return;
  }
  out += "{\"cpu_ratio\":";
  if (stats->cpu_ratio)
    append_double(out, *stats->cpu_ratio);
  else
    out += "null";
  out += ",\"memory_bytes\":";
  append_int(out, int64_t(stats->memory_bytes));
  out += ",\"memory_limit\":";
  if (stats->memory_limit)
    append_int(out, int64_t(stats->memory_limit));
  else
    out += "null";
  out += '}';
}

}  // namespace

std::string iso_time(store::Time t) {
  std::time_t tt = store::Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void append_server_json(std::string& out, const store::Server& s,
                        const std::optional<StatsBrief>& stats) {
  const PayloadFacts facts = payload_facts(s.payload);
  const bool object = facts.object;
  const bool ide = s.type == store::ServerType::kDev && s.vmid && facts.code_server;

  out += '{';
  key(out, "agent_last_seen", true);
  append_time(out, s.agent_last_seen);
  key(out, "agent_state");
  json_text::append_string(out, s.agent_state);
  key(out, "crash_count");
  append_int(out, s.crash_count);
  key(out, "created_at");
  append_time(out, s.created_at);
  key(out, "error");
  if (s.error.empty())
    out += "null";
  else
    json_text::append_string(out, s.error);
  key(out, "hostname");
  json_text::append_string(out, s.hostname);
  key(out, "id");
  append_int(out, s.id);
  key(out, "ide_url");
  if (ide) {
    out += "\"/dev/";
    append_int(out, *s.vmid);
    out += "/ide/\"";
  } else {
    out += "null";
  }
  key(out, "install_step");
  json_text::append_string(out, s.install_step);
  key(out, "ip");
  json_text::append_string(out, s.ip);
  key(out, "last_exit");  // {code}|{signal}[, reason: "out of memory"], from the agent
  if (s.last_exit.empty() || s.last_exit.front() != '{')
    out += "null";
  else
    out += s.last_exit;  // JSON object text, checked when stored
  key(out, "name");
  json_text::append_string(out, s.name);
  key(out, "node");  // where it runs: "local" or the Proxmox node
  json_text::append_string(out, s.node);
  key(out, "ports");
  out += '[';
  for (size_t i = 0; i < s.ports.size(); ++i) {
    if (i) out += ',';
    append_int(out, s.ports[i]);
  }
  out += ']';
  key(out, "progress");
  append_double(out, s.progress);
  key(out, "spec");
  if (object)
    out += s.payload;
  else
    out += "{}";
  key(out, "state");
  json_text::append_string(out, to_string(s.state));
  key(out, "stats");
  append_stats(out, stats);
  key(out, "type");
  json_text::append_string(out, to_string(s.type));
  key(out, "updated_at");
  append_time(out, s.updated_at);
  key(out, "vmid");
  if (s.vmid)
    append_int(out, *s.vmid);
  else
    out += "null";
  out += '}';
}

std::string server_list_json(const std::vector<store::Server>& servers,
                             const std::vector<std::optional<StatsBrief>>& stats) {
  std::string out;
  size_t guess = 32;
  for (const auto& s : servers) guess += 420 + s.payload.size() + s.name.size() + s.error.size();
  out.reserve(guess);
  out += "{\"servers\":[";
  for (size_t i = 0; i < servers.size(); ++i) {
    if (i) out += ',';
    append_server_json(out, servers[i], i < stats.size() ? stats[i] : std::nullopt);
  }
  out += "]}";
  return out;
}

nlohmann::json server_json(const store::Server& s, const std::optional<StatsBrief>& stats) {
  std::string text;
  append_server_json(text, s, stats);
  return nlohmann::json::parse(text);
}

nlohmann::json job_json(const store::Job& j) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : j.steps)
    steps.push_back({{"name", s.name},
                     {"state", to_string(s.state)},
                     {"detail", s.detail},
                     {"started_at", s.started_at ? nlohmann::json(iso_time(*s.started_at))
                                                 : nlohmann::json(nullptr)},
                     {"finished_at", s.finished_at ? nlohmann::json(iso_time(*s.finished_at))
                                                   : nlohmann::json(nullptr)}});
  return {{"id", j.id},
          {"server_id", j.server_id},
          {"kind", to_string(j.kind)},
          {"state", to_string(j.state)},
          {"error", j.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(j.error)},
          {"steps", steps},
          {"created_at", iso_time(j.created_at)},
          {"updated_at", iso_time(j.updated_at)}};
}

}  // namespace zlh::api
