// Which file or mod change a relayed request is, for the server's activity
// log (docs/activity.md). Pure functions; the relay records the entry when
// the agent answered 2xx.
//
//   PUT  files/write?path=P        files.write   {"path":P}
//   POST files/upload?path=D       files.upload  {"path":D}
//   POST files/mkdir {path}        files.mkdir   {"path"}
//   POST files/rename {from,to}    files.rename  {"path":from,"to":to}
//   POST files/delete {paths}      files.delete  {"paths":[first 20],"count":n}
//   POST mods/install              mods.install  {}
//   POST mods/{id}/enable|disable  mods.enable|mods.disable {"id"}
//   DELETE mods/{id}               mods.delete   {"id"}
// Strings in the detail are cut to 1024 bytes. Reads (GET, HEAD) and
// anything else are not changes (nullopt).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace zlh::api::relay {

struct FileChange {
  std::string action;  // "files.write", "mods.delete", ...
  nlohmann::json detail = nlohmann::json::object();
};

// `rest` is the path after "/api/servers/{id}/" ("files/write", "mods/x/enable");
// `path_param` the request's ?path= (decoded), if any.
std::optional<FileChange> streamed_change(std::string_view method, std::string_view rest,
                                          std::optional<std::string> path_param);

// The JSON operations, from the request body the agent accepted; `op` is
// "mkdir", "rename" or "delete". A body that is not an object gives an
// empty detail.
FileChange json_op_change(std::string_view op, std::string_view body);

}  // namespace zlh::api::relay
