// Wall-clock seconds since the epoch: token iat/exp, ticket expiry, audit
// times. Thread-safety: pure.
#pragma once

#include <chrono>
#include <cstdint>

namespace zlh {

inline int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace zlh
