// Configuration: command-line flags (CLI11) with a TOML file (toml++) under them.
//
// Precedence: flag given on the command line > key in the TOML file > default.
// Every long option "--foo-bar" can be set in TOML as `foo-bar` or `foo_bar`
// at the top level. Unknown keys are errors (a typo must not pass silently),
// so are values of the wrong type (tables, arrays).
//
// Thread-safety: call at start-up only.
#pragma once

#include <string>

#include "base/error.hpp"

namespace CLI {
class App;
}

namespace zlh::config {

// Applies `path` to options of `app` that were not given on the command line
// and re-runs their callbacks. When the file does not exist: E_NOT_FOUND if
// `required`, else nothing happens. Parse errors are E_INVALID with
// file:line:column; unknown keys are E_INVALID naming the key.
Result<void> apply_toml(CLI::App& app, const std::string& path, bool required);

}  // namespace zlh::config
