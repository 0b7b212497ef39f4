// A steady clock read from the kernel's tick (CLOCK_MONOTONIC_COARSE): a
// load through the vDSO, no TSC read, with the tick's resolution (1–4 ms).
// For deadlines, idle limits and cache lifetimes on hot paths; never for
// durations that are reported (those use std::chrono::steady_clock). Its
// own time_point type keeps the two clocks from being mixed.
#pragma once

#include <time.h>

#include <chrono>

namespace zlh {

struct CoarseClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<CoarseClock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
  }
};

}  // namespace zlh
