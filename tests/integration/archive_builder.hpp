// Writes test archives (tar.gz, or plain tar) with libarchive, including
// hostile entries that tar(1) would refuse to create.
#pragma once

#include <string>
#include <vector>

namespace zlh::testing {

struct ArchiveEntry {
  enum Kind { kFile, kDir, kSymlink, kHardlink, kCharDevice, kFifo } kind = kFile;
  std::string path;
  std::string content;  // file content, or link target
  int mode = 0644;
  static ArchiveEntry file(std::string p, std::string c, int mode = 0644) {
    return {kFile, std::move(p), std::move(c), mode};
  }
  static ArchiveEntry dir(std::string p) { return {kDir, std::move(p), {}, 0755}; }
  static ArchiveEntry symlink(std::string p, std::string t) {
    return {kSymlink, std::move(p), std::move(t), 0777};
  }
  static ArchiveEntry hardlink(std::string p, std::string t) {
    return {kHardlink, std::move(p), std::move(t), 0644};
  }
};

// gzip = false writes an uncompressed tar. Throws on failure.
void write_archive(const std::string& path, const std::vector<ArchiveEntry>& entries,
                   bool gzip = true);
// A file of `bytes` pseudo-random (incompressible) bytes at `path` inside an archive entry list.
std::string random_bytes(size_t bytes, unsigned seed);

}  // namespace zlh::testing
