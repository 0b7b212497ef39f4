#include "agent/supervisor/supervisor.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/log.hpp"
#include "base/process.hpp"
#include "proto/shim_protocol.hpp"

namespace zlh::agent::supervisor {

namespace {
constexpr std::string_view kComponent = "supervisor";
using namespace std::chrono_literals;

std::string iso(std::chrono::system_clock::time_point t) {
  auto secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
}  // namespace

bool valid_service_name(std::string_view s) {
  if (s.empty() || s.size() > 64 || !(std::islower(uint8_t(s[0])) || std::isdigit(uint8_t(s[0]))))
    return false;
  for (char c : s)
    if (!(std::islower(uint8_t(c)) || std::isdigit(uint8_t(c)) || c == '-')) return false;
  return true;
}

nlohmann::json ServiceSpec::to_json() const {
  nlohmann::json j = {{"name", name},
                      {"argv", argv},
                      {"env", env},
                      {"cwd", cwd},
                      {"user", user},
                      {"pty", pty},
                      {"stop_command", stop_command},
                      {"stop_signal", stop_signal},
                      {"stop_timeout_s", stop_timeout_s},
                      {"term_timeout_s", term_timeout_s},
                      {"port", port},
                      {"restart_on_crash", restart_on_crash},
                      {"backpressure", backpressure}};
  j["uid"] = uid ? nlohmann::json(*uid) : nlohmann::json(nullptr);
  j["gid"] = gid ? nlohmann::json(*gid) : nlohmann::json(nullptr);
  return j;
}

Result<ServiceSpec> ServiceSpec::from_json(const nlohmann::json& j) {
  try {
    ServiceSpec s;
    s.name = j.at("name").get<std::string>();
    if (!valid_service_name(s.name)) return fail(codes::kInvalid, "service name");
    s.argv = j.at("argv").get<std::vector<std::string>>();
    s.env = j.at("env").get<std::vector<std::string>>();
    s.cwd = j.value("cwd", "");
    s.user = j.value("user", "");
    s.pty = j.value("pty", true);
    s.stop_command = j.value("stop_command", "");
    s.stop_signal = j.value("stop_signal", "TERM");
    s.stop_timeout_s = j.value("stop_timeout_s", 30);
    s.term_timeout_s = j.value("term_timeout_s", 10);
    s.port = j.value("port", 0);
    s.restart_on_crash = j.value("restart_on_crash", true);
    s.backpressure = j.value("backpressure", false);
    if (j.contains("uid") && !j["uid"].is_null()) s.uid = j["uid"].get<uid_t>();
    if (j.contains("gid") && !j["gid"].is_null()) s.gid = j["gid"].get<gid_t>();
    return s;
  } catch (const std::exception& e) {
    return fail(codes::kInvalid, std::string("service spec: ") + e.what());
  }
}

nlohmann::json ServiceView::to_json() const {
  return {
      {"name", name},
      {"state", std::string(to_string(state))},
      {"pid", pid ? nlohmann::json(pid) : nlohmann::json(nullptr)},
      {"restarts", restarts},
      {"port", port ? nlohmann::json(port) : nlohmann::json(nullptr)},
      {"crash_count", crash_count},
      {"last_crash_at", last_crash_at ? nlohmann::json(*last_crash_at) : nlohmann::json(nullptr)},
      {"last_exit", last_exit},
      {"last_stop", last_stop}};
}

struct Supervisor::Service {
  Service(ServiceSpec sp, CrashPolicy p) : spec(std::move(sp)), policy(std::move(p)) {}
  ServiceSpec spec;
  CrashPolicy policy;
  bool want_running = true;
  bool stop_requested = false;
  bool adopted = false;
  bool removed = false;
  ServiceState state = ServiceState::kStarting;
  pid_t pid = 0;
  pid_t shim_pid = 0;
  uint64_t shim_start = 0;
  bool shim_is_child = false;
  bool shim_finished = false;  // its service exited: the shim only lingers now
  int restarts = 0;
  nlohmann::json last_stop = nullptr;
  uint64_t oom_baseline = 0;  // the OOM killer's count when it last started or crashed
  std::thread thread;
};

Supervisor::Supervisor(std::string root, std::string shim_bin, const Clock& clock,
                       CrashPolicyConfig policy)
    : root_(std::move(root)),
      shim_bin_(std::move(shim_bin)),
      run_dir_(fs::join(root_, "run/zlh")),
      state_dir_(fs::join(root_, "opt/zlh-agent/state/services")),
      clock_(clock),
      policy_cfg_(policy),
      oom_kills_(cgroup_oom_kills) {}

void Supervisor::set_oom_counter(std::function<uint64_t()> f) {
  std::lock_guard lk(mu_);
  oom_kills_ = std::move(f);
}

uint64_t cgroup_oom_kills() {
  for (const char* p :
       {"/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events"}) {
    auto d = fs::read_file(p, 64 * 1024);
    if (!d) continue;
    auto at = d->find("oom_kill ");
    if (at == std::string::npos) continue;
    return std::strtoull(d->c_str() + at + 9, nullptr, 10);
  }
  return 0;
}

Supervisor::~Supervisor() {
  closing_ = true;
  cv_.notify_all();
  std::vector<std::shared_ptr<Service>> all;
  {
    std::lock_guard lk(mu_);
    for (auto& [n, s] : services_) all.push_back(s);
  }
  for (auto& s : all)
    if (s->thread.joinable()) s->thread.join();
}

void Supervisor::set_on_state(std::function<void(const std::string&, ServiceState)> f) {
  std::lock_guard lk(mu_);
  on_state_ = std::move(f);
}

std::string Supervisor::socket_path(const std::string& name) const {
  return fs::join(run_dir_, name + ".sock");
}

void Supervisor::set_state(Service& s, ServiceState state) {
  // mu_ held by the caller.
  if (s.state == state) return;
  s.state = state;
  log::info(kComponent, "service state",
            {{"service", s.spec.name}, {"state", std::string(to_string(state))}, {"pid", s.pid}});
  if (on_state_) on_state_(s.spec.name, state);
  cv_.notify_all();
}

void Supervisor::persist(const Service& s) {
  nlohmann::json j = {{"spec", s.spec.to_json()},     {"want_running", s.want_running},
                      {"policy", s.policy.to_json()}, {"last_stop", s.last_stop},
                      {"restarts", s.restarts},       {"shim_pid", s.shim_pid},
                      {"shim_start", s.shim_start}};
  if (auto r = fs::make_dirs(state_dir_, 0700); !r) return;
  if (auto r =
          fs::write_file_atomic(fs::join(state_dir_, s.spec.name + ".json"), j.dump() + "\n", 0600);
      !r)
    log::error(kComponent, "persist service failed",
               {{"service", s.spec.name}, {"error", r.error().message}});
}

bool Supervisor::shim_alive(const Service& s) const {
  if (s.shim_pid <= 0) return false;
  if (::kill(s.shim_pid, 0) != 0) return false;
  auto st = shim::proc_start_time(s.shim_pid);
  if (!st || *st != s.shim_start) return false;
  // A zombie of ours is not alive.
  std::string stat =
      fs::read_file("/proc/" + std::to_string(s.shim_pid) + "/stat", 4096).value_or("");
  auto rp = stat.rfind(')');
  if (rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] == 'Z') return false;
  return true;
}

Result<void> Supervisor::spawn_shim(Service& s) {
  // A previous shim lingers a moment after its service exited, still bound
  // to the socket path. It goes first (SIGKILL: it has nothing left to do and
  // must not unlink the path after the new shim bound it), and is reaped when
  // it is our child.
  if (s.shim_pid > 0 && shim_alive(s)) ::kill(s.shim_pid, SIGKILL);
  if (s.shim_pid > 0) {
    if (s.shim_is_child) {
      int st;
      ::waitpid(s.shim_pid, &st, 0);
    } else {
      for (int i = 0; i < 200 && ::kill(s.shim_pid, 0) == 0; ++i) std::this_thread::sleep_for(10ms);
    }
  }
  if (auto r = fs::make_dirs(run_dir_, 0755); !r) return r;
  std::string base = fs::join(run_dir_, s.spec.name);
  std::string env_text;
  for (const auto& e : s.spec.env) env_text += e + "\n";
  if (auto r = fs::write_file_atomic(base + ".env", env_text, 0600); !r) return r;
  ::unlink((base + ".sock").c_str());
  std::vector<std::string> argv = {shim_bin_,        "--name",
                                   s.spec.name,      "--socket",
                                   base + ".sock",   "--state",
                                   base + ".json",   s.spec.pty ? "--pty" : "--pipes",
                                   "--env-file",     base + ".env",
                                   "--stop-timeout", std::to_string(s.spec.stop_timeout_s),
                                   "--term-timeout", std::to_string(s.spec.term_timeout_s)};
  if (!s.spec.cwd.empty()) argv.insert(argv.end(), {"--cwd", s.spec.cwd});
  if (s.spec.uid && s.spec.gid) {
    argv.insert(argv.end(),
                {"--uid", std::to_string(*s.spec.uid), "--gid", std::to_string(*s.spec.gid)});
    if (!s.spec.user.empty()) argv.insert(argv.end(), {"--user", s.spec.user});
  }
  if (s.spec.backpressure) argv.push_back("--backpressure");
  if (!s.spec.stop_command.empty())
    argv.insert(argv.end(), {"--stop-command", s.spec.stop_command});
  else
    argv.insert(argv.end(), {"--stop-signal", s.spec.stop_signal});
  argv.push_back("--");
  argv.insert(argv.end(), s.spec.argv.begin(), s.spec.argv.end());

  int log_fd = ::open((base + ".log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  process::SpawnOptions so;
  so.argv = argv;
  so.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"};
  so.cwd = "/";
  so.new_session = true;
  so.stdout_fd = log_fd;
  so.stderr_fd = log_fd;
  auto pid = process::spawn(so);
  if (log_fd >= 0) ::close(log_fd);
  if (!pid) return fail(pid.error().wrap("start zlh-shim"));
  s.shim_pid = *pid;
  s.shim_is_child = true;
  s.shim_finished = false;
  s.shim_start = shim::proc_start_time(*pid).value_or(0);
  log::info(kComponent, "shim started", {{"service", s.spec.name}, {"shim_pid", *pid}});
  return {};
}

bool Supervisor::back_off(std::unique_lock<std::mutex>& lk, Service& s,
                          const CrashPolicy::Decision& d) {
  persist(s);
  if (!d.restart) {
    set_state(s, ServiceState::kCrashed);
    return false;
  }
  set_state(s, ServiceState::kBackoff);
  cv_.wait_for(lk, d.delay, [&] { return closing_ || s.removed || !s.want_running; });
  return true;
}

namespace {
// Connects to the shim's socket, retrying for 5 s: a fresh shim needs a
// moment to bind it.
Result<shim::ShimClient> attach(const std::string& sock, const std::atomic<bool>& closing) {
  Result<shim::ShimClient> client = fail(codes::kUnavailable, "not connected");
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline && !closing) {
    client = shim::ShimClient::connect(sock, 500ms);
    if (client) break;
    std::this_thread::sleep_for(20ms);
  }
  return client;
}

// The exit status the shim left in run/zlh/<name>.json, if it says exited.
std::optional<shim::ShimStatus> status_left_behind(const std::string& run_dir,
                                                   const std::string& name) {
  auto text = fs::read_file(fs::join(run_dir, name + ".json"), 1 << 20);
  if (!text) return std::nullopt;
  auto st = shim::parse_status(*text);
  if (st && st->state == shim::ShimState::kExited) return *st;
  return std::nullopt;
}
}  // namespace

Supervisor::ShimStart Supervisor::ensure_shim(std::unique_lock<std::mutex>& lk, Service& s) {
  if (!s.shim_finished && shim_alive(s)) return ShimStart::kRunning;
  set_state(s, ServiceState::kStarting);
  auto r = spawn_shim(s);
  if (!r) {
    log::error(kComponent, "cannot start service",
               {{"service", s.spec.name}, {"error", r.error().message}});
    (void)back_off(lk, s, s.policy.on_crash(127, 0));
    return ShimStart::kFailed;
  }
  s.adopted = false;
  persist(s);
  return ShimStart::kSpawned;
}

std::optional<shim::ShimStatus> Supervisor::follow(std::unique_lock<std::mutex>& lk, Service& s,
                                                   shim::ShimClient& client, bool fresh) {
  std::optional<shim::ShimStatus> final_status;
  auto st = client.status();
  lk.lock();
  if (st) {
    s.pid = st->pid;
    if (st->state == shim::ShimState::kExited) final_status = *st;
  }
  if (fresh) {
    s.policy.on_start();
    s.oom_baseline = oom_kills_();
  }
  if (!final_status)
    set_state(s, st && st->state == shim::ShimState::kStopping ? ServiceState::kStopping
                                                               : ServiceState::kRunning);
  persist(s);
  lk.unlock();
  while (!final_status && !closing_) {
    auto f = client.read_frame(300ms);
    if (!f) {
      if (f.error().is(codes::kTimeout)) continue;
      break;  // connection lost
    }
    if (f->type == shim::FrameType::kExit || f->type == shim::FrameType::kStatusReply) {
      auto es = shim::parse_status(f->payload);
      if (es && es->state == shim::ShimState::kExited) final_status = *es;
    }
  }
  return final_status;
}

void Supervisor::on_shim_finished(std::unique_lock<std::mutex>& lk, Service& s,
                                  const std::optional<shim::ShimStatus>& final_status) {
  s.shim_finished = true;
  int code = final_status && final_status->exit_code ? *final_status->exit_code : -1;
  int sig =
      final_status && final_status->signal ? *final_status->signal : (final_status ? 0 : SIGKILL);
  s.pid = 0;
  if (s.stop_requested) {
    s.stop_requested = false;
    s.want_running = false;
    s.last_stop = {{"graceful", final_status && final_status->graceful.value_or(false)},
                   {"duration_ms", final_status ? final_status->stop_duration_ms.value_or(0) : 0}};
    s.policy.on_clean_stop();
    set_state(s, ServiceState::kStopped);
    persist(s);
    return;
  }
  if (!s.spec.restart_on_crash) {
    s.want_running = false;
    set_state(s, ServiceState::kExited);
    persist(s);
    return;
  }
  // Killed (SIGKILL) while the OOM killer's count grew: out of memory.
  const uint64_t ooms = oom_kills_();
  std::string reason = sig == SIGKILL && ooms > s.oom_baseline ? "out of memory" : "";
  s.oom_baseline = ooms;
  auto d = s.policy.on_crash(code, sig, reason);
  log::warn(kComponent, "service crashed",
            {{"service", s.spec.name},
             {"exit_code", code},
             {"signal", sig},
             {"restart", d.restart},
             {"delay_ms", d.delay.count()},
             {"crash_count", s.policy.crash_count()},
             {"reason", reason}});
  if (back_off(lk, s, d) && s.want_running) ++s.restarts;
}

void Supervisor::monitor(std::shared_ptr<Service> s) {
  const std::string name = s->spec.name;
  std::unique_lock lk(mu_);
  while (!closing_ && !s->removed) {
    cv_.wait(lk, [&] {
      return closing_ || s->removed || (s->want_running && s->state != ServiceState::kCrashed);
    });
    if (closing_ || s->removed) return;
    ShimStart started = ensure_shim(lk, *s);
    if (started == ShimStart::kFailed) continue;
    std::string sock = socket_path(name);
    lk.unlock();

    // Not attached: the shim sends EXIT to every connection, so the monitor
    // learns of the exit without receiving (or slowing) the output.
    std::optional<shim::ShimStatus> final_status;
    if (auto client = attach(sock, closing_))
      final_status = follow(lk, *s, *client, started == ShimStart::kSpawned);
    if (closing_) return;  // the agent is going away; the service is not
    if (!final_status) {
      // Connection lost without an exit: read what the shim left behind.
      final_status = status_left_behind(run_dir_, name);
      lk.lock();
      bool alive = shim_alive(*s);
      lk.unlock();
      if (!final_status && alive) {
        // The shim still runs (socket hiccup): attach again.
        std::this_thread::sleep_for(100ms);
        lk.lock();
        continue;
      }
    }
    lk.lock();
    on_shim_finished(lk, *s, final_status);
  }
}

void Supervisor::reattach() {
  DIR* d = opendir(state_dir_.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (auto* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.ends_with(".json")) names.push_back(n.substr(0, n.size() - 5));
  }
  closedir(d);
  for (const auto& name : names) {
    auto text = fs::read_file(fs::join(state_dir_, name + ".json"));
    if (!text) continue;
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_object()) continue;
    auto spec = ServiceSpec::from_json(j.value("spec", nlohmann::json::object()));
    if (!spec) continue;
    auto policy =
        CrashPolicy::from_json(j.value("policy", nlohmann::json::object()), policy_cfg_, clock_,
                               std::hash<std::string>{}(name) ^ uint64_t(getpid()));
    auto s = std::make_shared<Service>(
        *spec, policy ? std::move(*policy) : CrashPolicy(policy_cfg_, clock_, uint64_t(getpid())));
    s->want_running = j.value("want_running", true);
    s->last_stop = j.value("last_stop", nlohmann::json(nullptr));
    s->restarts = j.value("restarts", 0);
    // The shim's own record is the truth about the shim.
    if (auto st_text = fs::read_file(fs::join(run_dir_, name + ".json"), 1 << 20)) {
      if (auto st = shim::parse_status(*st_text)) {
        s->shim_pid = st->shim_pid;
        s->shim_start = st->shim_start_time;
        s->pid = st->pid;
      }
    }
    bool alive = shim_alive(*s);
    s->adopted = alive;
    s->state = alive ? ServiceState::kRunning
                     : (s->want_running ? ServiceState::kStarting : ServiceState::kStopped);
    if (!alive && s->want_running && s->spec.restart_on_crash && s->policy.gave_up())
      s->state = ServiceState::kCrashed;
    if (!alive && !s->spec.restart_on_crash) {
      // A console shell that ended while we were away is simply gone.
      ::unlink(fs::join(state_dir_, name + ".json").c_str());
      continue;
    }
    log::info(kComponent, alive ? "service reattached" : "service found stopped",
              {{"service", name}, {"pid", s->pid}, {"want_running", s->want_running}});
    std::lock_guard lk(mu_);
    services_[name] = s;
    if (!alive && s->want_running && s->state != ServiceState::kCrashed) {
      // It died while the agent was down: that is a crash like any other.
      auto dcs = s->policy.on_crash(-1, SIGKILL);
      if (!dcs.restart) s->state = ServiceState::kCrashed;
    }
    s->thread = std::thread([this, s] { monitor(s); });
  }
}

Result<void> Supervisor::start(const ServiceSpec& spec) {
  if (!valid_service_name(spec.name))
    return fail(codes::kInvalid, "invalid service name " + spec.name);
  if (spec.argv.empty()) return fail(codes::kInvalid, "service " + spec.name + " has no command");
  std::lock_guard lk(mu_);
  auto it = services_.find(spec.name);
  if (it != services_.end()) {
    auto& s = *it->second;
    if (is_live(s.state)) return {};
    s.spec = spec;
    s.policy.on_manual_start();
    s.want_running = true;
    s.stop_requested = false;
    set_state(s, ServiceState::kStarting);
    persist(s);
    cv_.notify_all();
    return {};
  }
  auto s = std::make_shared<Service>(
      spec,
      CrashPolicy(policy_cfg_, clock_, std::hash<std::string>{}(spec.name) ^ uint64_t(getpid())));
  persist(*s);
  services_[spec.name] = s;
  s->thread = std::thread([this, s] { monitor(s); });
  return {};
}

Result<void> Supervisor::start_registered(const std::string& name) {
  ServiceSpec spec;
  {
    std::lock_guard lk(mu_);
    auto it = services_.find(name);
    if (it == services_.end()) return fail(codes::kNotFound, "no service " + name);
    spec = it->second->spec;
  }
  return start(spec);
}

Result<nlohmann::json> Supervisor::stop(const std::string& name) {
  std::unique_lock lk(mu_);
  auto it = services_.find(name);
  if (it == services_.end()) return fail(codes::kNotFound, "no service " + name);
  auto s = it->second;
  if (!s->want_running && (s->state == ServiceState::kStopped || s->state == ServiceState::kExited))
    return s->last_stop.is_null() ? nlohmann::json{{"graceful", true}, {"duration_ms", 0}}
                                  : s->last_stop;
  s->want_running = false;
  if (!is_live(s->state)) {
    // Backing off or crashed: nothing runs, so there is nothing to stop.
    set_state(*s, ServiceState::kStopped);
    persist(*s);
    return nlohmann::json{{"graceful", true}, {"duration_ms", 0}};
  }
  s->stop_requested = true;
  set_state(*s, ServiceState::kStopping);
  persist(*s);
  std::string sock = socket_path(name);
  int budget = s->spec.stop_timeout_s + s->spec.term_timeout_s + 10;
  lk.unlock();
  auto c = shim::ShimClient::connect(sock, 2s);
  if (c) (void)c->send(shim::FrameType::kStop);
  lk.lock();
  bool done = cv_.wait_for(lk, std::chrono::seconds(budget),
                           [&] { return s->state == ServiceState::kStopped; });
  if (!done) return fail(codes::kTimeout, "service " + name + " did not stop in time");
  return s->last_stop;
}

Result<void> Supervisor::restart(const std::string& name) {
  {
    std::lock_guard lk(mu_);
    if (!services_.contains(name)) return fail(codes::kNotFound, "no service " + name);
  }
  if (auto r = stop(name); !r) return fail(r.error());
  return start_registered(name);
}

Result<void> Supervisor::kill(const std::string& name) {
  std::unique_lock lk(mu_);
  auto it = services_.find(name);
  if (it == services_.end()) return fail(codes::kNotFound, "no service " + name);
  auto s = it->second;
  s->want_running = false;
  if (!is_live(s->state)) {
    set_state(*s, ServiceState::kStopped);
    persist(*s);
    return {};
  }
  s->stop_requested = true;
  persist(*s);
  std::string sock = socket_path(name);
  lk.unlock();
  auto c = shim::ShimClient::connect(sock, 2s);
  if (!c) return fail(c.error().wrap("kill " + name));
  if (auto r = c->send(shim::FrameType::kSignal, std::string(1, char(SIGKILL))); !r) return r;
  lk.lock();
  cv_.wait_for(lk, 10s, [&] { return s->state == ServiceState::kStopped; });
  return {};
}

void Supervisor::remove(const std::string& name) {
  std::shared_ptr<Service> s;
  {
    std::lock_guard lk(mu_);
    auto it = services_.find(name);
    if (it == services_.end()) return;
    s = it->second;
    s->removed = true;
    services_.erase(it);
    cv_.notify_all();
  }
  if (s->thread.joinable()) {
    if (s->thread.get_id() == std::this_thread::get_id())
      s->thread.detach();
    else
      s->thread.join();
  }
  ::unlink(fs::join(state_dir_, name + ".json").c_str());
  for (const char* ext : {".env", ".sock"}) ::unlink(fs::join(run_dir_, name + ext).c_str());
}

std::vector<ServiceView> Supervisor::services() const {
  std::vector<ServiceView> out;
  std::lock_guard lk(mu_);
  for (const auto& [n, s] : services_) {
    ServiceView v;
    v.name = n;
    v.state = s->state;
    v.pid = s->pid;
    v.restarts = s->restarts;
    v.port = s->spec.port;
    v.crash_count = s->policy.crash_count();
    if (auto t = s->policy.last_crash_at()) v.last_crash_at = iso(*t);
    if (auto e = s->policy.last_exit()) {
      v.last_exit = e->signal ? nlohmann::json{{"signal", *e->signal}}
                              : nlohmann::json{{"code", e->code.value_or(0)}};
      if (!e->reason.empty()) v.last_exit["reason"] = e->reason;
    }
    v.last_stop = s->last_stop;
    out.push_back(std::move(v));
  }
  return out;
}

std::optional<ServiceView> Supervisor::service(const std::string& name) const {
  for (auto& v : services())
    if (v.name == name) return v;
  return std::nullopt;
}

bool Supervisor::has(const std::string& name) const {
  std::lock_guard lk(mu_);
  return services_.contains(name);
}

bool Supervisor::wait_for_state(const std::string& name, ServiceState state,
                                std::chrono::milliseconds timeout) const {
  std::unique_lock lk(mu_);
  return cv_.wait_for(lk, timeout, [&] {
    auto it = services_.find(name);
    return it != services_.end() && it->second->state == state;
  });
}

}  // namespace zlh::agent::supervisor
