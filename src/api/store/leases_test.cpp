// Job leases (leases.cpp): claims by age, expiry by the store's clock, the
// epoch that fences an earlier holder, renewal, release, and concurrent
// claims from two Stores on one file never taking the same job.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

using namespace std::chrono_literals;
using testing::SqliteStoreTest;

const std::vector<std::string> kSteps = {"one", "two", "three"};
constexpr auto kTtl = 30s;

class LeasesTest : public SqliteStoreTest {
 protected:
  CreatedServer make_server(int64_t owner) {
    NewServer n;
    n.owner_id = owner;
    n.type = ServerType::kDev;
    n.name = "x";
    auto c = store->create_server(n, kSteps);
    EXPECT_TRUE(c.has_value()) << c.error().to_string();
    return *c;
  }
  Lease claim(const std::string& owner, Store* s = nullptr) {
    auto l = (s ? s : store.get())->claim_job(owner, kTtl);
    EXPECT_TRUE(l.has_value()) << l.error().to_string();
    EXPECT_TRUE(l && l->has_value()) << owner << " claimed nothing";
    return l && *l ? **l : Lease{};
  }
  bool nothing_to_claim(const std::string& owner) {
    auto l = store->claim_job(owner, kTtl);
    EXPECT_TRUE(l.has_value()) << l.error().to_string();
    return l && !l->has_value();
  }
};

TEST_F(LeasesTest, ClaimsTheOldestUnleasedJobAndBumpsItsEpoch) {
  int64_t ann = make_user("ann");
  CreatedServer c1 = make_server(ann);
  CreatedServer c2 = make_server(ann);
  Lease a = claim("replica-a");
  EXPECT_EQ(a.job_id, c1.job.id);
  EXPECT_EQ(a.owner, "replica-a");
  EXPECT_EQ(a.epoch, 1);
  EXPECT_EQ(a.expires_at, clock.now() + kTtl);
  Lease b = claim("replica-b");
  EXPECT_EQ(b.job_id, c2.job.id) << "a leased job is skipped";
  EXPECT_TRUE(nothing_to_claim("replica-c"));

  // Finished jobs are never claimed.
  ASSERT_TRUE(store->release_lease(b));
  ASSERT_TRUE(store->update_job_state(c2.job.id, JobState::kRunning));
  ASSERT_TRUE(store->update_job_state(c2.job.id, JobState::kDone));
  EXPECT_TRUE(nothing_to_claim("replica-c"));
}

TEST_F(LeasesTest, AnExpiredLeaseIsClaimedAgainAndFencesItsFormerHolder) {
  int64_t ann = make_user("ann");
  CreatedServer c = make_server(ann);
  Lease a = claim("replica-a");
  ASSERT_TRUE(store->update_job_step(a, 0, StepState::kDone));
  clock.advance(kTtl - 1ms);
  EXPECT_TRUE(nothing_to_claim("replica-b")) << "not expired yet";
  clock.advance(1ms);
  Lease b = claim("replica-b");
  EXPECT_EQ(b.job_id, c.job.id);
  EXPECT_EQ(b.epoch, a.epoch + 1);

  // a's late writes change nothing.
  auto late = store->update_job_step(a, 1, StepState::kDone);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().code, codes::kConflict);
  EXPECT_EQ(late.error().message, "lease lost");
  EXPECT_EQ(store->update_job_state(a, JobState::kRunning).error().code, codes::kConflict);
  EXPECT_EQ(store->update_server(a, c.server.id, {.ip = "10.0.0.9"}).error().code,
            codes::kConflict);
  EXPECT_EQ(store->release_allocations(a, c.server.id).error().code, codes::kConflict);
  EXPECT_EQ(store->delete_server(a, c.server.id).error().code, codes::kConflict);
  EXPECT_EQ(store->move_to_free_vmid(a, c.server.id, *c.server.vmid, "x").error().code,
            codes::kConflict);
  auto job = store->get_job(c.job.id);
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->steps[0].state, StepState::kDone) << "written while a held the lease";
  EXPECT_EQ(job->steps[1].state, StepState::kPending);
  auto server = store->get_server(c.server.id);
  EXPECT_EQ(server->ip, "");
  EXPECT_EQ(server->vmid, c.server.vmid);
  EXPECT_EQ(store->check_lease(a).error().code, codes::kConflict);

  // b's go through.
  EXPECT_TRUE(store->update_job_step(b, 1, StepState::kDone));
  EXPECT_TRUE(store->update_server(b, c.server.id, {.ip = "10.0.0.9"}));
  EXPECT_EQ(*store->check_lease(b), JobState::kQueued);

  // Releasing a lost lease leaves the holder's alone.
  ASSERT_TRUE(store->release_lease(a));
  EXPECT_TRUE(store->check_lease(b).has_value());
}

TEST_F(LeasesTest, RenewalKeepsTheLeaseAndReportsTheLostOnes) {
  int64_t ann = make_user("ann");
  make_server(ann);
  make_server(ann);
  Lease a1 = claim("replica-a");
  Lease a2 = claim("replica-a");
  clock.advance(20s);
  auto r = store->renew_leases(std::vector<Lease>{a1, a2}, kTtl);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  ASSERT_EQ(r->renewed.size(), 2u);
  EXPECT_TRUE(r->lost.empty());
  EXPECT_EQ(r->renewed[0].expires_at, clock.now() + kTtl);
  EXPECT_EQ(r->renewed[0].epoch, a1.epoch) << "renewal keeps the epoch";
  clock.advance(20s);  // 40 s after the claim, 20 s after the renewal
  EXPECT_TRUE(nothing_to_claim("replica-b"));

  // a2 expires (its holder stalled) and b takes it: a2 is lost.
  clock.advance(kTtl);
  ASSERT_TRUE(store->renew_leases(std::vector<Lease>{a1}, kTtl));
  Lease b = claim("replica-b");
  EXPECT_EQ(b.job_id, a2.job_id);
  r = store->renew_leases(std::vector<Lease>{a1, a2}, kTtl);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->renewed.size(), 1u);
  EXPECT_EQ(r->renewed[0].job_id, a1.job_id);
  ASSERT_EQ(r->lost.size(), 1u);
  EXPECT_EQ(r->lost[0].job_id, a2.job_id);
  EXPECT_TRUE(store->renew_leases({}, kTtl)->renewed.empty());
}

TEST_F(LeasesTest, ReleaseLetsAnotherClaimAtOnce) {
  int64_t ann = make_user("ann");
  make_server(ann);
  Lease a = claim("replica-a");
  EXPECT_TRUE(nothing_to_claim("replica-b"));
  ASSERT_TRUE(store->release_lease(a));
  ASSERT_TRUE(store->release_lease(a)) << "repeatable";
  Lease b = claim("replica-b");
  EXPECT_EQ(b.job_id, a.job_id);
  EXPECT_EQ(b.epoch, 2);
}

TEST_F(LeasesTest, ClaimByIdTakesOnlyAClaimableJob) {
  int64_t ann = make_user("ann");
  CreatedServer c1 = make_server(ann);
  CreatedServer c2 = make_server(ann);
  auto l = store->claim_job_by_id(c2.job.id, "replica-a", kTtl);
  ASSERT_TRUE(l.has_value()) << l.error().to_string();
  ASSERT_TRUE(l->has_value());
  EXPECT_EQ((*l)->job_id, c2.job.id) << "not the oldest: the one asked for";
  EXPECT_FALSE(store->claim_job_by_id(c2.job.id, "replica-b", kTtl)->has_value()) << "held";
  EXPECT_FALSE(store->claim_job_by_id(c2.job.id, "replica-a", kTtl)->has_value())
      << "held by the same owner: its epoch is not bumped under its runner";
  EXPECT_FALSE(store->claim_job_by_id(999, "replica-a", kTtl)->has_value());
  ASSERT_TRUE(store->update_job_state(c1.job.id, JobState::kRunning));
  ASSERT_TRUE(store->update_job_state(c1.job.id, JobState::kFailed));
  EXPECT_FALSE(store->claim_job_by_id(c1.job.id, "replica-a", kTtl)->has_value()) << "finished";
  EXPECT_EQ(store->claim_job("", kTtl).error().code, codes::kInvalid);
  EXPECT_EQ(store->claim_job("a", 0ms).error().code, codes::kInvalid);
}

TEST_F(LeasesTest, ACancelledCreateKeepsItsLeaseUntilReleasedAndTheDeleteSeesIt) {
  int64_t ann = make_user("ann");
  CreatedServer c = make_server(ann);
  Lease a = claim("replica-a");
  auto del = store->create_delete_job(c.server.id, kSteps);
  ASSERT_TRUE(del.has_value()) << del.error().to_string();
  auto r = store->renew_leases(std::vector<Lease>{a}, kTtl);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->renewed.size(), 1u);
  EXPECT_EQ(r->cancelled, std::vector<int64_t>{c.job.id});
  EXPECT_EQ(*store->check_lease(a), JobState::kCancelled);
  Lease b = claim("replica-b");
  EXPECT_EQ(b.job_id, del->job.id) << "the cancelled create is not claimable";
  EXPECT_TRUE(*store->other_job_leased(c.server.id, del->job.id));
  ASSERT_TRUE(store->release_lease(a));
  EXPECT_FALSE(*store->other_job_leased(c.server.id, del->job.id));
  EXPECT_TRUE(*store->other_job_leased(c.server.id, c.job.id))
      << "seen from the create, the delete job's lease is another's";
}

TEST_F(LeasesTest, AFenceCoversEveryWriteOfTheThread) {
  int64_t ann = make_user("ann");
  CreatedServer c = make_server(ann);
  Lease a = claim("replica-a");
  {
    LeaseFence f(a);
    EXPECT_TRUE(store->update_server(c.server.id, {.node = "n1"}));
  }
  clock.advance(kTtl);
  claim("replica-b");
  {
    LeaseFence f(a);
    EXPECT_EQ(store->update_server(c.server.id, {.node = "n2"}).error().code, codes::kConflict);
    EXPECT_EQ(store->append_audit({std::nullopt, "x", "", "{}", "", std::nullopt}).error().code,
              codes::kConflict);
  }
  EXPECT_TRUE(store->update_server(c.server.id, {.node = "n3"})) << "unfenced again";
  EXPECT_EQ(store->get_server(c.server.id)->node, "n3");
}

TEST_F(LeasesTest, TwoStoresClaimingAtOnceNeverShareAJob) {
  int64_t ann = make_user("ann");
  constexpr int kJobs = 24;
  for (int i = 0; i < kJobs; ++i) make_server(ann);
  auto other = Store::open(db_path(), {.clock = clock.fn()});
  ASSERT_TRUE(other.has_value()) << other.error().to_string();
  std::vector<int64_t> got[2];
  auto claimer = [&](Store& s, const std::string& owner, std::vector<int64_t>& out) {
    for (;;) {
      auto l = s.claim_job(owner, kTtl);
      if (!l) continue;  // E_UNAVAILABLE under contention: try again
      if (!l->has_value()) return;
      out.push_back((*l)->job_id);
    }
  };
  std::thread ta([&] { claimer(*store, "replica-a", got[0]); });
  std::thread tb([&] { claimer(**other, "replica-b", got[1]); });
  ta.join();
  tb.join();
  std::set<int64_t> all(got[0].begin(), got[0].end());
  all.insert(got[1].begin(), got[1].end());
  EXPECT_EQ(all.size(), size_t(kJobs));
  EXPECT_EQ(got[0].size() + got[1].size(), size_t(kJobs)) << "no job claimed twice";
}

}  // namespace
}  // namespace zlh::api::store
