#include "agent/runtimes/extract.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/remove_tree.hpp"

namespace zlh::agent::runtimes {
namespace {

namespace stdfs = std::filesystem;

enum class Kind { kFile, kDir, kSymlink, kHardlink, kChar, kFifo };
enum class Format { kTarGz, kTar, kZip };

struct Entry {
  Kind kind;
  std::string path;
  std::string data;  // file content, or link target
  mode_t perm = 0644;
};

Entry file(std::string path, std::string data, mode_t perm = 0644) {
  return {Kind::kFile, std::move(path), std::move(data), perm};
}
Entry dir(std::string path, mode_t perm = 0755) { return {Kind::kDir, std::move(path), {}, perm}; }
Entry symlink(std::string path, std::string target) {
  return {Kind::kSymlink, std::move(path), std::move(target), 0777};
}
Entry hardlink(std::string path, std::string target) {
  return {Kind::kHardlink, std::move(path), std::move(target), 0644};
}

// Writes `entries` verbatim (no sanitizing: libarchive's writer stores
// absolute and ".." names as given) to `path`.
void write_archive(const std::string& path, const std::vector<Entry>& entries,
                   Format format = Format::kTarGz) {
  archive* a = archive_write_new();
  if (format == Format::kZip) {
    ASSERT_EQ(archive_write_set_format_zip(a), ARCHIVE_OK);
  } else {
    ASSERT_EQ(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    if (format == Format::kTarGz) {
      ASSERT_EQ(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    }
  }
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const auto& en : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, en.path.c_str());
    archive_entry_set_perm(e, en.perm);
    archive_entry_set_mtime(e, 1'700'000'000, 0);
    archive_entry_set_size(e, 0);
    switch (en.kind) {
      case Kind::kFile:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, la_int64_t(en.data.size()));
        break;
      case Kind::kDir:
        archive_entry_set_filetype(e, AE_IFDIR);
        break;
      case Kind::kSymlink:
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, en.data.c_str());
        break;
      case Kind::kHardlink:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, en.data.c_str());
        break;
      case Kind::kChar:
        archive_entry_set_filetype(e, AE_IFCHR);
        archive_entry_set_rdev(e, makedev(1, 3));
        break;
      case Kind::kFifo:
        archive_entry_set_filetype(e, AE_IFIFO);
        break;
    }
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    if (en.kind == Kind::kFile && !en.data.empty()) {
      ASSERT_EQ(archive_write_data(a, en.data.data(), en.data.size()), la_ssize_t(en.data.size()));
    }
    archive_entry_free(e);
  }
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
}

std::string random_bytes(size_t n) {
  std::mt19937_64 rng(42);
  std::string s(n, '\0');
  for (auto& c : s) c = char(rng());
  return s;
}

std::string slurp(const stdfs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t mode_of(const stdfs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

// base/ holds dest/ (the extraction target) and outside/ with a sentinel;
// archives live in a separate temp dir. Every test asserts that nothing in
// base/ except dest/ changed.
class ExtractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t1[] = "/tmp/zlh-extract-test-XXXXXX";
    char t2[] = "/tmp/zlh-extract-arch-XXXXXX";
    ASSERT_NE(mkdtemp(t1), nullptr);
    ASSERT_NE(mkdtemp(t2), nullptr);
    base_ = t1;
    arch_ = t2;
    dest_ = base_ / "dest";
    outside_ = base_ / "outside";
    stdfs::create_directories(dest_);
    stdfs::create_directories(outside_);
    std::ofstream(outside_ / "sentinel") << "keep";
    before_ = snapshot();
  }
  void TearDown() override {
    EXPECT_EQ(snapshot(), before_) << "something changed outside dest";
    EXPECT_EQ(slurp(outside_ / "sentinel"), "keep");
    std::error_code ec;
    stdfs::remove_all(base_, ec);
    stdfs::remove_all(arch_, ec);
  }

  std::set<std::string> snapshot() const {
    std::set<std::string> out;
    for (auto it = stdfs::recursive_directory_iterator(base_); it != stdfs::end(it); ++it) {
      auto rel = stdfs::relative(it->path(), base_).string();
      if (rel == "dest") {
        it.disable_recursion_pending();
        continue;
      }
      out.insert(rel);
    }
    return out;
  }

  Result<void> extract(const std::vector<Entry>& entries, ExtractOptions opts = {},
                       Format format = Format::kTarGz) {
    auto path = (arch_ / ("a" + std::to_string(n_++))).string();
    write_archive(path, entries, format);
    return extract_archive(path, dest_.string(), opts);
  }

  void expect_bad(const std::vector<Entry>& entries, std::string_view entry_name,
                  ExtractOptions opts = {}) {
    auto r = extract(entries, opts);
    ASSERT_FALSE(r.has_value()) << "extraction should have been refused";
    EXPECT_EQ(r.error().code, codes::kBadArchive) << r.error().to_string();
    EXPECT_NE(r.error().message.find(entry_name), std::string::npos) << r.error().message;
  }

  stdfs::path base_, arch_, dest_, outside_;
  std::set<std::string> before_;
  int n_ = 0;
};

TEST_F(ExtractTest, NormalTarGzWithStrip) {
  std::vector<Entry> entries = {
      dir("pkg/"),
      dir("pkg/bin/"),
      file("pkg/bin/tool", "#!/bin/sh\necho hi\n", 0755),
      hardlink("pkg/bin/tool2", "pkg/bin/tool"),
      file("pkg/lib/libx.so.1", "ELF", 0644),  // parent dir created implicitly
      symlink("pkg/lib/libx.so", "libx.so.1"),
      symlink("pkg/share/doc", "../lib"),
      symlink("pkg/dangling", "not/there/yet"),
      dir("pkg/ro/", 0555),
      file("pkg/ro/f", "ro", 0444),
      file("pkg/README", "readme", 0600),
      file("top-level-only", "stripped away"),
  };
  ExtractOptions opts;
  opts.strip_components = 1;
  auto r = extract(entries, opts);
  ASSERT_TRUE(r) << r.error().to_string();

  EXPECT_FALSE(stdfs::exists(dest_ / "pkg"));
  EXPECT_FALSE(stdfs::exists(dest_ / "top-level-only"));
  EXPECT_EQ(slurp(dest_ / "bin/tool"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(mode_of(dest_ / "bin/tool"), 0755u);
  EXPECT_EQ(mode_of(dest_ / "README"), 0600u);
  EXPECT_EQ(mode_of(dest_ / "ro"), 0755u);  // owner rwx added
  EXPECT_EQ(mode_of(dest_ / "ro/f"), 0444u);
  EXPECT_TRUE(stdfs::equivalent(dest_ / "bin/tool", dest_ / "bin/tool2"));
  EXPECT_EQ(stdfs::hard_link_count(dest_ / "bin/tool"), 2u);
  EXPECT_EQ(stdfs::read_symlink(dest_ / "lib/libx.so"), "libx.so.1");
  EXPECT_EQ(slurp(dest_ / "lib/libx.so"), "ELF");
  EXPECT_EQ(slurp(dest_ / "share/doc/libx.so.1"), "ELF");
  EXPECT_TRUE(stdfs::is_symlink(dest_ / "dangling"));
  struct stat st {};
  ASSERT_EQ(::stat((dest_ / "README").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1'700'000'000);
}

TEST_F(ExtractTest, StripCountsDotLikeGnuTar) {
  ExtractOptions opts;
  opts.strip_components = 1;
  ASSERT_TRUE(extract({dir("./"), file("./pkg/a", "x"), file("./b", "y")}, opts));
  EXPECT_EQ(slurp(dest_ / "pkg/a"), "x");
  EXPECT_EQ(slurp(dest_ / "b"), "y");
}

TEST_F(ExtractTest, RefusesAbsolutePaths) {
  expect_bad({file((outside_ / "abs").string(), "pwned")}, "abs");
  expect_bad({dir("/tmp/zlh-extract-abs-dir/")}, "/tmp/zlh-extract-abs-dir/");
  EXPECT_FALSE(stdfs::exists("/tmp/zlh-extract-abs-dir"));
}

TEST_F(ExtractTest, RefusesDotDot) {
  expect_bad({file("../x", "pwned")}, "../x");
  expect_bad({file("a/../../x", "pwned")}, "a/../../x");
  expect_bad({file("ok", "fine"), file("a/b/../../../outside/sentinel", "pwned")},
             "a/b/../../../outside/sentinel");
  // ".." hidden in the part strip_components would remove is refused too.
  ExtractOptions opts;
  opts.strip_components = 1;
  expect_bad({file("../x", "pwned")}, "../x", opts);
}

TEST_F(ExtractTest, RefusesBackslashNames) { expect_bad({file("a\\..\\..\\x", "p")}, "a\\"); }

TEST_F(ExtractTest, RefusesEscapingSymlinks) {
  expect_bad({symlink("etc", "/etc")}, "etc");
  expect_bad({symlink("etc", "/etc"), file("etc/pwned", "x")}, "etc");
  expect_bad({symlink("out", outside_.string()), file("out/pwned", "x")}, "out");
  expect_bad({symlink("up", "../..")}, "up");
  expect_bad({dir("d/"), symlink("d/up", "../../outside"), file("d/up/pwned", "x")}, "d/up");
  expect_bad({symlink("empty", "")}, "empty");
  EXPECT_FALSE(stdfs::exists(outside_ / "pwned"));
}

TEST_F(ExtractTest, FileThroughInnerSymlinkStaysInside) {
  ASSERT_TRUE(extract({dir("sub/"), symlink("link", "sub"), file("link/file", "through")}));
  EXPECT_EQ(slurp(dest_ / "sub/file"), "through");
  EXPECT_TRUE(stdfs::is_symlink(dest_ / "link"));
}

TEST_F(ExtractTest, TrickySymlinkChainsAreCaught) {
  // d/l -> ".." is the dest root, so d/l/l2 -> "../outside" is created as
  // dest/l2 and points at base/outside, though it looks inside lexically.
  // Writing through it fails in the kernel (RESOLVE_BENEATH) ...
  expect_bad(
      {dir("d/"), symlink("d/l", ".."), symlink("d/l/l2", "../outside"), file("d/l/l2/pwned", "x")},
      "d/l/l2/pwned");
  ASSERT_TRUE(fs::remove_tree(dest_.string(), {.missing_ok = true}));
  stdfs::create_directories(dest_);
  // ... and when nothing writes through it, the final walk refuses the link.
  expect_bad({dir("d/"), symlink("d/l", ".."), symlink("d/l/l2", "../outside")}, "l2");
  ASSERT_TRUE(fs::remove_tree(dest_.string(), {.missing_ok = true}));
  stdfs::create_directories(dest_);
  // Also when it dangles: dest/l3 -> nothere/../../x is outside once resolved.
  expect_bad({dir("d/"), symlink("d/l", ".."), symlink("d/l/l3", "nothere/../../x")}, "l3");
  ASSERT_TRUE(fs::remove_tree(dest_.string(), {.missing_ok = true}));
  stdfs::create_directories(dest_);
  // A symlink loop is refused rather than left behind.
  expect_bad({symlink("a", "b"), symlink("b", "a")}, "loop");
}

TEST_F(ExtractTest, RefusesBadHardlinks) {
  expect_bad({hardlink("h", "/etc/passwd")}, "h");
  expect_bad({hardlink("h", "../outside/sentinel")}, "h");
  expect_bad({hardlink("h", "missing")}, "h");
  expect_bad({dir("d/"), hardlink("h", "d")}, "h");
  expect_bad({file("f", "x"), symlink("s", "f"), hardlink("h", "s")}, "h");
  expect_bad({dir("d/"), symlink("d/l", ".."), symlink("d/l/l2", "../outside"),
              hardlink("h", "d/l/l2/sentinel")},
             "h");
  EXPECT_EQ(stdfs::hard_link_count(outside_ / "sentinel"), 1u);
}

TEST_F(ExtractTest, RefusesDevicesAndFifos) {
  expect_bad({{Kind::kChar, "null", {}, 0666}}, "null");
  expect_bad({{Kind::kFifo, "fifo", {}, 0644}}, "fifo");
  // Refused even when strip_components would drop the name.
  ExtractOptions opts;
  opts.strip_components = 1;
  expect_bad({{Kind::kChar, "null", {}, 0666}}, "null", opts);
  EXPECT_FALSE(stdfs::exists(dest_ / "null"));
  EXPECT_FALSE(stdfs::exists(dest_ / "fifo"));
}

TEST_F(ExtractTest, StripsSetuidSetgidSticky) {
  ASSERT_TRUE(extract({file("suid", "x", 04755), file("sgid", "x", 02755), dir("sticky/", 01777),
                       dir("sgiddir/", 02775)}));
  EXPECT_EQ(mode_of(dest_ / "suid"), 0755u);
  EXPECT_EQ(mode_of(dest_ / "sgid"), 0755u);
  EXPECT_EQ(mode_of(dest_ / "sticky"), 0777u);
  EXPECT_EQ(mode_of(dest_ / "sgiddir"), 0775u);
}

TEST_F(ExtractTest, LaterEntriesReplaceEarlierOnes) {
  ASSERT_TRUE(
      extract({dir("sub/"), file("sub/keep", "k"), file("a", "one"), file("a", "two"),
               symlink("x", "sub"), file("x", "file now"), file("y", "was a file"), dir("y/")}));
  EXPECT_EQ(slurp(dest_ / "a"), "two");
  EXPECT_FALSE(stdfs::is_symlink(dest_ / "x"));
  EXPECT_EQ(slurp(dest_ / "x"), "file now");
  EXPECT_EQ(stdfs::directory_iterator(dest_ / "sub")->path().filename(), "keep");
  EXPECT_TRUE(stdfs::is_directory(dest_ / "y"));
  // A non-empty directory is never replaced.
  expect_bad({dir("z/"), file("z/f", "x"), file("z", "replaces dir")}, "z");
}

TEST_F(ExtractTest, CorruptTruncatedAndUnknownInputs) {
  auto good = (arch_ / "good.tar.gz").string();
  write_archive(good, {file("big", random_bytes(1 << 20))});
  auto data = slurp(good);
  auto truncated = (arch_ / "truncated.tar.gz").string();
  std::ofstream(truncated, std::ios::binary) << data.substr(0, data.size() / 2);
  auto r = extract_archive(truncated, dest_.string(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kBadArchive) << r.error().to_string();

  auto corrupt = (arch_ / "corrupt.tar.gz").string();
  std::string flipped = data;
  for (size_t i = 100; i < flipped.size(); i += 997) flipped[i] = char(~flipped[i]);
  std::ofstream(corrupt, std::ios::binary) << flipped;
  r = extract_archive(corrupt, dest_.string(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kBadArchive) << r.error().to_string();

  auto garbage = (arch_ / "garbage").string();
  std::ofstream(garbage, std::ios::binary) << random_bytes(4096);
  r = extract_archive(garbage, dest_.string(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kBadArchive) << r.error().to_string();

  // mtree "archives" make libarchive read host files; the format is off.
  auto mtree = (arch_ / "spec.mtree").string();
  std::ofstream(mtree) << "#mtree\nleak type=file contents=" << (outside_ / "sentinel").string()
                       << "\n";
  r = extract_archive(mtree, dest_.string(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kBadArchive) << r.error().to_string();
  EXPECT_FALSE(stdfs::exists(dest_ / "leak"));

  r = extract_archive((arch_ / "missing").string(), dest_.string(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kNotFound);
  r = extract_archive(good, (base_ / "no-such-dest").string(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kNotFound);
}

TEST_F(ExtractTest, Zip) {
  auto r = extract({dir("app/"), file("app/run.sh", "#!/bin/sh\n", 0755),
                    file("app/data/x.txt", "zip data"), symlink("app/latest", "data/x.txt")},
                   {}, Format::kZip);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(mode_of(dest_ / "app/run.sh"), 0755u);
  EXPECT_EQ(slurp(dest_ / "app/data/x.txt"), "zip data");
  EXPECT_EQ(slurp(dest_ / "app/latest"), "zip data");

  auto path = (arch_ / "evil.zip").string();
  write_archive(path, {file("../evil", "x")}, Format::kZip);
  r = extract_archive(path, dest_.string(), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kBadArchive);
}

TEST_F(ExtractTest, Limits) {
  ExtractOptions opts;
  opts.max_entries = 2;
  expect_bad({file("a", "1"), file("b", "2"), file("c", "3")}, "entries", opts);
  opts = {};
  opts.max_total_bytes = 10;
  expect_bad({file("a", "12345"), file("b", "123456")}, "bytes", opts);
  ASSERT_TRUE(extract({file("a", "12345"), file("b", "12345")}, opts));
}

TEST_F(ExtractTest, ProgressAndCancel) {
  std::vector<Entry> big = {file("big1", random_bytes(6 << 20)),
                            file("big2", random_bytes(6 << 20))};
  std::vector<uint64_t> seen;
  ExtractOptions opts;
  opts.progress = [&](uint64_t n) { seen.push_back(n); };
  ASSERT_TRUE(extract(big, opts));
  ASSERT_GE(seen.size(), 2u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(seen.back(), uint64_t(12 << 20));

  std::atomic<bool> cancel{true};
  opts = {};
  opts.cancel = &cancel;
  auto r = extract(big, opts);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kInternal);
  EXPECT_NE(r.error().message.find("cancelled"), std::string::npos);

  // Cancelled mid-file from another thread's point of view.
  cancel = false;
  opts.progress = [&](uint64_t) { cancel = true; };
  r = extract(big, opts);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("cancelled"), std::string::npos);
}

TEST_F(ExtractTest, RemoveTreeDoesNotFollowSymlinks) {
  stdfs::create_directories(dest_ / "a/b/c");
  std::ofstream(dest_ / "a/b/c/f") << "x";
  stdfs::create_symlink(outside_, dest_ / "a/out_dir");
  stdfs::create_symlink(outside_ / "sentinel", dest_ / "a/b/out_file");
  stdfs::create_directories(dest_ / "ro/sub");
  std::ofstream(dest_ / "ro/sub/f") << "x";
  ::chmod((dest_ / "ro/sub").c_str(), 0500);
  ::chmod((dest_ / "ro").c_str(), 0500);
  ASSERT_TRUE(fs::remove_tree(dest_.string(), {.missing_ok = true}));
  EXPECT_FALSE(stdfs::exists(dest_));
  ASSERT_TRUE(fs::remove_tree(dest_.string(), {.missing_ok = true}));  // missing = success

  // A symlink as the path itself: the link goes, the target stays.
  stdfs::create_symlink(outside_, dest_);
  ASSERT_TRUE(fs::remove_tree(dest_.string(), {.missing_ok = true}));
  EXPECT_FALSE(stdfs::is_symlink(dest_));
  EXPECT_TRUE(stdfs::exists(outside_ / "sentinel"));
  stdfs::create_directories(dest_);
}

}  // namespace
}  // namespace zlh::agent::runtimes
