#include "agent/backups/backup_routes.hpp"

#include "agent/backups/restore.hpp"
#include "agent/backups/save_pause.hpp"
#include "agent/files/as_user.hpp"
#include "agent/files/file_store.hpp"
#include "agent/files/tar_stream.hpp"
#include "agent/game/record.hpp"
#include "agent/json_body.hpp"
#include "agent/task_reply.hpp"
#include "base/log.hpp"

namespace zlh::agent::backups {

using http::Request;
using http::Response;
using supervisor::ServiceState;

namespace {
constexpr std::string_view kComponent = "backups";

std::optional<ServiceState> state_of(supervisor::Supervisor& sup, const std::string& service) {
  auto v = sup.service(service);
  if (!v) return std::nullopt;
  return v->state;
}

// Stopped for good: not running, starting, stopping or about to restart.
bool at_rest(supervisor::Supervisor& sup, const std::string& service) {
  auto s = state_of(sup, service);
  return !s || *s == ServiceState::kStopped || *s == ServiceState::kExited ||
         *s == ServiceState::kCrashed;
}

// The archive as a response body; resumes the paused saves at the end of
// the archive, on an error, or when the client goes away (destruction).
// The resume commands go out on the TaskRunner (console I/O stays off the
// HTTP thread), or right here when it refuses (the agent is stopping).
class ArchiveSource : public http::BodySource {
 public:
  ArchiveSource(std::unique_ptr<files::TarStream> s, std::optional<files::Owner> owner,
                std::unique_ptr<PausedSaves> paused, TaskRunner& tasks)
      : s_(std::move(s)), owner_(owner), paused_(std::move(paused)), tasks_(tasks) {}
  Result<size_t> read(char* buf, size_t cap) override {
    Result<size_t> n;
    {
      files::AsUser as(owner_);  // the tree is walked as the workload user (H2)
      if (auto c = as.check(); !c) {
        n = fail(c.error());
      } else {
        n = s_->read(buf, cap);
      }
    }
    if (!n || *n == 0) resume();
    if (!n) log::warn(kComponent, "archive failed", {{"error", n.error().to_string()}});
    return n;
  }
  ~ArchiveSource() override { resume(); }

 private:
  void resume() {
    if (!paused_) return;
    std::shared_ptr<PausedSaves> p(std::move(paused_));
    // Refused: the lambda, and with it the last reference, goes now, and
    // PausedSaves' destructor resumes on this thread.
    tasks_.run([p](const std::atomic<bool>&) { (void)p->resume(); });
  }
  std::unique_ptr<files::TarStream> s_;
  std::optional<files::Owner> owner_;
  std::unique_ptr<PausedSaves> paused_;
  TaskRunner& tasks_;
};

// Pauses a running game that has a backup block; nullptr when there is
// nothing to pause.
Result<std::unique_ptr<PausedSaves>> maybe_pause(BackupDeps& d, const WorkloadRoot& w,
                                                 const std::atomic<bool>& cancel) {
  if (w.type != ContainerType::kGame || state_of(d.sup, w.service) != ServiceState::kRunning)
    return std::unique_ptr<PausedSaves>();
  auto rec = game::read_record(d.agent_root);
  if (!rec || !rec->backup) return std::unique_ptr<PausedSaves>();
  auto console = std::make_unique<ShimConsole>(d.sup.socket_path(w.service));
  return pause_saves(std::move(console), *rec->backup, &cancel);
}

Result<Response> open_archive(BackupDeps& d, const std::atomic<bool>& cancel) {
  auto w = d.root();
  if (!w) return fail(w.error());
  auto store = files::FileStore::open(w->dir, w->owner);
  if (!store) return fail(store.error());
  auto paused = maybe_pause(d, *w, cancel);
  if (!paused) return fail(paused.error());
  const bool was_paused = *paused != nullptr;
  std::optional<uid_t> link_owner;
  if (w->owner) link_owner = w->owner->uid;
  Result<std::unique_ptr<files::TarStream>> s;
  {
    files::AsUser as(w->owner);
    if (auto c = as.check(); !c) return fail(c.error());  // *paused resumes on return
    s = files::TarStream::open_flat(store->root_fd(), "", link_owner, files::Compression::kZstd);
  }
  if (!s) return fail(std::move(s.error()).wrap("backup archive"));
  Response res;
  res.source =
      std::make_shared<ArchiveSource>(std::move(*s), w->owner, std::move(*paused), d.tasks);
  res.headers.set("Content-Type", "application/zstd");
  res.headers.set("X-Zlh-Archive", "tar.zst");
  res.headers.set("X-Zlh-Consistency", was_paused ? "paused" : "not-paused");
  return res;
}

void get_archive(BackupDeps& d, http::Responder res) {
  run_or_refuse(d.tasks, res, [&d, res](const std::atomic<bool>& cancel) {
    auto r = open_archive(d, cancel);
    if (!r) return res.send_error(r.error());
    res.send(std::move(*r));
  });
}

// Frees the one-restore-at-a-time slot when the last holder goes.
struct RestoreSlot {
  std::shared_ptr<std::atomic<bool>> flag;
  ~RestoreSlot() { flag->store(false); }
};

class RestoreSink : public http::BodySink {
 public:
  RestoreSink(BackupDeps& d, std::unique_ptr<RestoreJob> job, std::string service,
              std::shared_ptr<RestoreSlot> slot)
      : d_(d), job_(std::move(job)), service_(std::move(service)), slot_(std::move(slot)) {}
  Result<void> write(std::string_view chunk) override { return job_->write(chunk); }
  void finish(Request&, http::Responder res) override {
    std::shared_ptr<RestoreJob> job(std::move(job_));
    run_or_refuse(
        d_.tasks, res,
        [&d = d_, job, res, service = service_, slot = slot_](const std::atomic<bool>&) {
          auto r = job->finish([&]() -> Result<void> {
            if (at_rest(d.sup, service)) return {};
            return fail(codes::kConflict, "the workload was started during the restore");
          });
          if (!r) return res.send_error(r.error());
          log::info(kComponent, "files restored", {{"entries", r->entries}, {"bytes", r->bytes}});
          res.send(Response::json(
              200, {{"restored", true}, {"entries", r->entries}, {"bytes", r->bytes}}));
        });
  }

 private:
  BackupDeps& d_;
  std::unique_ptr<RestoreJob> job_;
  std::string service_;
  std::shared_ptr<RestoreSlot> slot_;
};

Result<std::unique_ptr<http::BodySink>> open_restore(BackupDeps& d) {
  auto w = d.root();
  if (!w) return fail(w.error());
  if (!at_rest(d.sup, w->service))
    return fail(codes::kConflict, "the workload is running: stop it before a restore");
  if (d.provisioning && d.provisioning())
    return fail(codes::kConflict, "the workload is being provisioned: restore once it is done");
  if (d.restoring->exchange(true)) return fail(codes::kConflict, "a restore is already running");
  auto slot = std::make_shared<RestoreSlot>(RestoreSlot{d.restoring});
  auto job = RestoreJob::start(w->dir, w->owner);
  if (!job) return fail(job.error());
  return std::make_unique<RestoreSink>(d, std::move(*job), w->service, std::move(slot));
}

void post_console_command(BackupDeps& d, Request& req, http::Responder res) {
  auto f = string_fields(req.body, {"command"});
  if (!f) return res.send_error(f.error());
  std::string cmd = (*f)[0];
  if (auto c = catalog::check_console_line(cmd, "command"); !c) return res.send_error(c.error());
  auto w = d.root();
  if (!w) return res.send_error(w.error());
  if (w->type != ContainerType::kGame)
    return res.send_error(Error::invalid("command", "a dev container has no game console"));
  if (state_of(d.sup, w->service) != ServiceState::kRunning)
    return res.send_error(Error::make(codes::kConflict, "the game server is not running"));
  std::string sock = d.sup.socket_path(w->service);
  run_or_refuse(d.tasks, res, [res, sock, cmd](const std::atomic<bool>&) {
    ShimConsole console(sock);
    if (auto r = console.send_line(cmd); !r) return res.send_error(r.error());
    Response ok;
    ok.status = 204;
    res.send(std::move(ok));
  });
}
}  // namespace

BackupDeps workload_backup_deps(const Provisioner& provisioner, devenv::DevEnvironment& devenv,
                                const std::string& root, supervisor::Supervisor& sup,
                                TaskRunner& tasks) {
  return BackupDeps{
      .root = [&provisioner, &devenv, root] { return workload_root(provisioner, devenv, root); },
      .provisioning =
          [&provisioner] {
            auto s = provisioner.state();
            return s == State::kInstalling || s == State::kVerifying || s == State::kStarting;
          },
      .agent_root = root,
      .sup = sup,
      .tasks = tasks};
}

void add_backup_routes(http::Router& r, BackupDeps& d) {
  http::RouteOptions archive;
  archive.deadline = std::chrono::minutes(11);  // a pause may wait up to 600 s for its save
  r.add(
      "GET", "/backups/archive", [&d](Request&, http::Responder res) { get_archive(d, res); },
      archive);
  http::RouteOptions restore;
  restore.body_limit = size_t(1) << 46;         // streamed to disk
  restore.deadline = std::chrono::minutes(10);  // after the body: the exchange and the old tree
  r.add_streaming(
      "PUT", "/backups/restore", [&d](Request&) { return open_restore(d); }, restore);
  http::RouteOptions command;
  command.body_limit = 4096;
  r.add(
      "POST", "/console/command",
      [&d](Request& req, http::Responder res) { post_console_command(d, req, res); }, command);
}

}  // namespace zlh::agent::backups
