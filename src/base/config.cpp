#include "base/config.hpp"

#include <CLI/CLI.hpp>

#include "base/toml_file.hpp"

namespace zlh::config {

Result<void> apply_toml(CLI::App& app, const std::string& path, bool required) {
  auto loaded = load_toml_file(path, "config", "config");
  if (!loaded) {
    if (!required && loaded.error().is(codes::kNotFound)) return {};
    return fail(std::move(loaded.error()));
  }
  toml::table& tbl = *loaded;
  for (auto&& [k, v] : tbl) {
    std::string key(k.str());
    std::string flag = key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    CLI::Option* opt = nullptr;
    try {
      opt = app.get_option("--" + flag);
    } catch (const CLI::OptionNotFound&) {
      opt = nullptr;
    }
    if (!opt)
      return std::unexpected(
          Error::invalid(key, "config " + path + ": unknown key \"" + key + "\""));
    if (opt->count() > 0) continue;  // the command line wins
    std::string value;
    if (auto s = v.value<std::string>(); s && v.is_string())
      value = *s;
    else if (auto i = v.value<int64_t>(); i && v.is_integer())
      value = std::to_string(*i);
    else if (auto b = v.value<bool>(); b && v.is_boolean())
      value = *b ? "true" : "false";
    else if (auto d = v.value<double>(); d && v.is_floating_point())
      value = std::to_string(*d);
    else
      return std::unexpected(Error::invalid(
          key, "config " + path + ": key \"" + key + "\" must be a string, number or boolean"));
    try {
      opt->add_result(value);
      opt->run_callback();
    } catch (const CLI::Error& e) {
      return std::unexpected(
          Error::invalid(key, "config " + path + ": key \"" + key + "\": " + e.what()));
    }
  }
  return {};
}

}  // namespace zlh::config
