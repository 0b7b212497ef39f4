#include "agent/files/tar_stream.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace zlh::agent::files {
namespace {

namespace stdfs = std::filesystem;
using safe_path::UniqueFd;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

const std::string kLongDir(80, 'd');
const std::string kLongFile = std::string(150, 'f') + ".txt";

struct Entry {
  std::string path;  // without a trailing '/'
  mode_t type = 0;   // AE_IF*
  mode_t perm = 0;
  int64_t size = 0;
  time_t mtime = 0;
  std::string data;     // file content
  std::string symlink;  // link target
};

void write_file(const stdfs::path& p, const std::string& data, mode_t perm = 0644) {
  std::ofstream(p, std::ios::binary) << data;
  ASSERT_EQ(::chmod(p.c_str(), perm), 0);
}

void set_mtime(const stdfs::path& p, time_t t) {
  timespec ts[2] = {{t, 0}, {t, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0);
}

class TarStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::umask(022);
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/zlh-targz-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    base_ = tmpl;
    root_ = base_ / "root";
    stdfs::create_directories(root_ / "proj");
    stdfs::create_directories(base_ / "outside");
    write_file(base_ / "outside" / "secret.txt", "SECRET");
    root_fd_.reset(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_fd_.valid());
  }
  void TearDown() override {
    std::error_code ec;
    stdfs::remove_all(base_, ec);
  }

  // The full tree of the main test; returns the expected entries in order.
  std::vector<Entry> build_tree() {
    const stdfs::path p = root_ / "proj";
    std::mt19937_64 rng(7);
    big_.resize(5 << 20);
    for (char& c : big_) c = char(rng());

    write_file(p / ".hidden", "h");
    write_file(p / "a.txt", "hello\n", 0640);
    set_mtime(p / "a.txt", 1'600'000'000);
    stdfs::create_directories(p / kLongDir);
    write_file(p / kLongDir / kLongFile, "long");
    write_file(p / "empty.txt", "");
    stdfs::create_directory(p / "emptydir");
    stdfs::create_symlink("../../outside", p / "escape");
    stdfs::create_symlink("/etc/passwd", p / "passwd");
    EXPECT_EQ(::mkfifo((p / "pipe").c_str(), 0644), 0);
    stdfs::create_directories(p / "sub" / "deeper");
    write_file(p / "sub" / "b.txt", "bee", 0755);
    write_file(p / "sub" / "deeper" / "c.bin", big_);
    stdfs::create_symlink("sub", p / "sublink");
    write_file(p / "\xC3\xA9.txt", "utf8");
    EXPECT_EQ(::chmod((p / "sub").c_str(), 0750), 0);
    set_mtime(p / "sub", 1'500'000'000);

    std::vector<Entry> want = {
        {"proj", AE_IFDIR, 0755, 0, 0, "", ""},
        {"proj/.hidden", AE_IFREG, 0644, 1, 0, "h", ""},
        {"proj/a.txt", AE_IFREG, 0640, 6, 1'600'000'000, "hello\n", ""},
        {"proj/" + kLongDir, AE_IFDIR, 0755, 0, 0, "", ""},
        {"proj/" + kLongDir + "/" + kLongFile, AE_IFREG, 0644, 4, 0, "long", ""},
        {"proj/empty.txt", AE_IFREG, 0644, 0, 0, "", ""},
        {"proj/emptydir", AE_IFDIR, 0755, 0, 0, "", ""},
        {"proj/escape", AE_IFLNK, 0777, 0, 0, "", "../../outside"},
        {"proj/passwd", AE_IFLNK, 0777, 0, 0, "", "/etc/passwd"},
        {"proj/sub", AE_IFDIR, 0750, 0, 1'500'000'000, "", ""},
        {"proj/sub/b.txt", AE_IFREG, 0755, 3, 0, "bee", ""},
        {"proj/sub/deeper", AE_IFDIR, 0755, 0, 0, "", ""},
        {"proj/sub/deeper/c.bin", AE_IFREG, 0644, int64_t(big_.size()), 0, big_, ""},
        {"proj/sublink", AE_IFLNK, 0777, 0, 0, "", "sub"},
        {"proj/\xC3\xA9.txt", AE_IFREG, 0644, 4, 0, "utf8", ""},
    };
    return want;
  }

  static Result<std::string> stream_all(TarStream& s, size_t cap) {
    std::string out;
    std::vector<char> buf(cap);
    for (;;) {
      auto n = s.read(buf.data(), cap);
      if (!n) return fail(n.error());
      if (*n == 0) return out;
      if (*n > cap) return fail(codes::kInternal, "read more than cap");
      out.append(buf.data(), *n);
    }
  }

  static std::vector<Entry> read_back(const std::string& bytes) {
    std::vector<Entry> out;
    archive* a = archive_read_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    EXPECT_EQ(archive_read_open_memory(a, bytes.data(), bytes.size()), ARCHIVE_OK);
    archive_entry* e = nullptr;
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
      Entry en;
      en.path = archive_entry_pathname(e);
      if (en.path.size() > 1 && en.path.back() == '/') en.path.pop_back();
      en.type = archive_entry_filetype(e);
      en.perm = archive_entry_perm(e);
      en.size = archive_entry_size(e);
      en.mtime = archive_entry_mtime(e);
      if (archive_entry_symlink(e) != nullptr) en.symlink = archive_entry_symlink(e);
      char buf[65536];
      la_ssize_t n;
      while ((n = archive_read_data(a, buf, sizeof buf)) > 0) en.data.append(buf, size_t(n));
      EXPECT_EQ(n, 0) << en.path;
      out.push_back(std::move(en));
    }
    EXPECT_EQ(r, ARCHIVE_EOF) << archive_error_string(a);
    archive_read_free(a);
    return out;
  }

  static void expect_entries(const std::vector<Entry>& got, const std::vector<Entry>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      SCOPED_TRACE(want[i].path);
      EXPECT_EQ(got[i].path, want[i].path);
      EXPECT_EQ(got[i].type, want[i].type);
      if (want[i].type != AE_IFLNK) {
        EXPECT_EQ(got[i].perm, want[i].perm);
      }
      EXPECT_EQ(got[i].size, want[i].size);
      if (want[i].mtime != 0) {
        EXPECT_EQ(got[i].mtime, want[i].mtime);
      }
      EXPECT_TRUE(got[i].data == want[i].data) << "content differs";
      EXPECT_EQ(got[i].symlink, want[i].symlink);
    }
  }

  static size_t open_fds() {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : stdfs::directory_iterator("/proc/self/fd")) ++n;
    return n;
  }

  stdfs::path base_;
  stdfs::path root_;
  UniqueFd root_fd_;
  std::string big_;
};

TEST_F(TarStreamTest, StreamsTheTreeAtAnyReadSize) {
  auto want = build_tree();
  for (size_t cap : {size_t(1), size_t(1000), size_t(65536), size_t(1) << 20}) {
    SCOPED_TRACE(cap);
    auto s = TarStream::open(root_fd_.get(), "proj", "proj");
    ASSERT_TRUE(s.has_value()) << s.error().to_string();
    auto bytes = stream_all(**s, cap);
    ASSERT_TRUE(bytes.has_value()) << bytes.error().to_string();
    ASSERT_GE(bytes->size(), 2u);
    EXPECT_EQ(uint8_t((*bytes)[0]), 0x1f);  // gzip magic
    EXPECT_EQ(uint8_t((*bytes)[1]), 0x8b);
    // Done stays done.
    char c;
    EXPECT_EQ((*s)->read(&c, 1).value(), 0u);
    expect_entries(read_back(*bytes), want);
  }
}

TEST_F(TarStreamTest, SameTreeSameBytes) {
  build_tree();
  auto s1 = TarStream::open(root_fd_.get(), "proj", "proj");
  auto s2 = TarStream::open(root_fd_.get(), "proj", "proj");
  ASSERT_TRUE(s1 && s2);
  auto b1 = stream_all(**s1, 4096);
  auto b2 = stream_all(**s2, 77777);
  ASSERT_TRUE(b1 && b2);
  EXPECT_TRUE(*b1 == *b2);
}

TEST_F(TarStreamTest, TarListsSymlinksAsLinks) {
  build_tree();
  auto s = TarStream::open(root_fd_.get(), "proj", "proj");
  ASSERT_TRUE(s.has_value());
  auto bytes = stream_all(**s, 10000);
  ASSERT_TRUE(bytes.has_value());
  const stdfs::path file = base_ / "out.tar.gz";
  std::ofstream(file, std::ios::binary) << *bytes;
  FILE* p = ::popen(("tar -tzvf " + file.string() + " 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string listing;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) listing.append(buf, n);
  int status = ::pclose(p);
  EXPECT_EQ(status, 0) << listing;
  EXPECT_NE(listing.find("proj/passwd -> /etc/passwd"), std::string::npos) << listing;
  EXPECT_NE(listing.find("proj/escape -> ../../outside"), std::string::npos) << listing;
  EXPECT_NE(listing.find("proj/sublink -> sub"), std::string::npos) << listing;
  EXPECT_NE(listing.find("proj/" + kLongDir + "/" + kLongFile), std::string::npos) << listing;
  EXPECT_NE(listing.find(" 5242880 "), std::string::npos) << listing;
  EXPECT_EQ(listing.find("pipe"), std::string::npos) << listing;
  EXPECT_EQ(listing.find("secret"), std::string::npos) << listing;
  EXPECT_EQ(listing.find("warning"), std::string::npos) << listing;
  EXPECT_EQ(std::system(("gzip -t " + file.string()).c_str()), 0);
}

TEST_F(TarStreamTest, RootItselfAndOtherTopNames) {
  write_file(root_ / "top.txt", "t");
  auto s = TarStream::open(root_fd_.get(), "", "server");
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  auto bytes = stream_all(**s, 512);
  ASSERT_TRUE(bytes.has_value());
  auto got = read_back(*bytes);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].path, "server");
  EXPECT_EQ(got[1].path, "server/proj");
  EXPECT_EQ(got[2].path, "server/top.txt");
  EXPECT_EQ(got[2].data, "t");
}

TEST_F(TarStreamTest, EmptyDirectory) {
  auto s = TarStream::open(root_fd_.get(), "proj", "p");
  ASSERT_TRUE(s.has_value());
  auto bytes = stream_all(**s, 3);
  ASSERT_TRUE(bytes.has_value());
  auto got = read_back(*bytes);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].path, "p");
  EXPECT_EQ(got[0].type, AE_IFDIR);
}

TEST_F(TarStreamTest, OpenRefusesPathsOutsideTheRoot) {
  build_tree();
  stdfs::create_symlink("../../outside", root_ / "out");
  for (const char* rel :
       {"../outside", "/etc", "proj/escape", "out", "proj/../../outside", "proj/passwd"}) {
    auto s = TarStream::open(root_fd_.get(), rel, "x");
    ASSERT_FALSE(s.has_value()) << rel;
    EXPECT_EQ(s.error().code, codes::kBadPath) << rel << " " << s.error().to_string();
  }
  for (const char* rel : {"nope", "proj/nope/deeper", "proj/a.txt"}) {
    auto s = TarStream::open(root_fd_.get(), rel, "x");
    ASSERT_FALSE(s.has_value()) << rel;
    EXPECT_EQ(s.error().code, codes::kNotFound) << rel << " " << s.error().to_string();
  }
  // A symlink that stays inside the root is followed for the top directory only.
  auto s = TarStream::open(root_fd_.get(), "proj/sublink", "sub");
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  auto bytes = stream_all(**s, 65536);
  ASSERT_TRUE(bytes.has_value());
  auto got = read_back(*bytes);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[1].path, "sub/b.txt");
  EXPECT_EQ(got[3].path, "sub/deeper/c.bin");
}

// The backup format: zstd, entries relative to the directory, no entry for
// the directory itself; `zstd -t` (the reference tool) accepts the bytes.
TEST_F(TarStreamTest, ZstdFlatRoundTrip) {
  auto want = build_tree();
  want.erase(want.begin());  // no "proj" entry
  for (auto& e : want) e.path = e.path.substr(std::string("proj/").size());
  for (size_t cap : {size_t(1000), size_t(1) << 20}) {
    SCOPED_TRACE(cap);
    auto s = TarStream::open_flat(root_fd_.get(), "proj", std::nullopt, Compression::kZstd);
    ASSERT_TRUE(s.has_value()) << s.error().to_string();
    auto bytes = stream_all(**s, cap);
    ASSERT_TRUE(bytes.has_value()) << bytes.error().to_string();
    ASSERT_GE(bytes->size(), 4u);
    EXPECT_EQ(bytes->substr(0, 4), std::string("\x28\xB5\x2F\xFD", 4));  // zstd frame magic
    expect_entries(read_back(*bytes), want);
    // Compressed: 5 MiB of random bytes stay ~5 MiB, the rest shrinks.
    EXPECT_LT(bytes->size(), big_.size() + 64 * 1024);
    const stdfs::path file = base_ / "out.tar.zst";
    std::ofstream(file, std::ios::binary) << *bytes;
    EXPECT_EQ(std::system(("zstd -q -t " + file.string()).c_str()), 0);
  }
}

// A zstd stream dropped halfway frees its compressor (the leak checker
// watches) and keeps nothing open.
TEST_F(TarStreamTest, ZstdAbandonedHalfway) {
  build_tree();
  const size_t fds = open_fds();
  {
    auto s = TarStream::open_flat(root_fd_.get(), "proj", std::nullopt, Compression::kZstd);
    ASSERT_TRUE(s.has_value());
    std::vector<char> buf(4096);
    for (int i = 0; i < 50; ++i) ASSERT_TRUE((*s)->read(buf.data(), buf.size()));
  }
  EXPECT_EQ(open_fds(), fds);
}

TEST_F(TarStreamTest, RejectsBadTopNames) {
  for (std::string top : {std::string(), std::string("."), std::string(".."), std::string("a/b"),
                          std::string("a\0b", 3)}) {
    auto s = TarStream::open(root_fd_.get(), "proj", top);
    ASSERT_FALSE(s.has_value()) << top;
    EXPECT_EQ(s.error().code, codes::kInvalid);
  }
}

// A stream dropped halfway (the client went away) releases everything and
// does not pad out the file it was in (5 MiB of zeros would take a while
// under the sanitizers; the leak checker watches the rest).
TEST_F(TarStreamTest, AbandonedHalfway) {
  build_tree();
  const size_t fds = open_fds();
  for (size_t stop_after : {size_t(0), size_t(1), size_t(100), size_t(2) << 20}) {
    auto s = TarStream::open(root_fd_.get(), "proj", "proj");
    ASSERT_TRUE(s.has_value());
    std::vector<char> buf(4096);
    for (size_t got = 0; got < stop_after;) {
      auto n = (*s)->read(buf.data(), buf.size());
      ASSERT_TRUE(n.has_value());
      ASSERT_GT(*n, 0u);
      got += *n;
    }
    s->reset();
    EXPECT_EQ(open_fds(), fds);
  }
}

// Linux names are bytes; one that is not UTF-8 is archived as it is.
TEST_F(TarStreamTest, NonUtf8NamesAreKeptAsBytes) {
  write_file(root_ / "proj" / "bad\xff\xfe.bin", "x");
  auto s = TarStream::open(root_fd_.get(), "proj", "proj");
  ASSERT_TRUE(s.has_value());
  auto bytes = stream_all(**s, 4096);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().to_string();
  auto got = read_back(*bytes);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].path, "proj/bad\xff\xfe.bin");
  EXPECT_EQ(got[1].data, "x");
}

TEST_F(TarStreamTest, EntriesThatVanishAreSkipped) {
  write_file(root_ / "proj" / "keep.txt", "k");
  write_file(root_ / "proj" / "zgone.txt", "g");
  auto s = TarStream::open(root_fd_.get(), "proj", "proj");
  ASSERT_TRUE(s.has_value());
  stdfs::remove(root_ / "proj" / "zgone.txt");
  auto bytes = stream_all(**s, 100);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().to_string();
  auto got = read_back(*bytes);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].path, "proj/keep.txt");
}

TEST_F(TarStreamTest, TooDeepFailsAndStaysFailed) {
  stdfs::path p = root_ / "proj";
  for (size_t i = 0; i < TarStream::kMaxDepth + 1; ++i) p /= "d";
  stdfs::create_directories(p);
  auto s = TarStream::open(root_fd_.get(), "proj", "proj");
  ASSERT_TRUE(s.has_value());
  auto bytes = stream_all(**s, 4096);
  ASSERT_FALSE(bytes.has_value());
  EXPECT_EQ(bytes.error().code, codes::kTooLarge);
  char c;
  auto again = (*s)->read(&c, 1);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, codes::kTooLarge);
}

// Descriptors: one per directory level on the current path, released as
// the walk leaves a directory, and none left behind.
TEST_F(TarStreamTest, DescriptorsStayBounded) {
  for (int i = 0; i < 300; ++i) {
    const stdfs::path d = root_ / "proj" / "d" += std::to_string(i);
    stdfs::create_directories(d / "x");
    write_file(d / "x" / "f", "f");
  }
  const size_t before = open_fds();
  {
    auto s = TarStream::open(root_fd_.get(), "proj", "proj");
    ASSERT_TRUE(s.has_value());
    size_t peak = 0;
    char buf[256];
    for (;;) {
      auto n = (*s)->read(buf, sizeof buf);
      ASSERT_TRUE(n.has_value());
      if (*n == 0) break;
      peak = std::max(peak, open_fds());
    }
    EXPECT_LE(peak, before + 5);
  }
  EXPECT_EQ(open_fds(), before);
}

// The stream's heap use does not grow with the size of the files: streaming
// a 5 MiB incompressible file (into a file, so the test itself keeps no
// copy) stays well below its size.
TEST_F(TarStreamTest, MemoryStaysBounded) {
  if (kSanitized) GTEST_SKIP() << "mallinfo2 does not see the sanitizer's allocator";
  auto want = build_tree();
  // One more big file, so that a second 5 MiB would show as growth too.
  write_file(root_ / "proj" / "sub" / "deeper" / "d.bin", big_);
  const stdfs::path file = base_ / "mem.tar.gz";
  UniqueFd out(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  ASSERT_TRUE(out.valid());
  auto in_use = [] {
    struct mallinfo2 mi = ::mallinfo2();
    return mi.uordblks + mi.hblkhd;
  };
  const size_t before = in_use();
  size_t peak = 0;
  {
    auto s = TarStream::open(root_fd_.get(), "proj", "proj");
    ASSERT_TRUE(s.has_value());
    static char buf[8192];
    for (;;) {
      auto n = (*s)->read(buf, sizeof buf);
      ASSERT_TRUE(n.has_value());
      if (*n == 0) break;
      peak = std::max(peak, in_use());
      ASSERT_EQ(::write(out.get(), buf, *n), ssize_t(*n));
    }
  }
  EXPECT_GT(peak, before);
  EXPECT_LT(peak - before, size_t(1) << 20) << "peak heap growth " << (peak - before);
  out.reset();
  std::ifstream f(file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto got = read_back(bytes);
  ASSERT_EQ(got.size(), want.size() + 1);
  EXPECT_EQ(got[13].path, "proj/sub/deeper/d.bin");
  EXPECT_TRUE(got[13].data == big_);
}

}  // namespace
}  // namespace zlh::agent::files
