#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

using testing::StoreTest;

const std::vector<std::string> kOne = {"step"};

class BackupsTest : public StoreTest {
 protected:
  int64_t make_server(int64_t owner) {
    NewServer n;
    n.owner_id = owner;
    n.type = ServerType::kGame;
    n.name = "mc";
    auto c = store->create_server(n, kOne);
    EXPECT_TRUE(c.has_value()) << c.error().to_string();
    EXPECT_TRUE(store->update_job_state(c->job.id, JobState::kRunning));
    EXPECT_TRUE(store->update_job_state(c->job.id, JobState::kDone));
    return c->server.id;
  }
  // A finished backup of `size` bytes.
  Backup ready_backup(int64_t server, int64_t owner, int64_t size) {
    auto s = store->create_backup_job({server, owner, "b", BackupKind::kManual}, 0, kOne);
    EXPECT_TRUE(s.has_value()) << s.error().to_string();
    EXPECT_TRUE(store->update_backup(s->backup.id,
                                     {.state = BackupState::kReady, .size = size, .sha256 = "ab"}));
    EXPECT_TRUE(store->update_job_state(s->job.id, JobState::kRunning));
    EXPECT_TRUE(store->update_job_state(s->job.id, JobState::kDone));
    return *store->get_backup(s->backup.id);
  }
};

TEST_P(BackupsTest, ABackupJobCarriesItsBackupAndRoundTrips) {
  int64_t ann = make_user("ann");
  int64_t srv = make_server(ann);
  auto s = store->create_backup_job({srv, ann, "nightly", BackupKind::kScheduled}, 0, kOne);
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  EXPECT_EQ(s->job.kind, JobKind::kBackup);
  EXPECT_EQ(nlohmann::json::parse(s->job.params)["backup_id"], s->backup.id);
  auto j = store->get_job(s->job.id);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->params, s->job.params);
  EXPECT_EQ(to_string(j->kind), "backup");
  EXPECT_EQ(s->backup.state, BackupState::kCreating);
  EXPECT_EQ(s->backup.name, "nightly");
  EXPECT_EQ(to_string(s->backup.kind), "scheduled");
  ASSERT_TRUE(store->update_backup(
      s->backup.id,
      {.state = BackupState::kReady, .size = 42, .sha256 = "cafe", .finished_at = clock.now()}));
  auto b = store->get_backup(s->backup.id);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->size, 42);
  EXPECT_EQ(b->sha256, "cafe");
  EXPECT_EQ(b->finished_at, clock.now());
  // One unfinished job per server: a second backup waits for the first.
  auto again = store->create_backup_job({srv, ann, "x", BackupKind::kManual}, 0, kOne);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, codes::kConflict);
  // ... and the server's deletion is refused while it runs.
  auto del = store->create_delete_job(srv, kOne);
  ASSERT_FALSE(del);
  EXPECT_EQ(del.error().code, codes::kConflict);
}

TEST_P(BackupsTest, QuotaCountsTheOwnersBytesButNotFailedOnes) {
  int64_t ann = make_user("ann"), bob = make_user("bob");
  int64_t a1 = make_server(ann), a2 = make_server(ann), b1 = make_server(bob);
  ready_backup(a1, ann, 600);
  ready_backup(a2, ann, 400);
  ready_backup(b1, bob, 5000);
  EXPECT_EQ(*store->backup_bytes_used(ann), 1000);
  auto full = store->create_backup_job({a1, ann, "x", BackupKind::kManual}, 1000, kOne);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, codes::kQuota);
  EXPECT_NE(full.error().message.find("backup_bytes"), std::string::npos);
  EXPECT_TRUE(store->list_backups(a1)->size() == 1);  // nothing was created
  auto ok = store->create_backup_job({a1, ann, "x", BackupKind::kManual}, 1001, kOne);
  ASSERT_TRUE(ok) << ok.error().to_string();
  ASSERT_TRUE(store->update_backup(ok->backup.id, {.state = BackupState::kFailed, .size = 999}));
  EXPECT_EQ(*store->backup_bytes_used(ann), 1000);
}

TEST_P(BackupsTest, RestoreMarksTheBackupAndRefusesOverQuotaBeforeAnything) {
  int64_t ann = make_user("ann");
  int64_t srv = make_server(ann);
  Backup b = ready_backup(srv, ann, 300);
  auto over = store->create_restore_job(srv, b.id, ann, 599, kOne);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, codes::kQuota);
  EXPECT_EQ(store->list_backups(srv)->size(), 1u);
  EXPECT_EQ(store->get_backup(b.id)->state, BackupState::kReady);

  auto r = store->create_restore_job(srv, b.id, ann, 600, kOne);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->job.kind, JobKind::kRestore);
  auto params = nlohmann::json::parse(r->job.params);
  EXPECT_EQ(params["backup_id"], b.id);
  EXPECT_EQ(params["pre_restore_id"], r->pre_restore.id);
  EXPECT_EQ(r->pre_restore.kind, BackupKind::kPreRestore);
  EXPECT_EQ(store->get_backup(b.id)->state, BackupState::kRestoring);
  auto del = store->delete_backup(b.id);
  ASSERT_FALSE(del);
  EXPECT_EQ(del.error().code, codes::kConflict);
  // Not ready: refused.
  auto again = store->create_restore_job(srv, r->pre_restore.id, ann, 0, kOne);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, codes::kConflict);
  // Another server's backup id is not found.
  int64_t other = make_server(ann);
  auto wrong = store->create_restore_job(other, b.id, ann, 0, kOne);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, codes::kNotFound);
}

TEST_P(BackupsTest, ListIsNewestFirstAndDeletesAreRepeatable) {
  int64_t ann = make_user("ann");
  int64_t srv = make_server(ann);
  Backup a = ready_backup(srv, ann, 1), b = ready_backup(srv, ann, 2);
  auto l = store->list_backups(srv);
  ASSERT_TRUE(l);
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[0].id, b.id);
  EXPECT_EQ((*l)[1].id, a.id);
  ASSERT_TRUE(store->delete_backup(a.id));
  ASSERT_TRUE(store->delete_backup(a.id));
  EXPECT_EQ(store->list_backups(srv)->size(), 1u);
  ASSERT_TRUE(store->delete_backups_of_server(srv));
  EXPECT_TRUE(store->list_backups(srv)->empty());
}

TEST_P(BackupsTest, BackupQuotaOverrideRoundTrips) {
  int64_t ann = make_user("ann");
  QuotaOverrides q;
  q.servers = 3;
  q.backup_bytes = 1 << 20;
  ASSERT_TRUE(store->set_quotas(ann, q));
  auto got = store->get_quotas(ann);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->backup_bytes, 1 << 20);
  EXPECT_EQ(got->servers, 3);
  q.backup_bytes = -1;
  EXPECT_FALSE(store->set_quotas(ann, q));
}

INSTANTIATE_TEST_SUITE_P(Engines, BackupsTest, testing::engines(), testing::engine_name);

}  // namespace
}  // namespace zlh::api::store
