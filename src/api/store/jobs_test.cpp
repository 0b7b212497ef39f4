#include <gtest/gtest.h>

#include "api/store/test_util.hpp"

namespace zlh::api::store {
namespace {

using namespace std::chrono_literals;
using testing::StoreTest;

const std::vector<std::string> kSteps = {"allocate vmid",   "create",           "configure",
                                         "start",           "wait for address", "send config",
                                         "wait for running"};

class JobsTest : public StoreTest {
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
};

TEST_P(JobsTest, StepsAndStateRoundTripAcrossARestart) {
  int64_t ann = make_user("ann");
  CreatedServer c = make_server(ann);
  const int64_t job = c.job.id;
  const Time t0 = clock.now();

  ASSERT_TRUE(store->update_job_state(job, JobState::kRunning));
  clock.advance(1s);
  ASSERT_TRUE(store->update_job_step(job, 0, StepState::kRunning));
  clock.advance(1s);
  ASSERT_TRUE(store->update_job_step(job, 0, StepState::kDone, "vmid 6000"));
  ASSERT_TRUE(store->update_job_step(job, 1, StepState::kRunning, "cloning template"));
  clock.advance(1s);
  ASSERT_TRUE(store->update_job_step(job, 1, StepState::kRunning)) << "repeatable";

  reopen();  // the API restarts mid-job

  auto unfinished = store->list_unfinished_jobs();
  ASSERT_TRUE(unfinished.has_value());
  ASSERT_EQ(unfinished->size(), 1u);
  const Job& j = unfinished->front();
  EXPECT_EQ(j.id, job);
  EXPECT_EQ(j.server_id, c.server.id);
  EXPECT_EQ(j.state, JobState::kRunning);
  EXPECT_EQ(j.created_at, t0);
  EXPECT_EQ(j.updated_at, t0 + 3s) << "step updates touch the job";
  ASSERT_EQ(j.steps.size(), kSteps.size());
  for (size_t i = 0; i < kSteps.size(); ++i) {
    EXPECT_EQ(j.steps[i].idx, static_cast<int>(i));
    EXPECT_EQ(j.steps[i].name, kSteps[i]);
  }
  EXPECT_EQ(j.steps[0].state, StepState::kDone);
  EXPECT_EQ(j.steps[0].detail, "vmid 6000");
  EXPECT_EQ(j.steps[0].started_at, t0 + 1s);
  EXPECT_EQ(j.steps[0].finished_at, t0 + 2s);
  EXPECT_EQ(j.steps[1].state, StepState::kRunning);
  EXPECT_EQ(j.steps[1].detail, "cloning template") << "detail kept when not given";
  EXPECT_EQ(j.steps[1].started_at, t0 + 2s) << "first start kept";
  EXPECT_FALSE(j.steps[1].finished_at.has_value());
  EXPECT_EQ(j.steps[2].state, StepState::kPending);
  EXPECT_FALSE(j.steps[2].started_at.has_value());

  // A failed step retried: running again clears finished_at.
  ASSERT_TRUE(store->update_job_step(job, 1, StepState::kFailed, "clone timed out"));
  EXPECT_TRUE(store->get_job(job)->steps[1].finished_at.has_value());
  ASSERT_TRUE(store->update_job_step(job, 1, StepState::kRunning));
  EXPECT_FALSE(store->get_job(job)->steps[1].finished_at.has_value());

  for (int i = 1; i < static_cast<int>(kSteps.size()); ++i)
    ASSERT_TRUE(store->update_job_step(job, i, StepState::kDone));
  ASSERT_TRUE(store->update_job_state(job, JobState::kDone));
  EXPECT_TRUE(store->list_unfinished_jobs()->empty());
  auto done = store->get_job_for_owner(job, ann);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->state, JobState::kDone);
}

TEST_P(JobsTest, FailureAndCompensationWithError) {
  int64_t ann = make_user("ann");
  const int64_t job = make_server(ann).job.id;
  ASSERT_TRUE(store->update_job_state(job, JobState::kRunning));
  ASSERT_TRUE(store->update_job_state(job, JobState::kFailed, "agent error: java missing"));
  EXPECT_TRUE(store->list_unfinished_jobs()->empty()) << "failed is not resumed by itself";
  ASSERT_TRUE(store->update_job_state(job, JobState::kCompensating));
  auto j = store->get_job(job);
  EXPECT_EQ(j->state, JobState::kCompensating);
  EXPECT_EQ(j->error, "agent error: java missing") << "error kept when not given";
  EXPECT_EQ(store->list_unfinished_jobs()->size(), 1u) << "compensation is resumed";
  ASSERT_TRUE(store->update_job_state(job, JobState::kCompensated));
  ASSERT_TRUE(store->update_job_state(job, JobState::kCompensated)) << "same state is fine";

  auto back = store->update_job_state(job, JobState::kRunning);
  ASSERT_FALSE(back.has_value());
  EXPECT_EQ(back.error().code, codes::kConflict);
  EXPECT_NE(back.error().message.find("compensated to running"), std::string::npos)
      << back.error().message;
}

TEST(JobTransitions, MatchTheDocumentedMachine) {
  using S = JobState;
  EXPECT_TRUE(job_transition_allowed(S::kQueued, S::kRunning));
  EXPECT_TRUE(job_transition_allowed(S::kRunning, S::kDone));
  EXPECT_TRUE(job_transition_allowed(S::kRunning, S::kCompensating));
  EXPECT_TRUE(job_transition_allowed(S::kFailed, S::kCompensating));
  EXPECT_TRUE(job_transition_allowed(S::kCompensating, S::kFailed));
  EXPECT_FALSE(job_transition_allowed(S::kQueued, S::kDone));
  EXPECT_FALSE(job_transition_allowed(S::kDone, S::kRunning));
  EXPECT_FALSE(job_transition_allowed(S::kFailed, S::kRunning));
  EXPECT_FALSE(job_transition_allowed(S::kCompensated, S::kCompensating));
  EXPECT_TRUE(is_unfinished(S::kCompensating));
  EXPECT_FALSE(is_unfinished(S::kFailed));
}

TEST_P(JobsTest, OneUnfinishedJobPerServer) {
  int64_t ann = make_user("ann");
  CreatedServer c = make_server(ann);
  const std::vector<std::string> del = {"stop", "destroy", "release"};
  auto busy = store->create_job(c.server.id, JobKind::kDelete, del);
  ASSERT_FALSE(busy.has_value());
  EXPECT_EQ(busy.error().code, codes::kConflict);

  ASSERT_TRUE(store->update_job_state(c.job.id, JobState::kRunning));
  ASSERT_TRUE(store->update_job_state(c.job.id, JobState::kFailed, "boom"));
  auto d = store->create_job(c.server.id, JobKind::kDelete, del);
  ASSERT_TRUE(d.has_value()) << d.error().to_string();
  EXPECT_EQ(d->state, JobState::kQueued);
  ASSERT_EQ(d->steps.size(), 3u);
  EXPECT_EQ(d->steps[2].name, "release");

  // The failed create job cannot come back to life beside the delete job.
  auto revive = store->update_job_state(c.job.id, JobState::kCompensating);
  ASSERT_FALSE(revive.has_value());
  EXPECT_EQ(revive.error().code, codes::kConflict);
  EXPECT_EQ(store->get_job(c.job.id)->state, JobState::kFailed);
}

TEST_P(JobsTest, UnfinishedJobsAreListedOldestFirst) {
  int64_t ann = make_user("ann");
  std::vector<int64_t> jobs;
  for (int i = 0; i < 4; ++i) jobs.push_back(make_server(ann).job.id);
  ASSERT_TRUE(store->update_job_state(jobs[0], JobState::kRunning));
  ASSERT_TRUE(store->update_job_state(jobs[0], JobState::kDone));
  ASSERT_TRUE(store->update_job_state(jobs[2], JobState::kRunning));
  ASSERT_TRUE(store->update_job_state(jobs[3], JobState::kCompensating));
  auto list = store->list_unfinished_jobs();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].id, jobs[1]);
  EXPECT_EQ((*list)[0].state, JobState::kQueued);
  EXPECT_EQ((*list)[1].id, jobs[2]);
  EXPECT_EQ((*list)[2].id, jobs[3]);
  EXPECT_EQ((*list)[2].steps.size(), kSteps.size());
}

TEST_P(JobsTest, MissingJobsAndSteps) {
  int64_t ann = make_user("ann");
  CreatedServer c = make_server(ann);
  EXPECT_EQ(store->get_job(c.job.id + 10).error().code, codes::kNotFound);
  EXPECT_EQ(store->update_job_state(c.job.id + 10, JobState::kRunning).error().code,
            codes::kNotFound);
  EXPECT_EQ(store->update_job_step(c.job.id, 99, StepState::kDone).error().code, codes::kNotFound);
  EXPECT_EQ(store->update_job_step(c.job.id + 10, 0, StepState::kDone).error().code,
            codes::kNotFound);
  EXPECT_EQ(store->create_job(c.server.id + 10, JobKind::kDelete, kSteps).error().code,
            codes::kNotFound);
  EXPECT_EQ(store->create_job(c.server.id, JobKind::kDelete, {}).error().code, codes::kInvalid);
}

}  // namespace
}  // namespace zlh::api::store

namespace zlh::api::store {
namespace {

class DeleteJobTest : public JobsTest {};

TEST_P(DeleteJobTest, DeletingDuringProvisioningCancelsTheCreateJob) {
  CreatedServer c = make_server(make_user("ann"));
  ASSERT_TRUE(store->update_job_state(c.job.id, JobState::kRunning));
  auto d = store->create_delete_job(c.server.id, {kSteps.begin(), kSteps.begin() + 2});
  ASSERT_TRUE(d.has_value()) << d.error().to_string();
  EXPECT_FALSE(d->existing);
  ASSERT_TRUE(d->cancelled_job.has_value());
  EXPECT_EQ(*d->cancelled_job, c.job.id);
  EXPECT_EQ(d->job.kind, JobKind::kDelete);
  // The server reads `deleting` at once, before any runner has picked the job up.
  EXPECT_EQ(store->get_server(c.server.id)->state, ServerState::kDeleting);
  auto old = store->get_job(c.job.id);
  EXPECT_EQ(old->state, JobState::kCancelled);
  EXPECT_NE(old->error.find("deleted"), std::string::npos) << old->error;
  // Final: the cancelled runner's late writes are refused.
  EXPECT_FALSE(store->update_job_state(c.job.id, JobState::kDone));
  EXPECT_FALSE(store->update_job_state(c.job.id, JobState::kCompensating));
  // Only the delete job is resumed after a restart.
  reopen();
  auto unfinished = store->list_unfinished_jobs();
  ASSERT_EQ(unfinished->size(), 1u);
  EXPECT_EQ(unfinished->front().id, d->job.id);
  // Deleting again returns the same delete job.
  auto again = store->create_delete_job(c.server.id, kSteps);
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->existing);
  EXPECT_EQ(again->job.id, d->job.id);
  EXPECT_FALSE(again->cancelled_job);
}

TEST_P(DeleteJobTest, ACompensationUnderWayIsAConflictAndAFinishedServerNeedsNoCancel) {
  int64_t ann = make_user("ann");
  CreatedServer c = make_server(ann);
  ASSERT_TRUE(store->update_job_state(c.job.id, JobState::kCompensating));
  auto d = store->create_delete_job(c.server.id, kSteps);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code, codes::kConflict);
  ASSERT_TRUE(store->update_job_state(c.job.id, JobState::kCompensated));
  d = store->create_delete_job(c.server.id, kSteps);
  ASSERT_TRUE(d.has_value());
  EXPECT_FALSE(d->cancelled_job);
  EXPECT_EQ(store->get_job(c.job.id)->state, JobState::kCompensated);
  ASSERT_TRUE(store->delete_server(c.server.id));
  EXPECT_EQ(store->create_delete_job(c.server.id, kSteps).error().code, codes::kNotFound);
  EXPECT_EQ(store->create_delete_job(c.server.id, {}).error().code, codes::kInvalid);
}

TEST_P(JobsTest, LatestJobOfAServer) {
  int64_t ann = make_user("ann");
  CreatedServer a = make_server(ann);
  CreatedServer b = make_server(ann);
  auto la = store->latest_job_for_server(a.server.id);
  ASSERT_TRUE(la.has_value());
  EXPECT_EQ(la->id, a.job.id);
  EXPECT_EQ(la->kind, JobKind::kCreate);
  ASSERT_TRUE(store->update_job_state(a.job.id, JobState::kRunning));
  ASSERT_TRUE(store->update_job_state(a.job.id, JobState::kDone));
  auto del = store->create_delete_job(a.server.id, kSteps);
  ASSERT_TRUE(del.has_value());
  la = store->latest_job_for_server(a.server.id);
  ASSERT_TRUE(la.has_value());
  EXPECT_EQ(la->id, del->job.id);
  EXPECT_EQ(la->kind, JobKind::kDelete);
  EXPECT_EQ(store->latest_job_for_server(b.server.id)->id, b.job.id);
  EXPECT_EQ(store->latest_job_for_server(b.server.id + 100).error().code, codes::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Engines, JobsTest, testing::engines(), testing::engine_name);
INSTANTIATE_TEST_SUITE_P(Engines, DeleteJobTest, testing::engines(), testing::engine_name);

}  // namespace
}  // namespace zlh::api::store
