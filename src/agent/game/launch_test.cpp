#include "agent/game/launch.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/fs.hpp"

namespace zlh::agent::game {
namespace {

TEST(Launch, HeapLeavesHeadroomForTheJvm) {
  EXPECT_EQ(heap_mb(256), 128);  // floor
  EXPECT_EQ(heap_mb(512), 256);
  EXPECT_EQ(heap_mb(1024), 768);
  EXPECT_EQ(heap_mb(2048), 1536);
  EXPECT_EQ(heap_mb(4096), 3072);
  EXPECT_EQ(heap_mb(16384), 14336);    // headroom capped at 2048
  EXPECT_EQ(heap_mb(262144), 260096);  // the payload's maximum
  for (int64_t m = 256; m <= 262144; m += 256) {
    EXPECT_LT(heap_mb(m), m) << m;
    EXPECT_GE(heap_mb(m), 128) << m;
    EXPECT_LE(heap_mb(m), heap_mb(m + 256)) << m;  // never less heap for more memory
  }
}

TEST(Launch, ArgvForAJar) {
  Launch l;
  l.jar = "server.jar";
  EXPECT_EQ(java_argv("/r/opt/zlh/runtimes/java/21.0.5/bin/java", 2048, l),
            (std::vector<std::string>{"/r/opt/zlh/runtimes/java/21.0.5/bin/java", "-Xms1536M",
                                      "-Xmx1536M", "-jar", "server.jar", "nogui"}));
}

TEST(Launch, ArgvForForgeArgumentFiles) {
  Launch l;
  l.kind = Launch::Kind::kArgFiles;
  l.unix_args = "libraries/net/minecraftforge/forge/1.20.1-47.3.0/unix_args.txt";
  l.user_jvm_args = true;
  EXPECT_EQ(java_argv("/j/bin/java", 1024, l),
            (std::vector<std::string>{
                "/j/bin/java", "-Xms768M", "-Xmx768M", "@user_jvm_args.txt",
                "@libraries/net/minecraftforge/forge/1.20.1-47.3.0/unix_args.txt", "nogui"}));
  l.user_jvm_args = false;
  EXPECT_EQ(java_argv("/j/bin/java", 1024, l).size(), 5u);
}

TEST(Launch, JsonRoundTripAndRefusesUnsafePaths) {
  Launch a;
  a.kind = Launch::Kind::kArgFiles;
  a.unix_args = "libraries/x/unix_args.txt";
  a.user_jvm_args = true;
  EXPECT_EQ(Launch::from_json(a.to_json()).value(), a);
  Launch b;
  b.jar = "forge-1.16.5.jar";
  EXPECT_EQ(Launch::from_json(b.to_json()).value(), b);
  EXPECT_FALSE(Launch::from_json({{"kind", "jar"}, {"jar", "../x.jar"}}));
  EXPECT_FALSE(Launch::from_json({{"kind", "jar"}, {"jar", "/etc/x.jar"}}));
  EXPECT_FALSE(Launch::from_json({{"kind", "argfiles"}, {"unix_args", "a/../../b"}}));
  EXPECT_FALSE(Launch::from_json({{"kind", "shell"}}));
}

class FindLaunch : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/zlh-launch-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void file(const std::string& rel, int64_t mtime_s = 1'700'000'000) {
    std::string p = dir_ + "/" + rel;
    ASSERT_TRUE(fs::make_dirs(std::filesystem::path(p).parent_path().string()));
    ASSERT_TRUE(fs::write_file_atomic(p, "x"));
    struct timespec ts[2] = {{mtime_s, 0}, {mtime_s, 0}};
    ASSERT_EQ(utimensat(AT_FDCWD, p.c_str(), ts, 0), 0);
  }
  std::string dir_;
};

TEST_F(FindLaunch, ModernForgeUsesTheNewestUnixArgs) {
  file("installer.jar");
  file("libraries/net/minecraftforge/forge/1.20.1-47.2.0/unix_args.txt", 1'700'000'000);
  file("libraries/net/minecraftforge/forge/1.20.1-47.3.0/unix_args.txt", 1'700'000'100);
  file("libraries/net/minecraftforge/forge/1.20.1-47.3.0/win_args.txt", 1'700'000'200);
  auto l = find_installed_launch(dir_, "installer.jar");
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->kind, Launch::Kind::kArgFiles);
  EXPECT_EQ(l->unix_args, "libraries/net/minecraftforge/forge/1.20.1-47.3.0/unix_args.txt");
  EXPECT_FALSE(l->user_jvm_args);
  file("user_jvm_args.txt");
  EXPECT_TRUE(find_installed_launch(dir_, "installer.jar")->user_jvm_args);
}

TEST_F(FindLaunch, SymlinkedDirectoriesAreNotFollowed) {
  file("elsewhere/unix_args.txt");
  ASSERT_TRUE(fs::make_dirs(dir_ + "/libraries"));
  ASSERT_EQ(symlink((dir_ + "/elsewhere").c_str(), (dir_ + "/libraries/link").c_str()), 0);
  ASSERT_EQ(symlink((dir_ + "/elsewhere/unix_args.txt").c_str(),
                    (dir_ + "/libraries/unix_args.txt").c_str()),
            0);
  auto l = find_installed_launch(dir_, "installer.jar");
  EXPECT_FALSE(l);
  EXPECT_TRUE(l.error().is(codes::kNotFound));
}

TEST_F(FindLaunch, OlderForgeUsesTheProducedJar) {
  file("installer.jar", 1'700'000'900);
  file("minecraft_server.1.16.5.jar", 1'700'000'800);
  file("forge-1.16.5-36.2.39.jar", 1'700'000'100);
  auto l = find_installed_launch(dir_, "installer.jar");
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(l->kind, Launch::Kind::kJar);
  EXPECT_EQ(l->jar, "forge-1.16.5-36.2.39.jar");
}

TEST_F(FindLaunch, NothingUsableIsNotFoundListingTheDirectory) {
  file("installer.jar");
  file("installer.jar.log");
  auto l = find_installed_launch(dir_, "installer.jar");
  ASSERT_FALSE(l);
  EXPECT_TRUE(l.error().is(codes::kNotFound));
  EXPECT_NE(l.error().message.find("installer.jar.log"), std::string::npos) << l.error().message;
}

}  // namespace
}  // namespace zlh::agent::game
