// zlh-local.json: what the local driver knows about one container, kept in
// <data>/containers/<vmid>/zlh-local.json (written atomically, mode 0600).
//
// It holds the spec the container was created/configured with (so start()
// needs nothing from the caller) and the identity of the running agent:
// pid + start time (field 22 of /proc/<pid>/stat) + the kernel's boot id, so
// a new API process finds the agent again and never mistakes a reused pid
// (or a pid from before a reboot) for it.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "api/drivers/driver.hpp"
#include "base/error.hpp"

namespace zlh::api::drivers {

struct LocalRecord {
  int vmid = 0;
  ContainerSpec spec;
  pid_t agent_pid = 0;            // 0: no agent was started since the last stop
  uint64_t agent_start_time = 0;  // /proc/<pid>/stat field 22 of agent_pid
  std::string boot_id;            // /proc/sys/kernel/random/boot_id at agent start
  std::string created_at;         // RFC 3339
};

std::string to_json(const LocalRecord& r);
// E_INVALID (naming the field) when `json` is not a record this version
// wrote: missing vmid/type, wrong types.
Result<LocalRecord> parse_record(std::string_view json);

}  // namespace zlh::api::drivers
