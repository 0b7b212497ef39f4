// Scrollback ring: the newest `capacity` bytes of a service's output.
//
// The shim appends every byte read from the service's PTY/pipe; a client
// that attaches first receives snapshot(), then the live output, so what the
// service printed while nobody (not even the agent) was attached is not lost.
//
// Memory is allocated once in the constructor; append() never reallocates
// and costs O(bytes appended) (at most `capacity` bytes are copied even for
// a larger write). Old bytes are overwritten silently: the ring is a window,
// not a log.
//
// Thread-safety: none; the shim's event loop is single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace zlh::shim {

class Ring {
 public:
  static constexpr size_t kMinCapacity = 64 * 1024;
  static constexpr size_t kDefaultCapacity = 256 * 1024;

  // Capacities below kMinCapacity are raised to it (docs/design.md §7: the
  // scrollback is at least 64 KiB).
  explicit Ring(size_t capacity = kDefaultCapacity);

  void append(std::string_view data);

  // The kept bytes, oldest first; at most capacity() bytes.
  std::string snapshot() const;

  size_t size() const { return size_; }
  size_t capacity() const { return buf_.size(); }
  // Every byte ever appended, including those overwritten since.
  uint64_t total_written() const { return total_; }

 private:
  std::vector<char> buf_;
  size_t head_ = 0;  // where the next byte goes
  size_t size_ = 0;
  uint64_t total_ = 0;
};

}  // namespace zlh::shim
