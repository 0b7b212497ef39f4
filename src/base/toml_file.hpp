// Reading a TOML configuration file (toml++), with the errors every zlh
// config file reports the same way.
//
// Thread-safety: any thread; nothing is shared.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>

#include "base/error.hpp"

namespace zlh::config {

// Parses the file at `path`. `label` names the file in messages, e.g.
// "config" or "proxmox config". E_NOT_FOUND "<label> <path>: no such file"
// when it cannot be stat'ed; E_INVALID (field `field`) "<label>
// <path>:<line>:<column>: <what>" when it does not parse.
Result<toml::table> load_toml_file(const std::string& path, std::string_view field,
                                   std::string_view label);

}  // namespace zlh::config
