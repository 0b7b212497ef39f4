// Audit entries written off the caller's thread (docs/activity.md): the
// relays learn what happened on an I/O thread (a file write's status from
// the agent, a line typed into a game console), where a SQLite write must
// not wait. record() queues the entry and returns at once; one thread of
// the Recorder's own appends the entries in order.
//
// Policy (STYLE §9, the producer never blocks): at most `max_queue` entries
// wait; beyond that an entry is dropped and counted (dropped()), never
// queued behind a slow disk. A failed append is logged and dropped too: the
// activity log is a record, not a transaction.
//
// Lifetime: the Recorder owns its thread; stop() (or the destructor) writes
// what is queued and joins it. The store must outlive the Recorder.
// Thread-safety: record(), flush() and dropped() from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>

#include "api/store/store.hpp"

namespace zlh::api::activity {

class Recorder {
 public:
  explicit Recorder(store::Store& store, size_t max_queue = 1024);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Queues `entry`; false (dropped) when the queue is full or after stop().
  bool record(store::NewAuditEntry entry);
  // Waits until everything queued before the call is written (tests, shutdown).
  void flush();
  // Writes what is queued, then refuses new entries. Repeatable.
  void stop();
  uint64_t dropped() const;

 private:
  void run();

  store::Store& store_;
  const size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<store::NewAuditEntry> queue_;
  bool writing_ = false;
  bool stopped_ = false;
  uint64_t dropped_ = 0;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace zlh::api::activity
