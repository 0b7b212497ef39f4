#include "agent/game/server.hpp"

#include <sys/stat.h>

#include <thread>

#include "agent/game/launch.hpp"
#include "agent/game/ready.hpp"
#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "proto/shim_protocol.hpp"

namespace zlh::agent::game {

using supervisor::ServiceState;

using namespace std::chrono_literals;

namespace {
constexpr std::string_view kComponent = "game";
constexpr const char* kSignals[] = {"TERM", "INT", "HUP", "QUIT", "KILL"};

bool is_file(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string tail_text(const std::vector<std::string>& lines, size_t n) {
  std::string out;
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i)
    out += "\n" + lines[i];
  return out.empty() ? " (no output captured)" : ":" + out;
}

std::string fingerprint_path(const std::string& root) {
  return fs::join(root, "opt/zlh-agent/state/game-workload.json");
}

// A process runs or is on its way (a crash waiting out its restart delay too).
bool active(ServiceState state) {
  return supervisor::is_live(state) || state == ServiceState::kBackoff;
}
}  // namespace

std::string java_binary(const GameRecord& rec) {
  for (const auto& b : rec.java_bin) {
    std::string p = fs::join(b == "." ? rec.java_home : fs::join(rec.java_home, b), "java");
    if (is_file(p)) return p;
  }
  return fs::join(rec.java_home, "bin/java");
}

std::vector<std::string> server_environment(const GameRecord& rec, const devenv::DevUser& user,
                                            const std::string& root) {
  devenv::ActiveRuntime java;
  java.id = "java";
  java.prefix = rec.java_home;
  java.bin = rec.java_bin.empty() ? std::vector<std::string>{"bin"} : rec.java_bin;
  java.env = rec.java_env;
  if (!java.env.contains("JAVA_HOME")) java.env["JAVA_HOME"] = "{prefix}";
  return devenv::build_environment({java}, user, root).envp();
}

supervisor::ServiceSpec game_service_spec(const GameRecord& rec, const payload::Payload& p,
                                          const devenv::DevUser& user, const std::string& root) {
  supervisor::ServiceSpec s;
  s.name = kService;
  s.argv = java_argv(java_binary(rec), p.memory_mb, rec.launch);
  s.env = server_environment(rec, user, root);
  s.cwd = fs::join(root, "opt/zlh/server");
  if (!user.is_current_user) {
    s.uid = user.uid;
    s.gid = user.gid;
    s.user = user.name;
  }
  s.pty = true;
  if (rec.stop_type == "signal") {
    s.stop_signal = "TERM";
    for (const char* sig : kSignals)
      if (rec.stop_value == sig) s.stop_signal = sig;
  } else {
    s.stop_command = rec.stop_value.empty() ? "stop" : rec.stop_value;
  }
  s.stop_timeout_s = 30;
  s.term_timeout_s = 10;
  auto port = p.ports.find("game");
  s.port = port == p.ports.end() ? 0 : int(port->second);
  s.restart_on_crash = true;
  return s;
}

GameServer::GameServer(std::string root, supervisor::Supervisor& sup,
                       devenv::DevEnvironment& devenv, ServerOptions o)
    : root_(std::move(root)), sup_(sup), devenv_(devenv), opts_(o) {}

std::string GameServer::server_dir() const { return fs::join(root_, "opt/zlh/server"); }

Result<void> GameServer::stop_for_update() {
  auto v = sup_.service(kService);
  if (!v || !active(v->state)) return {};
  log::info(kComponent, "stopping the game server to replace its files", {{"pid", v->pid}});
  auto r = sup_.stop(kService);
  if (!r) return fail(r.error().wrap("stop the game server"));
  return {};
}

Result<void> GameServer::start(const payload::Payload& p, const std::atomic<bool>& stop,
                               const StepProgress& progress) {
  auto rec = read_record(root_);
  if (!rec) {
    if (rec.error().is(codes::kNotFound))
      return fail(codes::kNotFound,
                  p.game + " " + p.variant + " " + p.version + " is not installed");
    return fail(rec.error());
  }
  if (rec->game != p.game || rec->variant != p.variant || rec->version != p.version)
    return fail(codes::kNotFound, p.game + " " + p.variant + " " + p.version +
                                      " is not installed (installed: " + rec->game + " " +
                                      rec->variant + " " + rec->version + ")");
  auto user = devenv_.ensure_user();
  if (!user) return fail(user.error());
  auto spec = game_service_spec(*rec, p, *user, root_);
  std::string fp = crypto::sha256_hex(p.to_json().dump() + "\n" + spec.to_json().dump());

  std::string old_fp;
  if (auto t = fs::read_file(fingerprint_path(root_))) {
    auto j = nlohmann::json::parse(*t, nullptr, false);
    if (j.is_object()) old_fp = j.value("fingerprint", "");
  }
  auto v = sup_.service(kService);
  if (v && active(v->state) && old_fp != fp) {
    progress("restart " + p.game + " server with the new settings", 0.0);
    log::info(kComponent, "settings changed: restarting the game server", {{"pid", v->pid}});
    if (auto r = sup_.stop(kService); !r) return fail(r.error().wrap("stop the game server"));
  }
  if (auto r = fs::write_file_atomic(fingerprint_path(root_),
                                     nlohmann::json{{"fingerprint", fp}}.dump() + "\n", 0600);
      !r)
    return r;
  progress("start " + p.game + " server", 0.1);
  if (auto r = sup_.start(spec); !r) return fail(r.error().wrap("start the game server"));
  log::info(kComponent, "game server started",
            {{"variant", p.variant},
             {"version", p.version},
             {"java", rec->java_version},
             {"argv0", spec.argv[0]}});
  return wait_ready(*rec, stop, progress);
}

Result<void> GameServer::exited_before_ready(const std::string& game,
                                             const std::vector<std::string>& lines,
                                             const std::string& how) {
  // Left alone the supervisor would restart it over and over; provisioning
  // failed, so nothing should run until someone fixes it and starts it.
  (void)sup_.stop(kService);
  log::warn(kComponent, "game server exited before it was ready", {{"how", how}});
  return fail(codes::kUnavailable, game + " server exited before it was ready (" + how +
                                       "); last output" + tail_text(lines, 15));
}

namespace {
// How a shim status says the service ended: "exit code N", "signal N" or "exited".
std::string how_ended(const shim::ShimStatus* st) {
  return st && st->exit_code ? "exit code " + std::to_string(*st->exit_code)
         : st && st->signal  ? "signal " + std::to_string(*st->signal)
                             : "exited";
}

// The supervisor's account of an ended service: its last exit, else its state.
std::string how_ended(const supervisor::ServiceView& v) {
  std::string how(supervisor::to_string(v.state));
  if (v.last_exit.contains("code")) how = "exit code " + v.last_exit["code"].dump();
  if (v.last_exit.contains("signal")) how = "signal " + v.last_exit["signal"].dump();
  return how;
}

// The service ended before we could attach; its shim may linger with the
// output: true when that scrollback holds the ready line.
bool scrollback_ready(const std::string& sock, ReadyMatcher& matcher) {
  auto c = shim::ShimClient::connect(sock, 300ms);
  if (!c) return false;
  auto st = c->status(1s);
  if (!st || st->state != shim::ShimState::kExited ||
      !c->send(shim::FrameType::kAttach, std::string(1, char(shim::kAttachScrollback))))
    return false;
  matcher.reset();
  while (auto f = c->read_frame(300ms))
    if (f->type == shim::FrameType::kOutput) matcher.feed(f->payload);
  return matcher.matched();
}

// What reading an attached shim's output came to.
struct Watched {
  enum class Outcome { kReady, kExited, kLost, kCancelled, kTimedOut };
  Outcome outcome;
  std::string how;  // kExited: how it ended
};

// Feeds the attached shim's output (st: its status at attach) to the matcher
// until the ready line, the service's exit, a lost connection, `stop` or
// the deadline.
Watched watch_output(shim::ShimClient& c, const shim::ShimStatus& st, ReadyMatcher& matcher,
                     const std::atomic<bool>& stop,
                     std::chrono::steady_clock::time_point deadline) {
  using O = Watched::Outcome;
  bool exited_at_attach = st.state == shim::ShimState::kExited;
  while (true) {
    auto f = c.read_frame(exited_at_attach ? 500ms : 200ms);
    if (!f) {
      if (!f.error().is(codes::kTimeout)) return {O::kLost, ""};  // attach again
      if (exited_at_attach) return {O::kExited, how_ended(&st)};
      if (stop) return {O::kCancelled, ""};
      if (std::chrono::steady_clock::now() >= deadline) return {O::kTimedOut, ""};
      continue;
    }
    if (f->type == shim::FrameType::kOutput) {
      if (matcher.feed(f->payload)) return {O::kReady, ""};
    } else if (f->type == shim::FrameType::kExit) {
      auto es = shim::parse_status(f->payload);
      return {O::kExited, how_ended(es ? &*es : nullptr)};
    }
  }
}
}  // namespace

Result<void> GameServer::wait_ready(const GameRecord& rec, const std::atomic<bool>& stop,
                                    const StepProgress& progress) {
  auto m = ReadyMatcher::make(rec.ready);
  if (!m) return fail(m.error());
  ReadyMatcher matcher = std::move(*m);
  const auto deadline = std::chrono::steady_clock::now() + opts_.ready_timeout;
  const std::string sock = sup_.socket_path(kService);
  progress("wait for " + rec.game + " server to be ready", 0.2);
  auto timed_out = [&] {
    return fail(codes::kTimeout, rec.game + " server did not print its ready line (/" +
                                     (rec.ready.empty() ? std::string(kDefaultReady) : rec.ready) +
                                     "/) within " +
                                     std::to_string(opts_.ready_timeout.count() / 1000) +
                                     " s; last output" + tail_text(matcher.last_lines(), 15));
  };
  auto cancelled = [] { return fail(codes::kUnavailable, "cancelled: the agent is stopping"); };

  while (true) {
    if (stop) return cancelled();
    if (std::chrono::steady_clock::now() >= deadline) return timed_out();
    auto v = sup_.service(kService);
    if (!v) return fail(codes::kNotFound, "the game server service is gone");
    if (!supervisor::is_live(v->state)) {
      if (scrollback_ready(sock, matcher)) return {};
      return exited_before_ready(rec.game, matcher.last_lines(), how_ended(*v));
    }
    if (v->state != ServiceState::kRunning || v->pid <= 0) {
      std::this_thread::sleep_for(50ms);
      continue;
    }
    auto c = shim::ShimClient::connect(sock, 1s);
    Result<shim::ShimStatus> st = c ? c->status(2s) : fail(c.error());
    // Only the shim of the process the supervisor runs now: a lingering shim
    // of an earlier run would replay an old "Done".
    if (!st || st->pid != v->pid) {
      std::this_thread::sleep_for(50ms);
      continue;
    }
    if (!c->send(shim::FrameType::kAttach, std::string(1, char(shim::kAttachScrollback)))) continue;
    matcher.reset();  // the scrollback replays this run from its start
    Watched w = watch_output(*c, *st, matcher, stop, deadline);
    switch (w.outcome) {
      case Watched::Outcome::kReady:
        log::info(kComponent, "game server ready", {{"pid", st->pid}});
        progress("", 1.0);
        return {};
      case Watched::Outcome::kExited:
        if (matcher.matched()) return {};
        return exited_before_ready(rec.game, matcher.last_lines(), w.how);
      case Watched::Outcome::kCancelled:
        return cancelled();
      case Watched::Outcome::kTimedOut:
        return timed_out();
      case Watched::Outcome::kLost:
        break;
    }
  }
}

}  // namespace zlh::agent::game
