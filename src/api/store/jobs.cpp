// Provisioning jobs and their steps.
#include <stdexcept>
#include <string>

#include "api/store/impl.hpp"

namespace zlh::api::store {

// is_unfinished() as the SQL the jobs table needs:
// "IN ('queued','running','compensating')", written with to_string.
const std::string& unfinished_in() {
  static const std::string sql = [] {
    std::string out;
    for (JobState st : {JobState::kQueued, JobState::kRunning, JobState::kDone, JobState::kFailed,
                        JobState::kCompensating, JobState::kCompensated, JobState::kCancelled})
      if (is_unfinished(st)) out += (out.empty() ? "IN ('" : "','") + std::string(to_string(st));
    return out + "')";
  }();
  return sql;
}

namespace {

std::vector<JobStep> load_steps(Db& db, int64_t job_id) {
  Stmt q = db.prepare(
      "SELECT idx, name, state, detail, started_at, finished_at FROM job_steps"
      " WHERE job_id = ? ORDER BY idx");
  q.bind(1, job_id);
  std::vector<JobStep> out;
  while (q.step())
    out.push_back(JobStep{q.col(0).int32(), q.col(1).text(),
                          must(parse_step_state(q.col(2).text())), q.col(3).text(),
                          opt_time(q.col(4)), opt_time(q.col(5))});
  return out;
}

// Jobs matching `where` (over jobs j joined with their server s), with steps.
template <typename Bind>
std::vector<Job> query_jobs(Db& db, std::string_view where, Bind bind) {
  Stmt q = db.prepare(std::string("SELECT j.id, j.server_id, j.kind, j.state, j.error,"
                                  " j.created_at, j.updated_at, j.params FROM jobs j"
                                  " JOIN servers s ON s.id = j.server_id WHERE ") +
                      std::string(where) + " ORDER BY j.id");
  bind(q);
  std::vector<Job> out;
  while (q.step())
    out.push_back(Job{q.col(0).int64(),
                      q.col(1).int64(),
                      must(parse_job_kind(q.col(2).text())),
                      must(parse_job_state(q.col(3).text())),
                      q.col(4).text(),
                      from_ms(q.col(5).int64()),
                      from_ms(q.col(6).int64()),
                      {},
                      q.col(7).text()});
  for (Job& j : out) j.steps = load_steps(db, j.id);
  return out;
}

template <typename Bind>
Result<Job> one_job(Db& db, std::string_view where, Bind bind) {
  auto jobs = query_jobs(db, where, bind);
  if (jobs.empty()) return fail(codes::kNotFound, "job not found");
  return std::move(jobs.front());
}

}  // namespace

Job insert_job(Db& db, int64_t server_id, JobKind kind, std::span<const std::string> steps,
               int64_t now_ms, const std::string& params) {
  Stmt ins = db.prepare(
      "INSERT INTO jobs(server_id, kind, state, created_at, updated_at, params)"
      " VALUES (?,?,?,?,?,?) RETURNING id");
  ins.bind(1, server_id);
  ins.bind(2, std::string(to_string(kind)));
  ins.bind(3, std::string(to_string(JobState::kQueued)));
  ins.bind(4, now_ms);
  ins.bind(5, now_ms);
  ins.bind(6, params);
  const int64_t id = returning_id(ins);
  Job job{id, server_id, kind, JobState::kQueued, "", from_ms(now_ms), from_ms(now_ms), {}, params};
  Stmt step = db.prepare("INSERT INTO job_steps(job_id, idx, name) VALUES (?,?,?)");
  for (size_t i = 0; i < steps.size(); ++i) {
    step.reset();
    step.bind(1, job.id);
    step.bind(2, static_cast<int>(i));
    step.bind(3, steps[i]);
    step.exec();
    job.steps.push_back(JobStep{static_cast<int>(i), steps[i], StepState::kPending, "", {}, {}});
  }
  return job;
}

Result<Job> Store::create_job(int64_t server_id, JobKind kind, std::span<const std::string> steps) {
  if (steps.empty()) return std::unexpected(Error::invalid("steps", "a job needs steps"));
  return impl_->write("create job", [&](Db& db) -> Result<Job> {
    if (!row_exists(db, "SELECT 1 FROM servers WHERE id = ? AND deleted_at IS NULL", server_id))
      return fail(codes::kNotFound, "server not found");
    // Checked first for a clear message; the partial unique index
    // jobs_one_unfinished stays the guarantee.
    Stmt busy = db.prepare("SELECT id FROM jobs WHERE server_id = ? AND state " + unfinished_in());
    busy.bind(1, server_id);
    if (busy.step())
      return fail(codes::kConflict,
                  "server has an unfinished job (" + std::to_string(busy.col(0).int64()) + ")");
    return insert_job(db, server_id, kind, steps, impl_->now_ms());
  });
}

Result<DeleteJob> Store::create_delete_job(int64_t server_id, std::span<const std::string> steps) {
  if (steps.empty()) return std::unexpected(Error::invalid("steps", "a job needs steps"));
  return impl_->write("create delete job", [&](Db& db) -> Result<DeleteJob> {
    if (!row_exists(db, "SELECT 1 FROM servers WHERE id = ? AND deleted_at IS NULL", server_id))
      return fail(codes::kNotFound, "server not found");
    DeleteJob out;
    auto busy = query_jobs(db, "j.server_id = ? AND j.state " + unfinished_in(),
                           [&](Stmt& q) { q.bind(1, server_id); });
    if (!busy.empty()) {
      Job& cur = busy.front();
      if (cur.kind == JobKind::kDelete) {
        out.job = std::move(cur);
        out.existing = true;
        return out;
      }
      if (cur.kind == JobKind::kBackup || cur.kind == JobKind::kRestore)
        return fail(codes::kConflict, "a " + std::string(to_string(cur.kind)) +
                                          " of the server is under way (job " +
                                          std::to_string(cur.id) + "); try again when it ends");
      if (cur.state == JobState::kCompensating)
        return fail(codes::kConflict, "the server's failed provisioning is being cleaned up (job " +
                                          std::to_string(cur.id) + "); try again when it ends");
      int64_t now = impl_->now_ms();
      Stmt cancel =
          db.prepare("UPDATE jobs SET state = 'cancelled', error = ?, updated_at = ? WHERE id = ?");
      cancel.bind(1, "cancelled: the server was deleted while it was being provisioned");
      cancel.bind(2, now);
      cancel.bind(3, cur.id);
      cancel.exec();
      out.cancelled_job = cur.id;
    }
    out.job = insert_job(db, server_id, JobKind::kDelete, steps, impl_->now_ms());
    // The server is on its way out from this moment, not from when the runner
    // picks the job up: the IDE proxy, Tailscale keys and the list all see
    // `deleting` at once (a DELETE ends access immediately, docs/design.md §10.4).
    Stmt mark = db.prepare("UPDATE servers SET state = 'deleting', updated_at = ? WHERE id = ?");
    mark.bind(1, impl_->now_ms());
    mark.bind(2, server_id);
    mark.exec();
    impl_->changed_server(db, server_id);  // every replica's IDE proxy refuses it now
    return out;
  });
}

Result<Job> Store::get_job(int64_t id) {
  return impl_->read(
      "get job", [&](Db& db) { return one_job(db, "j.id = ?", [&](Stmt& q) { q.bind(1, id); }); });
}

Result<Job> Store::latest_job_for_server(int64_t server_id) {
  return impl_->read("latest job", [&](Db& db) {
    return one_job(db, "j.id = (SELECT MAX(id) FROM jobs WHERE server_id = ?)",
                   [&](Stmt& q) { q.bind(1, server_id); });
  });
}

Result<Job> Store::get_job_for_owner(int64_t id, int64_t owner_id) {
  return impl_->read("get job", [&](Db& db) {
    return one_job(db,
                   "j.id = ?1 AND (s.owner_id = ?2 OR EXISTS (SELECT 1 FROM server_members m"
                   " WHERE m.server_id = s.id AND m.user_id = ?2))",
                   [&](Stmt& q) {
                     q.bind(1, id);
                     q.bind(2, owner_id);
                   });
  });
}

Result<void> Store::update_job_state(int64_t id, JobState state, std::optional<std::string> error) {
  return impl_->write("update job", [&](Db& db) -> Result<void> {
    Stmt cur = db.prepare("SELECT state FROM jobs WHERE id = ?");
    cur.bind(1, id);
    if (!cur.step()) return fail(codes::kNotFound, "job not found");
    JobState from = must(parse_job_state(cur.col(0).text()));
    if (!job_transition_allowed(from, state))
      return fail(codes::kConflict, "job cannot go from " + std::string(to_string(from)) + " to " +
                                        std::string(to_string(state)));
    if (!is_unfinished(from) && is_unfinished(state)) {
      // failed → compensating: only if no other job took the server meanwhile
      // (jobs_one_unfinished would refuse it anyway, less clearly).
      Stmt other = db.prepare(
          "SELECT o.id FROM jobs o JOIN jobs j ON o.server_id = j.server_id"
          " WHERE j.id = ? AND o.id != j.id"
          " AND o.state " +
          unfinished_in());
      other.bind(1, id);
      if (other.step())
        return fail(codes::kConflict, "server has another unfinished job (" +
                                          std::to_string(other.col(0).int64()) + ")");
    }
    Stmt q = db.prepare(
        "UPDATE jobs SET state = ?, error = coalesce(?, error), updated_at = ?"
        " WHERE id = ?");
    q.bind(1, std::string(to_string(state)));
    q.bind(2, error);
    q.bind(3, impl_->now_ms());
    q.bind(4, id);
    q.exec();
    return {};
  });
}

Result<void> Store::update_job_step(int64_t job_id, int idx, StepState state,
                                    std::optional<std::string> detail) {
  return impl_->write("update job step", [&](Db& db) -> Result<void> {
    const int64_t now = impl_->now_ms();
    Stmt q = db.prepare(
        "UPDATE job_steps SET state = ?1, detail = coalesce(?2, detail),"
        " started_at = CASE WHEN ?1 = 'running' THEN coalesce(started_at, ?3)"
        "                   ELSE started_at END,"
        " finished_at = CASE WHEN ?1 IN ('done', 'failed') THEN ?3 ELSE NULL END"
        " WHERE job_id = ?4 AND idx = ?5");
    q.bind(1, std::string(to_string(state)));
    q.bind(2, detail);
    q.bind(3, now);
    q.bind(4, job_id);
    q.bind(5, idx);
    if (q.exec() == 0) return fail(codes::kNotFound, "job step not found");
    Stmt touch = db.prepare("UPDATE jobs SET updated_at = ? WHERE id = ?");
    touch.bind(1, now);
    touch.bind(2, job_id);
    touch.exec();
    return {};
  });
}

Result<std::vector<Job>> Store::list_unfinished_jobs() {
  return impl_->read("list unfinished jobs", [](Db& db) -> Result<std::vector<Job>> {
    return query_jobs(db, "j.state " + unfinished_in(), [](Stmt&) {});
  });
}

}  // namespace zlh::api::store
