// The consistency dance of a backup of a running game server
// (docs/backups.md), driven by the catalog entry's backup block:
//
//   1. attach to the console (output from now on only);
//   2. send every `pause` command in order; before the last one, drop the
//      output that arrived so far, so `saved` is searched only in lines
//      printed after the last pause command was sent;
//   3. wait for a line matching `saved` (ECMAScript regex on lines with the
//      terminal codes removed, game/ready.hpp) for at most timeout_s;
//   4. detach: the archive is made while saves are off;
//   5. send every `resume` command — always, whatever happened in 2-4 and
//      whatever happens to the archive (PausedSaves' destructor).
//
// pause_saves() returns a PausedSaves that owns step 5; on failure it has
// already sent the resume commands itself: E_TIMEOUT when `saved` did not
// show in time, E_UNAVAILABLE when the server's console went away,
// E_INVALID for a `saved` pattern that does not compile, E_INTERNAL
// "cancelled" when `cancel` became true.
//
// Thread-safety: the calls block (console I/O); one thread at a time per
// console.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "agent/backups/game_console.hpp"
#include "proto/catalog.hpp"

namespace zlh::agent::backups {

// Sends the resume commands exactly once: at resume() or destruction.
class PausedSaves {
 public:
  PausedSaves(std::unique_ptr<GameConsole> console, catalog::BackupSpec spec)
      : console_(std::move(console)), spec_(std::move(spec)) {}
  ~PausedSaves() { (void)resume(); }
  PausedSaves(const PausedSaves&) = delete;
  PausedSaves& operator=(const PausedSaves&) = delete;

  // Sends every resume command (also after a failed one); the first error.
  // Later calls do nothing.
  Result<void> resume();

 private:
  std::unique_ptr<GameConsole> console_;
  catalog::BackupSpec spec_;
  bool resumed_ = false;
};

Result<std::unique_ptr<PausedSaves>> pause_saves(std::unique_ptr<GameConsole> console,
                                                 const catalog::BackupSpec& spec,
                                                 const std::atomic<bool>* cancel = nullptr);

}  // namespace zlh::agent::backups
