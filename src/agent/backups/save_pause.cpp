#include "agent/backups/save_pause.hpp"

#include "agent/game/ready.hpp"
#include "base/log.hpp"

namespace zlh::agent::backups {

using namespace std::chrono_literals;

namespace {
constexpr std::string_view kComponent = "backups";

// Reads output until `saved` matches, the console fails or the deadline.
Result<void> wait_saved(GameConsole& c, game::ReadyMatcher& m, const catalog::BackupSpec& spec,
                        const std::atomic<bool>* cancel) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(spec.timeout_s);
  while (!m.matched()) {
    if (cancel != nullptr && cancel->load()) return fail(codes::kInternal, "cancelled");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms)
      return fail(codes::kTimeout, "the server did not print /" + spec.saved + "/ within " +
                                       std::to_string(spec.timeout_s) + " s after \"" +
                                       spec.pause.back() + "\"");
    auto out = c.read_output(std::min<std::chrono::milliseconds>(left, 250ms));
    if (!out) {
      if (out.error().is(codes::kTimeout)) continue;
      return fail(std::move(out.error()).wrap("waiting for the save"));
    }
    m.feed(*out);
  }
  return {};
}

// Steps 1-3 of the header.
Result<void> pause_steps(GameConsole& c, const catalog::BackupSpec& spec,
                         const std::atomic<bool>* cancel) {
  auto m = game::ReadyMatcher::make(spec.saved);
  if (!m) return fail(m.error());
  if (auto r = c.attach(); !r) return r;
  for (size_t i = 0; i + 1 < spec.pause.size(); ++i)
    if (auto r = c.send_line(spec.pause[i]); !r) return r;
  // Output so far answers the earlier commands: it does not count.
  while (true) {
    auto out = c.read_output(0ms);
    if (!out) {
      if (out.error().is(codes::kTimeout)) break;
      return fail(out.error());
    }
  }
  if (auto r = c.send_line(spec.pause.back()); !r) return r;
  return wait_saved(c, *m, spec, cancel);
}
}  // namespace

Result<void> PausedSaves::resume() {
  if (resumed_) return {};
  resumed_ = true;
  console_->detach();
  Result<void> first;
  for (const auto& cmd : spec_.resume) {
    auto r = console_->send_line(cmd);
    if (!r && first) first = fail(r.error());
  }
  if (!first)
    log::error(kComponent, "cannot resume saving", {{"error", first.error().to_string()}});
  return first;
}

Result<std::unique_ptr<PausedSaves>> pause_saves(std::unique_ptr<GameConsole> console,
                                                 const catalog::BackupSpec& spec,
                                                 const std::atomic<bool>* cancel) {
  auto* c = console.get();
  auto paused = std::make_unique<PausedSaves>(std::move(console), spec);
  if (auto r = pause_steps(*c, spec, cancel); !r) {
    (void)paused->resume();  // step 5 also when 1-3 failed
    return fail(std::move(r.error()).wrap("pause saving"));
  }
  c->detach();
  return paused;
}

}  // namespace zlh::agent::backups
