#include "agent/game/java_select.hpp"

namespace zlh::agent::game {

bool java_matches(std::string_view want, std::string_view version) {
  if (want.empty() || !version.starts_with(want)) return false;
  if (version.size() == want.size()) return true;
  char next = version[want.size()];
  return next == '.' || next == '-' || next == '+' || next == '_';
}

Result<std::string> select_java(const catalog::Catalog& cat, std::string_view want) {
  const catalog::Item* java = cat.runtime(kJavaRuntime);
  std::string have;
  const catalog::Entry* best = nullptr;
  if (java) {
    for (const auto& e : java->versions) {
      have += (have.empty() ? "" : ", ") + e.version;
      if (java_matches(want, e.version) &&
          (!best || catalog::compare_versions(e.version, best->version) > 0))
        best = &e;
    }
  }
  if (!best)
    return fail(codes::kNotFound,
                "the catalog has no java runtime matching \"" + std::string(want) + "\" (" +
                    (have.empty() ? std::string("no java runtime at all") : "it has " + have) +
                    ")");
  return best->version;
}

}  // namespace zlh::agent::game
