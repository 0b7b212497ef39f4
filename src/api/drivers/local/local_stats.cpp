#include "api/drivers/local/local_stats.hpp"

#include <unistd.h>

#include <charconv>
#include <string>

#include "base/fs.hpp"

namespace zlh::api::drivers {

std::optional<ProcUsage> parse_proc_stat(std::string_view stat) {
  auto close = stat.rfind(')');
  if (close == stat.npos) return std::nullopt;
  std::string_view rest = stat.substr(close + 1);
  // rest starts at field 3 (state); field k is token k-3.
  ProcUsage u;
  int field = 2;
  size_t i = 0;
  while (i < rest.size() && field < 24) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    size_t j = rest.find(' ', i);
    if (j == rest.npos) j = rest.size();
    if (i == j) break;
    ++field;
    std::string_view tok = rest.substr(i, j - i);
    if (field == 14 || field == 15 || field == 20 || field == 24) {
      uint64_t v = 0;
      auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
      if (ec != std::errc() || end != tok.data() + tok.size()) return std::nullopt;
      if (field == 24)
        u.rss_pages = v;
      else if (field == 20)
        u.threads = v;
      else
        u.cpu_ticks += v;
    }
    i = j;
  }
  if (field < 24) return std::nullopt;
  return u;
}

TreeUsage tree_usage(const std::vector<ProcessHandle>& procs) {
  static const uint64_t tick_hz = uint64_t(::sysconf(_SC_CLK_TCK));
  static const uint64_t page = uint64_t(::sysconf(_SC_PAGESIZE));
  TreeUsage t;
  for (const auto& p : procs) {
    auto stat = fs::read_file("/proc/" + std::to_string(p.pid()) + "/stat", 4096);
    if (!stat) continue;
    auto u = parse_proc_stat(*stat);
    // Read after the stat: the numbers above were the handle's process.
    if (!u || !p.alive()) continue;
    t.cpu_ns += u->cpu_ticks * (1'000'000'000ull / tick_hz);
    t.memory_bytes += u->rss_pages * page;
    t.pids += u->threads;
  }
  return t;
}

}  // namespace zlh::api::drivers
