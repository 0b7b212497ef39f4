#include "base/toml_file.hpp"

#include <sys/stat.h>

namespace zlh::config {

Result<toml::table> load_toml_file(const std::string& path, std::string_view field,
                                   std::string_view label) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return fail(codes::kNotFound, std::string(label) + " " + path + ": no such file");
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    return std::unexpected(Error::invalid(
        std::string(field), std::string(label) + " " + path + ":" + std::to_string(b.line) + ":" +
                                std::to_string(b.column) + ": " + std::string(e.description())));
  }
}

}  // namespace zlh::config
