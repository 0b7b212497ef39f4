// The scheduler's real tasks (scheduler.hpp, agent_tasks): the container's
// agent for power and console commands, the backup service for backups.
#include <string>

#include "api/jobs/agent_client.hpp"
#include "api/schedules/scheduler.hpp"

namespace zlh::api::schedules {
namespace {

using nlohmann::json;

// The agent's error body {"error":{"code","message"}} as an Error; any
// other answer as E_UPSTREAM with its status.
Error agent_error(const http::ClientResponse& r, const std::string& what) {
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const json& e = j["error"];
    auto code = parse_code(e.value("code", ""));
    return Error::make(code.value_or(codes::kUpstream),
                       "agent " + what + ": " + e.value("message", "no message"));
  }
  return Error::make(codes::kUpstream,
                     "agent " + what + " answered HTTP " + std::to_string(r.status));
}

Result<json> call_agent(const AgentClient& agents, const store::Server& s, const std::string& path,
                        std::string body, std::chrono::milliseconds timeout) {
  if (!s.vmid || s.ip.empty())
    return fail(codes::kConflict, "the server has no running container yet");
  auto r = agents.call(s.ip, *s.vmid, "POST", path, std::move(body), timeout);
  if (!r) return fail(r.error());
  if (r->status < 200 || r->status > 299) return fail(agent_error(*r, path));
  return json::object();
}

}  // namespace

TaskFn agent_tasks(const AgentClient& agents, const StartBackupFn& start_backup) {
  return [&agents, &start_backup](const store::Server& server, const Task& task,
                                  const store::Schedule& schedule) -> Result<json> {
    switch (task.action) {
      case TaskAction::kPower: {
        std::string path = "/";  // appended, not "/" + s: GCC 12's -Wrestrict misfires
        path += task.payload.value_or("");
        // A graceful stop may take its time (the agent's stop timeout).
        return call_agent(agents, server, path, {}, std::chrono::minutes(2));
      }
      case TaskAction::kCommand:
        return call_agent(agents, server, "/console/command",
                          json{{"command", task.payload.value_or("")}}.dump(),
                          std::chrono::seconds(15));
      case TaskAction::kBackup: {
        if (!start_backup) return fail(codes::kUnavailable, "backups are not configured");
        std::string name = task.payload.value_or("");
        if (name.empty()) name = "scheduled: " + schedule.name.substr(0, 40);
        auto job = start_backup(server, std::move(name));
        if (!job) return fail(job.error());
        return json{{"job", *job}};
      }
    }
    return fail(codes::kInternal, "unknown task action");
  };
}

}  // namespace zlh::api::schedules
