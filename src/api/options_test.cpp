// zlh-api flags: the status poller's (the others are exercised by the
// integration tests that start the binary).
#include "api/options.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <vector>

#include "base/fs.hpp"

namespace zlh::api {
namespace {

Result<ParseOutcome> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "zlh-api");
  // A data dir without api.toml: only the flags count.
  args.push_back("--data");
  args.push_back("/nonexistent-zlh-options-test");
  return parse_options(int(args.size()), args.data(), "/usr/bin");
}

TEST(Options, PollerDefaultsAndFlags) {
  auto d = parse({});
  ASSERT_TRUE(d && d->options) << (d ? "" : d.error().message);
  EXPECT_EQ(d->options->poll_interval_s, 5);
  EXPECT_EQ(d->options->poll_workers, 8);
  EXPECT_EQ(d->options->poll_timeout_s, 2);

  auto o = parse({"--poll-interval", "0.3", "--poll-workers", "16", "--poll-timeout", "1.5"});
  ASSERT_TRUE(o && o->options) << (o ? "" : o.error().message);
  EXPECT_DOUBLE_EQ(o->options->poll_interval_s, 0.3);
  EXPECT_EQ(o->options->poll_workers, 16);
  EXPECT_DOUBLE_EQ(o->options->poll_timeout_s, 1.5);
}

TEST(Options, JobLeaseTtl) {
  auto d = parse({});
  ASSERT_TRUE(d && d->options) << (d ? "" : d.error().message);
  EXPECT_EQ(d->options->job_lease_ttl_ms, 30000);
  auto o = parse({"--job-lease-ttl", "1500"});
  ASSERT_TRUE(o && o->options) << (o ? "" : o.error().message);
  EXPECT_EQ(o->options->job_lease_ttl_ms, 1500);
  for (const char* bad : {"299", "3600001"}) {
    auto b = parse({"--job-lease-ttl", bad});
    ASSERT_FALSE(b.has_value()) << bad;
    EXPECT_NE(b.error().message.find("job-lease-ttl"), std::string::npos) << b.error().message;
  }
}

TEST(Options, PollerFlagsOutOfRangeAreRefusedByName) {
  for (auto [flag, value, field] : std::vector<std::tuple<const char*, const char*, const char*>>{
           {"--poll-interval", "0", "poll-interval"},
           {"--poll-interval", "3601", "poll-interval"},
           {"--poll-interval", "nan", "poll-interval"},
           {"--poll-workers", "0", "poll-workers"},
           {"--poll-workers", "257", "poll-workers"},
           {"--poll-timeout", "0.01", "poll-timeout"},
           {"--poll-timeout", "61", "poll-timeout"}}) {
    auto r = parse({flag, value});
    ASSERT_FALSE(r) << flag << " " << value;
    EXPECT_EQ(r.error().code, codes::kInvalid) << flag << " " << value;
    EXPECT_EQ(r.error().field, field) << flag << " " << value;
  }
}

TEST(Options, ReplicaTtlDefaultsToFifteenSecondsAndIsBounded) {
  auto d = parse({});
  ASSERT_TRUE(d && d->options) << (d ? "" : d.error().message);
  EXPECT_EQ(d->options->replica_ttl_ms, 15000);
  EXPECT_FALSE(d->options->adopt_host);
  auto o = parse({"--replica-ttl", "900", "--adopt-host"});
  ASSERT_TRUE(o && o->options) << (o ? "" : o.error().message);
  EXPECT_EQ(o->options->replica_ttl_ms, 900);
  EXPECT_TRUE(o->options->adopt_host);
  for (const char* v : {"299", "600001"}) {
    auto r = parse({"--replica-ttl", v});
    ASSERT_FALSE(r) << v;
    EXPECT_EQ(r.error().field, "replica-ttl");
  }
}

TEST(Options, StatsIntervalDefaultsToTwoSecondsAndZeroTurnsTheSamplerOff) {
  auto d = parse({});
  ASSERT_TRUE(d && d->options);
  EXPECT_EQ(d->options->stats_interval_s, 2);
  for (const char* ok : {"0", "0.05", "10"}) {
    auto o = parse({"--stats-interval", ok});
    ASSERT_TRUE(o && o->options) << ok;
    EXPECT_DOUBLE_EQ(o->options->stats_interval_s, std::stod(ok));
  }
  for (const char* bad : {"0.01", "-1", "3601", "nan"}) {
    auto r = parse({"--stats-interval", bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().field, "stats-interval") << bad;
  }
}

TEST(Options, ProxmoxConfigDefaultsBesideTheConfigFileAndNeedsTheDriver) {
  auto o = parse({"--driver", "proxmox"});
  ASSERT_TRUE(o && o->options) << (o ? "" : o.error().message);
  EXPECT_EQ(o->options->proxmox_config, "/nonexistent-zlh-options-test/proxmox.toml");
  auto e = parse({"--driver", "proxmox", "--proxmox-config", "/etc/zlh/pve.toml"});
  ASSERT_TRUE(e && e->options);
  EXPECT_EQ(e->options->proxmox_config, "/etc/zlh/pve.toml");
  auto bad = parse({"--proxmox-config", "/etc/zlh/pve.toml"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field, "proxmox-config");
}

TEST(Options, DriverDefaultsToLxcAsRootAndLocalAsRootNeedsTheInsecureFlag) {
  auto d = parse({});
  ASSERT_TRUE(d && d->options);
  EXPECT_EQ(*resolve_driver(*d->options, 0), "lxc");
  auto nonroot = resolve_driver(*d->options, 1000);
  ASSERT_FALSE(nonroot);
  EXPECT_EQ(nonroot.error().field, "driver");
  EXPECT_NE(nonroot.error().message.find("needs root"), std::string::npos);

  auto local = parse({"--driver", "local"});
  ASSERT_TRUE(local && local->options);
  auto refused = resolve_driver(*local->options, 0);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("--insecure-local-driver"), std::string::npos);
  EXPECT_EQ(*resolve_driver(*local->options, 1000), "local");
  auto allowed = parse({"--driver", "local", "--insecure-local-driver"});
  ASSERT_TRUE(allowed && allowed->options);
  EXPECT_EQ(*resolve_driver(*allowed->options, 0), "local");

  EXPECT_EQ(parse({"--driver", "docker"}).error().field, "driver");
  EXPECT_EQ(parse({"--lxc-slots", "0"}).error().field, "lxc-slots");
  EXPECT_EQ(parse({"--lxc-disk-gb-default", "300"}).error().field, "lxc-disk-gb-max");
  auto lxc = parse({"--driver", "lxc", "--lxc-bridge-dev", "zt1d", "--lxc-nat", "false"});
  ASSERT_TRUE(lxc && lxc->options);
  EXPECT_EQ(lxc->options->lxc_bridge_dev, "zt1d");
  EXPECT_FALSE(lxc->options->lxc_nat);
}

}  // namespace
}  // namespace zlh::api

namespace zlh::api {
namespace {

TEST(Options, IdeOriginFlagsGoTogetherAndAreChecked) {
  auto d = parse({});
  ASSERT_TRUE(d && d->options);
  EXPECT_TRUE(d->options->ide_listen.empty()) << "off unless configured";
  EXPECT_EQ(d->options->ide_ticket_ttl_s, 60);
  auto o =
      parse({"--ide-listen", "127.0.0.1:8081", "--ide-origin", "http://{vmid}.localhost:8081/"});
  ASSERT_TRUE(o && o->options) << (o ? "" : o.error().message);
  EXPECT_EQ(o->options->ide_origin, "http://{vmid}.localhost:8081");
  for (auto [args, field] : std::vector<std::pair<std::vector<const char*>, const char*>>{
           {{"--ide-listen", "127.0.0.1:8081"}, "ide-origin"},
           {{"--ide-origin", "http://{vmid}.localhost:8081"}, "ide-listen"},
           {{"--ide-listen", "nope", "--ide-origin", "http://{vmid}.localhost:8081"}, "ide-listen"},
           {{"--ide-listen", "127.0.0.1:8080", "--ide-origin", "http://{vmid}.localhost:8081"},
            "ide-listen"},
           {{"--ide-listen", "127.0.0.1:8081", "--ide-origin", "http://127.0.0.1:8081"},
            "ide-origin"},
           {{"--ide-listen", "127.0.0.1:8081", "--ide-origin", "{vmid}.localhost"}, "ide-origin"},
           {{"--ide-ticket-ttl", "4"}, "ide-ticket-ttl"},
           {{"--ide-ticket-ttl", "301"}, "ide-ticket-ttl"}}) {
    auto r = parse(args);
    ASSERT_FALSE(r) << field;
    EXPECT_EQ(r.error().field, field);
  }
}

TEST(Options, BackupDefaultsAndFlags) {
  auto d = parse({});
  ASSERT_TRUE(d && d->options) << (d ? "" : d.error().message);
  EXPECT_EQ(d->options->backup_dir, "/nonexistent-zlh-options-test/backups");
  EXPECT_EQ(d->options->backup_keep, 10);
  EXPECT_EQ(d->options->backup_quota, int64_t(20) << 30);
  EXPECT_FALSE(d->options->keep_backups);

  auto o = parse({"--backup-dir", "/srv/zlh-backups", "--backup-keep", "3", "--backup-quota", "0",
                  "--keep-backups"});
  ASSERT_TRUE(o && o->options) << (o ? "" : o.error().message);
  EXPECT_EQ(o->options->backup_dir, "/srv/zlh-backups");
  EXPECT_EQ(o->options->backup_keep, 3);
  EXPECT_EQ(o->options->backup_quota, 0);
  EXPECT_TRUE(o->options->keep_backups);

  for (auto [flag, value, field] : std::vector<std::tuple<const char*, const char*, const char*>>{
           {"--backup-keep", "0", "backup-keep"},
           {"--backup-keep", "1001", "backup-keep"},
           {"--backup-quota", "-1", "backup-quota"}}) {
    auto r = parse({flag, value});
    ASSERT_FALSE(r) << flag << " " << value;
    EXPECT_EQ(r.error().field, field);
  }
}

TEST(Options, StoreDefaultsToTheSqliteFileInTheDataDirectory) {
  auto d = parse({});
  ASSERT_TRUE(d && d->options) << (d ? "" : d.error().message);
  EXPECT_EQ(d->options->store, "sqlite:/nonexistent-zlh-options-test/zlh.db");
  auto pg = parse({"--store", "postgresql://zlh@db.internal/zlh?pool=8"});
  ASSERT_TRUE(pg && pg->options) << (pg ? "" : pg.error().message);
  EXPECT_EQ(pg->options->store, "postgresql://zlh@db.internal/zlh?pool=8");
  auto file = parse({"--store", "sqlite:/srv/zlh.db"});
  ASSERT_TRUE(file && file->options);
  EXPECT_EQ(file->options->store, "sqlite:/srv/zlh.db");
}

TEST(Options, StoreRefusesPasswordsAndUnknownSchemes) {
  for (const char* url : {"postgresql://zlh:hunter2@db/zlh", "postgres://db/zlh?password=hunter2",
                          "mysql://db/zlh", "/srv/zlh.db", "sqlite:"}) {
    auto r = parse({"--store", url});
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.error().field, "store") << url;
    EXPECT_EQ(r.error().message.find("hunter2"), std::string::npos) << r.error().message;
  }
  auto r = parse({"--store-password-file", "/etc/zlh/pw"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "store-password-file");
}

TEST(Options, StorePasswordFromAPrivateFileOrTheEnvironment) {
  char dir[] = "/tmp/zlh-options-test-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/pw";
  Options o;
  o.store = "postgresql://db/zlh";
  o.store_password_file = path;
  auto missing = load_store_password(o);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, codes::kNotFound);

  ASSERT_TRUE(fs::write_file_atomic(path, "s3cret pw\n", 0640));
  auto loose = load_store_password(o);
  ASSERT_FALSE(loose);
  EXPECT_EQ(loose.error().field, "store-password-file");
  EXPECT_EQ(loose.error().message.find("s3cret"), std::string::npos);

  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  auto pw = load_store_password(o);
  ASSERT_TRUE(pw) << pw.error().message;
  EXPECT_EQ(*pw, std::optional<std::string>("s3cret pw"));

  ASSERT_TRUE(fs::write_file_atomic(path, "", 0600));
  EXPECT_FALSE(load_store_password(o));

  o.store_password_file.clear();
  ::setenv(kStorePasswordEnv, "from-env", 1);
  auto env = load_store_password(o);
  ASSERT_TRUE(env);
  EXPECT_EQ(*env, std::optional<std::string>("from-env"));
  EXPECT_EQ(std::getenv(kStorePasswordEnv), nullptr) << "children must not inherit it";
  EXPECT_EQ(load_store_password(o).value(), std::nullopt);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace zlh::api
