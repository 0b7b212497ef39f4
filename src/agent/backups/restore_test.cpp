#include "agent/backups/restore.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "agent/files/tar_stream.hpp"

namespace zlh::agent::backups {
namespace {

namespace stdfs = std::filesystem;

struct TarEntry {
  std::string path;
  mode_t type = AE_IFREG;
  std::string data;
  std::string link;  // symlink target
};

// A tar (gzip or zstd) built entry by entry with libarchive: hostile ones too.
std::string make_tar(const std::vector<TarEntry>& entries, bool zstd = true) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (zstd)
    archive_write_add_filter_zstd(a);
  else
    archive_write_add_filter_gzip(a);
  archive_write_set_bytes_in_last_block(a, 1);  // no zeros after the compressed stream
  archive_write_open(
      a, &out, nullptr,
      [](archive*, void* o, const void* b, size_t n) -> la_ssize_t {
        static_cast<std::string*>(o)->append(static_cast<const char*>(b), n);
        return la_ssize_t(n);
      },
      nullptr);
  for (const auto& e : entries) {
    archive_entry* en = archive_entry_new();
    archive_entry_set_pathname(en, e.path.c_str());
    archive_entry_set_filetype(en, e.type);
    archive_entry_set_perm(en, e.type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_size(en, e.type == AE_IFREG ? la_int64_t(e.data.size()) : 0);
    if (e.type == AE_IFLNK) archive_entry_set_symlink(en, e.link.c_str());
    if (e.type == AE_IFCHR) archive_entry_set_rdev(en, makedev(1, 3));
    EXPECT_EQ(archive_write_header(a, en), ARCHIVE_OK) << archive_error_string(a);
    if (!e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(en);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

std::string slurp(const stdfs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A backup of `dir` made the way GET /backups/archive makes it.
std::string backup_of(const stdfs::path& dir) {
  safe_path::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  auto s = files::TarStream::open_flat(fd.get(), "", std::nullopt, files::Compression::kZstd);
  EXPECT_TRUE(s) << s.error().to_string();
  std::string bytes;
  std::vector<char> buf(65536);
  for (;;) {
    auto n = (*s)->read(buf.data(), buf.size());
    EXPECT_TRUE(n);
    if (!n || *n == 0) break;
    bytes.append(buf.data(), *n);
  }
  return bytes;
}

class RestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/zlh-restore-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    base_ = tmpl;
    root_ = base_ / "srv" / "server";
    stdfs::create_directories(root_ / "world");
    std::ofstream(root_ / "world" / "level.dat") << "old world";
    std::ofstream(root_ / "server.properties") << "motd=old";
    ::chmod(root_.c_str(), 0750);
  }
  void TearDown() override {
    std::error_code ec;
    stdfs::remove_all(base_, ec);
  }

  // The names in root's parent: the root, and no staging left over.
  std::vector<std::string> beside_root() const {
    std::vector<std::string> names;
    for (const auto& e : stdfs::directory_iterator(root_.parent_path()))
      names.push_back(e.path().filename().string());
    return names;
  }

  void expect_old_files() const {
    EXPECT_EQ(slurp(root_ / "world" / "level.dat"), "old world");
    EXPECT_EQ(slurp(root_ / "server.properties"), "motd=old");
    EXPECT_EQ(beside_root(), std::vector<std::string>{"server"});
  }

  // Feeds `bytes` in `chunk`-sized writes, then finishes.
  Result<RestoreResult> restore(const std::string& bytes, size_t chunk = 4096,
                                std::function<Result<void>()> may_swap = {}) {
    auto job = RestoreJob::start(root_.string(), std::nullopt);
    if (!job) return fail(job.error());
    for (size_t at = 0; at < bytes.size(); at += chunk)
      if (auto w = (*job)->write(std::string_view(bytes).substr(at, chunk)); !w)
        return fail(w.error());
    return (*job)->finish(may_swap);
  }

  stdfs::path base_, root_;
};

TEST_F(RestoreTest, ReplacesTheRootWithTheArchiveOfAnotherTree) {
  // A backup made the way GET /backups/archive makes it.
  const stdfs::path src = base_ / "src";
  stdfs::create_directories(src / "world" / "region");
  std::string big(3 << 20, '\0');
  std::mt19937 rng(1);
  for (char& c : big) c = char(rng());
  std::ofstream(src / "world" / "region" / "r.0.0.mca", std::ios::binary) << big;
  std::ofstream(src / "world" / "level.dat") << "new world";
  stdfs::create_symlink("world/level.dat", src / "link");
  std::string bytes = backup_of(src);
  auto r = restore(bytes, 1000);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->entries, 5u);  // world, world/level.dat, world/region, r.0.0.mca, link
  EXPECT_EQ(r->bytes, big.size() + 9);
  EXPECT_EQ(slurp(root_ / "world" / "level.dat"), "new world");
  EXPECT_TRUE(slurp(root_ / "world" / "region" / "r.0.0.mca") == big);
  EXPECT_EQ(stdfs::read_symlink(root_ / "link"), "world/level.dat");
  EXPECT_FALSE(stdfs::exists(root_ / "server.properties"));      // replaced, not merged
  EXPECT_EQ(beside_root(), std::vector<std::string>{"server"});  // old tree and staging gone
  struct stat st {};
  ASSERT_EQ(::stat(root_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);  // the root keeps its permissions
}

TEST_F(RestoreTest, AcceptsTarGzByItsMagic) {
  auto r = restore(make_tar({{"a.txt", AE_IFREG, "gz"}}, /*zstd=*/false));
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(slurp(root_ / "a.txt"), "gz");
}

TEST_F(RestoreTest, TruncatedArchiveLeavesTheOldFiles) {
  std::string big(1 << 20, 'x');
  std::mt19937 rng(2);
  for (char& c : big) c = char(rng());
  std::string bytes = make_tar({{"world", AE_IFDIR}, {"world/level.dat", AE_IFREG, big}});
  auto r = restore(bytes.substr(0, bytes.size() / 2));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kBadArchive) << r.error().to_string();
  expect_old_files();

  // Our archives carry zstd's content checksum: a flipped byte in stored
  // (incompressible) data is caught too.
  stdfs::create_directories(base_ / "src");
  std::ofstream(base_ / "src" / "r.mca", std::ios::binary) << big;
  std::string corrupt = backup_of(base_ / "src");
  for (size_t i = corrupt.size() / 3; i < corrupt.size() / 3 + 64; ++i) corrupt[i] ^= 0x5a;
  auto c = restore(corrupt);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, codes::kBadArchive) << c.error().to_string();
  expect_old_files();
}

TEST_F(RestoreTest, ClientGoneMidwayLeavesTheOldFiles) {
  std::string bytes = make_tar({{"world/level.dat", AE_IFREG, std::string(200000, 'n')}});
  {
    auto job = RestoreJob::start(root_.string(), std::nullopt);
    ASSERT_TRUE(job);
    ASSERT_TRUE((*job)->write(std::string_view(bytes).substr(0, bytes.size() / 2)));
  }  // destroyed without finish()
  expect_old_files();
}

TEST_F(RestoreTest, RefusalBeforeTheSwapLeavesTheOldFiles) {
  auto r = restore(make_tar({{"a.txt", AE_IFREG, "a"}}), 4096,
                   [] { return Result<void>(fail(codes::kConflict, "started meanwhile")); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, codes::kConflict) << r.error().to_string();
  expect_old_files();
}

TEST_F(RestoreTest, HostileArchivesAreRefusedAndTouchNothing) {
  const std::vector<std::pair<std::string, std::vector<TarEntry>>> cases = {
      {"dotdot", {{"../evil.txt", AE_IFREG, "x"}}},
      {"dotdot deep", {{"world/../../evil.txt", AE_IFREG, "x"}}},
      {"absolute", {{"/tmp/zlh-restore-evil.txt", AE_IFREG, "x"}}},
      {"symlink escape", {{"l", AE_IFLNK, "", "../../.."}, {"l/evil.txt", AE_IFREG, "x"}}},
      {"absolute symlink", {{"l", AE_IFLNK, "", "/etc"}}},
      {"device", {{"null", AE_IFCHR}}},
      {"fifo", {{"pipe", AE_IFIFO}}},
  };
  for (const auto& [name, entries] : cases) {
    SCOPED_TRACE(name);
    auto r = restore(make_tar(entries));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, codes::kBadArchive) << r.error().to_string();
    EXPECT_NE(r.error().message.find("entry"), std::string::npos) << r.error().to_string();
    expect_old_files();
    EXPECT_FALSE(stdfs::exists(base_ / "srv" / "evil.txt"));
    EXPECT_FALSE(stdfs::exists(base_ / "evil.txt"));
    EXPECT_FALSE(stdfs::exists("/tmp/zlh-restore-evil.txt"));
  }
}

// The extraction stops at a hostile first entry while the body keeps
// coming: the next write reports the archive's error (no SIGPIPE).
TEST_F(RestoreTest, RefusedEarlyWhileTheBodyKeepsComing) {
  std::string big(8 << 20, '\0');
  std::mt19937 rng(3);
  for (char& c : big) c = char(rng());
  std::string bytes = make_tar({{"../evil.txt", AE_IFREG, "x"}, {"big.bin", AE_IFREG, big}});
  auto job = RestoreJob::start(root_.string(), std::nullopt);
  ASSERT_TRUE(job);
  Result<void> w;
  for (size_t at = 0; at < bytes.size() && w; at += 65536)
    w = (*job)->write(std::string_view(bytes).substr(at, 65536));
  ASSERT_FALSE(w) << "the whole body was taken";
  EXPECT_EQ(w.error().code, codes::kBadArchive) << w.error().to_string();
  EXPECT_NE(w.error().message.find("../evil.txt"), std::string::npos) << w.error().to_string();
  job->reset();
  expect_old_files();
}

TEST_F(RestoreTest, LeftoversOfAnAgentThatDiedMidRestoreAreRemoved) {
  stdfs::create_directories(root_.parent_path() / ".server.restore-0123456789ab" / "world");
  stdfs::create_directories(root_.parent_path() / ".other.restore-0123456789ab");
  auto r = restore(make_tar({{"a.txt", AE_IFREG, "a"}}));
  ASSERT_TRUE(r) << r.error().to_string();
  auto names = beside_root();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{".other.restore-0123456789ab", "server"}));
}

TEST_F(RestoreTest, MissingRootIsNotFound) {
  stdfs::remove_all(root_);
  auto job = RestoreJob::start(root_.string(), std::nullopt);
  ASSERT_FALSE(job);
  EXPECT_EQ(job.error().code, codes::kNotFound);
}

}  // namespace
}  // namespace zlh::agent::backups
