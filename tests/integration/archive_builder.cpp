#include "archive_builder.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/sysmacros.h>

#include <cstring>
#include <random>
#include <stdexcept>

namespace zlh::testing {

void write_archive(const std::string& path, const std::vector<ArchiveEntry>& entries, bool gzip) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip) archive_write_add_filter_gzip(a);
  if (archive_write_open_filename(a, path.c_str()) != ARCHIVE_OK)
    throw std::runtime_error(archive_error_string(a));
  for (const auto& e : entries) {
    archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.path.c_str());
    archive_entry_set_perm(ae, e.mode);
    archive_entry_set_mtime(ae, 1'700'000'000, 0);
    switch (e.kind) {
      case ArchiveEntry::kFile:
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_size(ae, la_int64_t(e.content.size()));
        break;
      case ArchiveEntry::kDir:
        archive_entry_set_filetype(ae, AE_IFDIR);
        break;
      case ArchiveEntry::kSymlink:
        archive_entry_set_filetype(ae, AE_IFLNK);
        archive_entry_set_symlink(ae, e.content.c_str());
        break;
      case ArchiveEntry::kHardlink:
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_hardlink(ae, e.content.c_str());
        archive_entry_set_size(ae, 0);
        break;
      case ArchiveEntry::kCharDevice:
        archive_entry_set_filetype(ae, AE_IFCHR);
        archive_entry_set_rdev(ae, makedev(1, 3));
        break;
      case ArchiveEntry::kFifo:
        archive_entry_set_filetype(ae, AE_IFIFO);
        break;
    }
    if (archive_write_header(a, ae) != ARCHIVE_OK)
      throw std::runtime_error(archive_error_string(a));
    if (e.kind == ArchiveEntry::kFile && !e.content.empty())
      archive_write_data(a, e.content.data(), e.content.size());
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
}

std::string random_bytes(size_t bytes, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string out(bytes, '\0');
  for (size_t i = 0; i + 8 <= bytes; i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  return out;
}

}  // namespace zlh::testing
