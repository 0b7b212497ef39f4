#include "shim/ring.hpp"

#include <algorithm>
#include <cstring>

namespace zlh::shim {

Ring::Ring(size_t capacity) : buf_(std::max(capacity, kMinCapacity)) {}

void Ring::append(std::string_view data) {
  total_ += data.size();
  const size_t cap = buf_.size();
  // Only the tail of an oversized write can survive; skip the rest.
  if (data.size() >= cap) {
    std::memcpy(buf_.data(), data.data() + (data.size() - cap), cap);
    head_ = 0;
    size_ = cap;
    return;
  }
  size_t first = std::min(data.size(), cap - head_);
  std::memcpy(buf_.data() + head_, data.data(), first);
  std::memcpy(buf_.data(), data.data() + first, data.size() - first);
  head_ = (head_ + data.size()) % cap;
  size_ = std::min(cap, size_ + data.size());
}

std::string Ring::snapshot() const {
  const size_t cap = buf_.size();
  size_t start = (head_ + cap - size_) % cap;
  std::string out;
  out.reserve(size_);
  size_t first = std::min(size_, cap - start);
  out.append(buf_.data() + start, first);
  out.append(buf_.data(), size_ - first);
  return out;
}

}  // namespace zlh::shim
