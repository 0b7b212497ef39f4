// Archive extraction (agent/runtimes/extract.hpp: extract_archive), as the
// agent unpacks runtime, addon and game artifacts and mods: tar, zip, cpio
// and 7zip, plain or compressed, with entries that try to leave the
// destination (absolute names, "..", symlinks and hard links chained
// through each other).
//
// Input: the first byte picks strip_components (0..2); the rest is the
// archive, written to a file next to the destination.
//
// Invariants: whatever the archive holds and however extraction ends,
// nothing next to the destination changes (the base holds only the archive,
// dest/ and outside/; outside/ only its secret, with one link and its
// content); refusals carry the codes the header lists; after a success no
// symlink in dest/ resolves outside it, none is absolute, and there are no
// devices, FIFOs or sockets. dest/ is removed after each input
// (remove_tree) and must then be gone.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "agent/runtimes/extract.hpp"
#include "base/remove_tree.hpp"
#include "fuzz_input.hpp"
#include "fuzz_tree.hpp"

namespace fs = std::filesystem;
namespace rt = zlh::agent::runtimes;

namespace {

std::string g_base, g_dest, g_outside, g_archive;

void write_file(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || ::write(fd, data.data(), data.size()) != ssize_t(data.size()))
    zlh::fuzz::broken("write", path);
  ::close(fd);
}

void check_outside_untouched() {
  ZLH_FUZZ_CHECK((zlh::fuzz::names(g_base) == std::set<std::string>{"archive", "dest", "outside"}),
                 "the base changed");
  zlh::fuzz::check_secret_untouched(g_outside);
}

// After a success: every symlink stays inside dest/, nothing but files, dirs and links.
void check_tree() {
  const fs::path dest = fs::canonical(g_dest);
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(g_dest, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    ZLH_FUZZ_CHECK(::lstat(it->path().c_str(), &st) == 0, it->path().string());
    ZLH_FUZZ_CHECK(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode),
                   it->path().string());
    ZLH_FUZZ_CHECK((st.st_mode & (S_ISUID | S_ISGID)) == 0, it->path().string());
    if (!S_ISLNK(st.st_mode)) continue;
    auto target = fs::read_symlink(it->path());
    ZLH_FUZZ_CHECK(!target.is_absolute(), it->path().string() + " -> " + target.string());
    // As the kernel would resolve it, missing parts taken lexically.
    auto resolved = fs::weakly_canonical(it->path(), ec);
    if (ec) continue;  // a loop among links inside: nothing outside is reached
    auto rel = resolved.lexically_relative(dest);
    ZLH_FUZZ_CHECK(!rel.empty() && *rel.begin() != "..",
                   it->path().string() + " resolves to " + resolved.string());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_base = zlh::fuzz::scratch_dir("extract");
  g_dest = g_base + "/dest";
  g_outside = g_base + "/outside";
  g_archive = g_base + "/archive";
  fs::create_directories(g_outside);
  write_file(g_outside + "/secret", "secret");
  std::atexit([] { (void)zlh::fs::remove_tree(g_base, {.missing_ok = true}); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zlh::fuzz::Input in(data, size);
  rt::ExtractOptions opts;
  opts.strip_components = in.front_byte() % 3;
  opts.max_total_bytes = 4 << 20;  // decompression bombs stop here, not in RAM or on disk
  opts.max_entries = 1000;
  write_file(g_archive, in.rest());
  fs::create_directory(g_dest);

  auto r = rt::extract_archive(g_archive, g_dest, opts);
  if (!r) {
    const auto& e = r.error();
    ZLH_FUZZ_CHECK(e.is(zlh::codes::kBadArchive) || e.is(zlh::codes::kIo), e.to_string());
  }
  check_outside_untouched();
  if (r) check_tree();

  auto rm = zlh::fs::remove_tree(g_dest, {.missing_ok = true});
  ZLH_FUZZ_CHECK(rm, rm.error().to_string());
  ZLH_FUZZ_CHECK(!fs::exists(fs::symlink_status(g_dest)), "dest/ still there after remove_tree");
  ZLH_FUZZ_CHECK((zlh::fuzz::names(g_outside) == std::set<std::string>{"secret"}),
                 "remove_tree reached outside/");
  return 0;
}
