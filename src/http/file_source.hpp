// An http::BodySource over a byte range of an open file: how the agent's
// /files/read and /files/download and zlh-api's static routes (/artifacts/,
// the portal) send files without holding them in memory.
// Owns the fd (closed with the source). read() uses pread, so the file
// offset is never shared state; a file that shrinks under the range ends the
// response with E_IO (the server then closes the connection).
#pragma once

#include <cstdint>

#include "base/safe_path.hpp"
#include "http/http.hpp"

namespace zlh::http {

class FileSource : public BodySource {
 public:
  FileSource(safe_path::UniqueFd fd, uint64_t offset, uint64_t length)
      : fd_(std::move(fd)), pos_(offset), left_(length) {}
  Result<size_t> read(char* buf, size_t cap) override;

 private:
  safe_path::UniqueFd fd_;
  uint64_t pos_, left_;
};

}  // namespace zlh::http
