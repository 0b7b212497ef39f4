#include "http/file_source.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace zlh::http {

Result<size_t> FileSource::read(char* buf, size_t cap) {
  size_t want = size_t(std::min<uint64_t>(cap, left_));
  if (want == 0) return size_t(0);
  for (;;) {
    ssize_t n = ::pread(fd_.get(), buf, want, off_t(pos_));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(Error::from_errno("read", errno));
    if (n == 0) return fail(codes::kIo, "file shrank while it was sent");
    pos_ += uint64_t(n);
    left_ -= uint64_t(n);
    return size_t(n);
  }
}

}  // namespace zlh::http
