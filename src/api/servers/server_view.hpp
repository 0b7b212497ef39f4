// The JSON a client sees for a server (GET /api/servers, GET /api/servers/{id},
// the 202 of POST /api/servers), written straight into a string.
//
// Why a writer and not a nlohmann::json tree: GET /api/servers for a user
// with 1,000 servers spent ~80% of its time building, dumping and freeing
// the tree (~26,000 nodes); writing the text directly makes the list a few
// times cheaper (bench/api.sh). The tree form, when a caller needs one, is
// parsed from the same text, so there is one definition of the document.
//
// Document (keys in this order, which is also the sorted order a
// nlohmann::json object would dump):
//   {"agent_last_seen": ISO-8601 UTC (seconds) | null, "agent_state": string,
//    "crash_count": int, "created_at": ISO, "error": string | null (empty →
//    null), "hostname", "id", "ide_url": "/dev/<vmid>/ide/" | null (dev
//    servers with enable_code_server and a vmid), "install_step", "ip",
//    "name", "ports": [int], "progress": number, "spec": the stored payload
//    object ({} when it is not one), "state", "stats": {"cpu_ratio":
//    number | null, "memory_bytes": int, "memory_limit": int | null} |
//    null (the live sampler's latest sample; null: none), "type",
//    "updated_at", "vmid": int | null}
// Strings are escaped as JSON requires; bytes that are not valid UTF-8 become
// U+FFFD, so the output is always valid UTF-8 JSON.
//
// Thread-safety: any thread. The answer depends only on the arguments; a
// small process-wide memo (payload text → facts, bounded) sits behind it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/store/types.hpp"

namespace zlh::api {

// "2026-11-24T10:00:00Z" (whole seconds, UTC).
std::string iso_time(store::Time t);

// A job as GET /api/jobs/{id} shows it: {id, server_id, kind, state, error
// (null when none), steps [{name, state, detail, started_at, finished_at}],
// created_at, updated_at}.
nlohmann::json job_json(const store::Job& j);

// The "stats" member: headline figures of the latest live sample
// (api/stats), given by the caller so this stays pure.
struct StatsBrief {
  std::optional<double> cpu_ratio;
  uint64_t memory_bytes = 0;
  uint64_t memory_limit = 0;  // 0: unknown → null
};

// Appends the server's document to `out`.
void append_server_json(std::string& out, const store::Server& s,
                        const std::optional<StatsBrief>& stats = std::nullopt);

// {"servers":[…]}, in the order given; `stats`, when not empty, holds
// each server's, in the same order.
std::string server_list_json(const std::vector<store::Server>& servers,
                             const std::vector<std::optional<StatsBrief>>& stats = {});

// The same document as a tree.
nlohmann::json server_json(const store::Server& s,
                           const std::optional<StatsBrief>& stats = std::nullopt);

}  // namespace zlh::api
