// server.properties merge (agent/game/properties.hpp): the existing file a
// user may have edited, merged with a game payload's "properties".
//
// Input: the existing file, a NUL byte, then the payload's "properties"
// object as JSON. The object goes through the real payload validation
// (validate_payload of a minimal game payload), so only keys and values the
// agent would accept are merged with invariants checked; anything else is
// merged with an empty set.
//
// Invariants: every merged key reads back (get_property, which unescapes
// like java.util.Properties.load) as the payload's text, for values that
// are valid UTF-8; keys the payload does not set keep the value they had;
// merging the result again changes nothing.
#include <nlohmann/json.hpp>
#include <set>

#include "agent/game/properties.hpp"
#include "fuzz_input.hpp"
#include "proto/payload.hpp"

namespace game = zlh::agent::game;

namespace {

// Keys as a file spells them plainly ("key=value", "key: value", "key value").
std::set<std::string> plain_keys(std::string_view text) {
  std::set<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find_first_of("\r\n", start);
    std::string_view line = text.substr(start, end == std::string_view::npos ? end : end - start);
    size_t i = line.find_first_not_of(" \t\f");
    if (i != std::string_view::npos && line[i] != '#' && line[i] != '!') {
      size_t j = line.find_first_of("=: \t\f\\", i);
      out.emplace(line.substr(i, j == std::string_view::npos ? j : j - i));
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zlh::fuzz::Input in(data, size);
  std::string_view existing = in.until(std::string_view("\0", 1));
  std::string_view props_text = in.rest();

  game::PropertyList set;
  bool checked = false;
  auto props = nlohmann::json::parse(props_text, nullptr, false);
  if (!props.is_discarded()) {
    nlohmann::json payload = {{"vmid", 1},          {"container_type", "game"},
                              {"version", "1.21"},  {"game", "minecraft"},
                              {"variant", "paper"}, {"eula", true},
                              {"properties", props}};
    if (auto p = zlh::payload::validate_payload(payload, 1)) {
      for (auto it = p->properties.begin(); it != p->properties.end(); ++it)
        set.emplace_back(it.key(), game::property_text(*it));
      checked = true;
    }
  }

  std::string merged = game::merge_properties(existing, set);
  (void)game::get_property(existing, "motd");
  if (!checked) return 0;

  std::set<std::string> set_keys;
  for (const auto& [k, v] : set) {
    set_keys.insert(k);
    if (!zlh::fuzz::strict_utf8(v)) continue;
    auto got = game::get_property(merged, k);
    ZLH_FUZZ_CHECK(got && *got == v, "key " + k + "\n--- merged:\n" + merged);
  }
  for (const auto& k : plain_keys(existing)) {
    if (set_keys.contains(k)) continue;
    ZLH_FUZZ_CHECK(game::get_property(merged, k) == game::get_property(existing, k),
                   "untouched key " + k + "\n--- merged:\n" + merged);
  }
  ZLH_FUZZ_CHECK(game::merge_properties(merged, set) == merged,
                 "not idempotent\n--- merged:\n" + merged);
  return 0;
}
