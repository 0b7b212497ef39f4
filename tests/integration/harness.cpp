#include "harness.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

#include "archive_builder.hpp"
#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/process.hpp"
#include "proto/jws.hpp"

namespace zlh::testing {

std::string bin_dir() {
  const char* d = std::getenv("ZLH_BIN_DIR");
  std::string dir = d ? d : "build/bin";
  // Absolute, because children may run with another working directory.
  char buf[PATH_MAX];
  if (realpath(dir.c_str(), buf)) return buf;
  return dir;
}

std::string make_temp_dir(const std::string& tag) {
  std::string tmpl = "/tmp/zlh-it-" + tag + "-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

std::string unique_loopback() {
  // Random 127.78.a.b, checked free on the ports containers use (agent and
  // code-server), so parallel tests and anything a crashed run left behind
  // never share an address.
  static std::mt19937 rng(std::random_device{}() ^ unsigned(getpid()));
  for (int attempt = 0; attempt < 200; ++attempt) {
    std::string addr =
        "127.78." + std::to_string(rng() % 254 + 1) + "." + std::to_string(rng() % 254 + 1);
    bool free = true;
    for (int port : {18888, 6000}) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(uint16_t(port));
      ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) free = false;
      ::close(fd);
    }
    if (free) return addr;
  }
  throw std::runtime_error("no free loopback address");
}

namespace {
std::string slurp_fd(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  return out;
}

std::vector<char*> c_argv(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}
}  // namespace

CommandResult run_command(const std::vector<std::string>& argv_in) {
  std::vector<std::string> argv = argv_in;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    auto a = c_argv(argv);
    execv(a[0], a.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  CommandResult r;
  // Outputs are small (keys, tokens, messages): read one after the other.
  r.out = slurp_fd(out_pipe[0]);
  r.err = slurp_fd(err_pipe[0]);
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

CommandResult zlhctl(std::vector<std::string> args) {
  args.insert(args.begin(), bin_dir() + "/zlhctl");
  return run_command(args);
}

http::Headers bearer_from(const std::string& keys_dir, int vmid, const std::string& method,
                          const std::string& target) {
  http::Headers h;
  auto key = crypto::load_secret_key(keys_dir + "/api.key");
  if (!key) return h;
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch());
  auto t = jws::mint_agent_token(*key, vmid, 120, now.count(), method, target);
  if (t) h.add("Authorization", "Bearer " + *t);
  return h;
}

void remove_unless_failed(const std::string& dir) {
  if (dir.empty() || ::testing::Test::HasFailure()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

void make_tool_store(const std::string& work_dir, const std::string& store, const std::string& keys,
                     bool sign, bool fresh) {
  if (fresh) {
    ASSERT_EQ(zlhctl({"keygen", "--out", keys}).exit_code, 0);
    ASSERT_EQ(zlhctl({"catalog", "init", "--store", store}).exit_code, 0);
  }
  std::string archive = work_dir + "/tool.tar.gz";
  write_archive(archive, {ArchiveEntry::dir("tool-1.0.0/"), ArchiveEntry::dir("tool-1.0.0/bin/"),
                          ArchiveEntry::file("tool-1.0.0/bin/tool",
                                             "#!/bin/sh\necho \"tool 1.0.0\"\n", 0755)});
  auto add = zlhctl({"catalog",  "add",       "--store",   store,       "--kind",
                     "runtime",  "--id",      "tool",      "--version", "1.0.0",
                     "--file",   archive,     "--channel", "stable",    "--strip",
                     "1",        "--bin",     "bin",       "--verify",  "bin/tool --version",
                     "--expect", "tool 1.0.0"});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  if (sign) {
    ASSERT_EQ(
        zlhctl({"catalog", "sign", "--store", store, "--key", keys + "/catalog.key"}).exit_code, 0);
  }
}

bool process_alive(pid_t pid) {
  auto st = fs::read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!st) return false;
  auto close = st->rfind(')');
  return close != std::string::npos && close + 2 < st->size() && (*st)[close + 2] != 'Z';
}

std::vector<pid_t> agents_under(const std::string& dir) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  // An lxc container's rootfs (<data>/lxc/<name>/rootfs): its agent runs
  // with --root / inside; it is found by the container's cgroup instead.
  std::string lxc_cgroup;
  if (dir.size() > 7 && dir.ends_with("/rootfs") && dir.find("/lxc/") != std::string::npos) {
    std::string ct = dir.substr(0, dir.size() - 7);
    lxc_cgroup = "lxc.payload." + ct.substr(ct.rfind('/') + 1);
  }
  while (auto* e = readdir(d)) {
    pid_t pid = atoi(e->d_name);
    if (pid <= 0) continue;
    auto cmd = fs::read_file("/proc/" + std::to_string(pid) + "/cmdline", 1 << 16);
    if (!cmd) continue;
    if (cmd->find("zlh-agent") == std::string::npos || !process_alive(pid)) continue;
    if (!lxc_cgroup.empty()) {
      auto cg = fs::read_file("/proc/" + std::to_string(pid) + "/cgroup", 1 << 16);
      if (cmd->rfind("/opt/zlh-agent/bin/zlh-agent", 0) == 0 && cg &&
          cg->find("/" + lxc_cgroup + "\n") != std::string::npos)
        out.push_back(pid);
      continue;
    }
    if (cmd->find(dir) != std::string::npos) out.push_back(pid);
  }
  closedir(d);
  return out;
}

uint64_t proc_status_kib(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(key + ":")) return std::stoull(line.substr(key.size() + 1));
  return 0;
}

std::string multipart_body(const std::string& boundary,
                           const std::vector<std::pair<std::string, std::string>>& files) {
  std::string b;
  for (const auto& [name, data] : files)
    b += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name +
         "\"\r\nContent-Type: application/octet-stream\r\n\r\n" + data + "\r\n";
  b += "--" + boundary + "--\r\n";
  return b;
}

void kill_services(const std::string& root) {
  DIR* d = opendir((root + "/run/zlh").c_str());
  if (!d) return;
  while (auto* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() < 6 || n.substr(n.size() - 5) != ".json") continue;
    auto st =
        nlohmann::json::parse(fs::read_file(root + "/run/zlh/" + n).value_or("{}"), nullptr, false);
    for (const char* k : {"pid", "shim_pid"})
      if (st.is_object() && st.contains(k) && st[k].is_number_integer() && st[k].get<int>() > 1)
        ::kill(st[k].get<int>(), SIGKILL);
  }
  closedir(d);
}

AgentProcess::AgentProcess(std::string root, std::vector<std::string> args, bool add_listen)
    : root_(std::move(root)), addr_(unique_loopback()), args_(std::move(args)) {
  log_ = root_ + ".agent.log";
  if (add_listen) {
    args_.push_back("--listen");
    args_.push_back(addr_ + ":18888");
  }
  spawn();
}

AgentProcess::~AgentProcess() {
  if (pid_ > 0) kill9();
}

void AgentProcess::spawn() {
  std::vector<std::string> argv{bin_dir() + "/zlh-agent", "--root", root_};
  argv.insert(argv.end(), args_.begin(), args_.end());
  int log_fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("open log");
  pid_t pid = fork();
  if (pid == 0) {
    dup2(log_fd, 2);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    auto a = c_argv(argv);
    execv(a[0], a.data());
    _exit(127);
  }
  close(log_fd);
  pid_ = pid;
}

bool AgentProcess::wait_healthy(std::chrono::milliseconds timeout) {
  return eventually(
      [&] {
        auto r = http::request("GET", url("/health"), {}, {}, std::chrono::seconds(2));
        return r && r->status == 200;
      },
      timeout);
}

void AgentProcess::kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

int AgentProcess::terminate() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void AgentProcess::restart() {
  if (pid_ > 0) kill9();
  spawn();
}

}  // namespace zlh::testing

namespace zlh::testing {

ApiProcess::ApiProcess(std::string dir, std::string store, std::string keys,
                       std::vector<std::string> extra_args)
    : dir_(std::move(dir)),
      store_(std::move(store)),
      keys_(std::move(keys)),
      extra_(std::move(extra_args)) {
  addr_ = unique_loopback();
}

ApiProcess::~ApiProcess() {
  stop(SIGKILL);
  std::string d = data();
  for (pid_t p : agents_under(d + "/")) ::kill(p, SIGKILL);
  if (DIR* dd = opendir((d + "/containers").c_str())) {
    while (auto* e = readdir(dd))
      if (e->d_name[0] != '.') kill_services(d + "/containers/" + e->d_name);
    closedir(dd);
  }
}

bool ApiProcess::start(std::chrono::milliseconds timeout) {
  process::SpawnOptions o;
  o.argv = {bin_dir() + "/zlh-api",
            "--listen",
            addr_ + ":8080",
            "--data",
            data(),
            "--artifacts",
            store_,
            "--catalog-key",
            keys_ + "/catalog.pub"};
  // The local driver unless the test picks one (as root it needs the flag).
  if (std::find(extra_.begin(), extra_.end(), "--driver") == extra_.end())
    o.argv.insert(o.argv.end(), {"--driver", "local", "--insecure-local-driver"});
  if (std::find(extra_.begin(), extra_.end(), "--public-url") == extra_.end())
    o.argv.insert(o.argv.end(), {"--public-url", base()});
  o.argv.insert(o.argv.end(), extra_.begin(), extra_.end());
  o.env = {"PATH=/usr/bin:/bin", "ZLH_TEST_FAST_HASH=1"};
  if (admin_password_env_) o.env.push_back("ZLH_ADMIN_PASSWORD=admin-password-1");
  int out = ::open((dir_ + "/api.out").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int err = ::open((dir_ + "/api.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  o.stdout_fd = out;
  o.stderr_fd = err;
  auto p = process::spawn(o);
  ::close(out);
  ::close(err);
  if (!p) return false;
  pid_ = *p;
  return eventually(
      [&] {
        auto r = http::request("GET", url("/healthz"), {}, {}, std::chrono::seconds(1));
        return r && r->status == 200;
      },
      timeout);
}

void ApiProcess::stop(int sig) {
  if (pid_ <= 0) return;
  ::kill(pid_, sig);
  int st = 0;
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
}

std::string ApiProcess::log() const {
  return fs::read_file(dir_ + "/api.log", 1 << 22).value_or("");
}

http::ClientResponse ApiClient::call(const std::string& method, const std::string& path,
                                     const std::string& bearer, const std::string& body,
                                     http::Headers extra) const {
  if (!bearer.empty()) extra.add("Authorization", "Bearer " + bearer);
  if (!body.empty() && (body.front() == '{' || body.front() == '[') && !extra.get("Content-Type"))
    extra.add("Content-Type", "application/json");  // JSON routes refuse other types (415)
  auto r = http::request(method, base_ + path, extra, body, std::chrono::seconds(60));
  EXPECT_TRUE(r) << method << " " << path << ": " << (r ? "" : r.error().message);
  return r ? *r : http::ClientResponse{};
}

std::string ApiClient::register_user(const std::string& name) const {
  auto r = call(
      "POST", "/api/auth/register", "",
      nlohmann::json{
          {"email", name + "@example.com"}, {"username", name}, {"password", "password-" + name}}
          .dump());
  EXPECT_EQ(r.status, 201) << r.body;
  return nlohmann::json::parse(r.body, nullptr, false).value("token", "");
}

int64_t ApiClient::create_dev(const std::string& token, const std::string& runtime,
                              const std::string& version) const {
  auto r = call("POST", "/api/servers", token,
                nlohmann::json{{"type", "dev"}, {"runtime", runtime}, {"version", version}}.dump());
  EXPECT_EQ(r.status, 202) << r.body;
  return nlohmann::json::parse(r.body, nullptr, false).value("id", int64_t(0));
}

nlohmann::json ApiClient::server(int64_t id, const std::string& token) const {
  return nlohmann::json::parse(call("GET", "/api/servers/" + std::to_string(id), token).body,
                               nullptr, false);
}

nlohmann::json ApiClient::wait_state(int64_t id, const std::string& token,
                                     const std::set<std::string>& states,
                                     std::chrono::milliseconds timeout) const {
  nlohmann::json s;
  eventually([&] { return states.count((s = server(id, token)).value("state", "")) > 0; }, timeout);
  return s;
}

}  // namespace zlh::testing
