#include "pg_fixture.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "base/fs.hpp"
#include "base/process.hpp"
#include "base/remove_tree.hpp"

namespace zlh::testing {

using namespace std::chrono_literals;

namespace {

constexpr const char* kOsUser = "zlh-pgtest";

// Runs when its stdin reaches EOF: the fixture stopped, or the test process
// died and the kernel closed the pipe's write end. $1 is the cluster's
// directory. The pid comes from postmaster.pid and must still name a
// process called "postgres", so a stale file never gets another process
// killed.
constexpr const char* kReaperScript = R"sh(
cat >/dev/null
pid=$(head -n1 "$1/data/postmaster.pid" 2>/dev/null)
case "$pid" in ''|*[!0-9]*) pid=0 ;; esac
alive() {
  [ -r "/proc/$pid/stat" ] && [ "$(cut -d' ' -f3 "/proc/$pid/stat")" != Z ]
}
if [ "$pid" -gt 0 ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ]; then
  kill -QUIT "$pid" 2>/dev/null
  i=0
  while alive && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  alive && kill -KILL -- "-$pid" "$pid" 2>/dev/null
fi
rm -rf -- "$1"
)sh";

struct OsUser {
  uid_t uid;
  gid_t gid;
  std::string name;  // empty: the caller itself
};

Result<std::string> find_bindir() {
  const char* env = std::getenv("ZLH_PG_BINDIR");
  std::string dir = env && *env ? env : "/usr/lib/postgresql/15/bin";
  for (const char* tool : {"initdb", "pg_ctl", "postgres"}) {
    if (::access((dir + "/" + tool).c_str(), X_OK) != 0) {
      return fail(codes::kUnavailable,
                  "no " + std::string(tool) + " in " + dir + " (install postgresql-15)");
    }
  }
  return dir;
}

std::string tail(const std::string& s, size_t n = 2000) {
  return s.size() > n ? "…" + s.substr(s.size() - n) : s;
}

// As root, the dedicated system user (created on first use; parallel tests
// may race on useradd, so the answer is whatever getpwnam says afterwards).
Result<OsUser> os_user() {
  if (::geteuid() != 0) return OsUser{::getuid(), ::getgid(), ""};
  for (int attempt = 0; attempt < 10; ++attempt) {
    if (const passwd* pw = ::getpwnam(kOsUser)) return OsUser{pw->pw_uid, pw->pw_gid, kOsUser};
    process::SpawnOptions so;
    so.argv = {"useradd",      "--system",
               "--user-group", "--no-create-home",
               "--home-dir",   "/nonexistent",
               "--shell",      "/usr/sbin/nologin",
               "--comment",    "zlh tests' PostgreSQL",
               kOsUser};
    so.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
    auto r = process::run(so, 30s);
    if (!r) return fail(r.error().wrap("useradd " + std::string(kOsUser)));
    if (r->exit_code != 0 && attempt == 9) {
      return fail(codes::kIo, "useradd " + std::string(kOsUser) + ": " + tail(r->output));
    }
    if (r->exit_code != 0) std::this_thread::sleep_for(200ms);  // /etc/passwd locked
  }
  return fail(codes::kIo, "useradd " + std::string(kOsUser) + ": user still missing");
}

Result<void> chown_to(const std::string& path, const OsUser& u) {
  if (u.name.empty()) return {};
  if (::chown(path.c_str(), u.uid, u.gid) != 0)
    return fail(Error::from_errno("chown " + path, errno));
  return {};
}

bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  auto stat = fs::read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!stat) return true;
  auto close = stat->rfind(')');
  return close != std::string::npos && stat->compare(close + 1, 3, " Z ") == 0;
}

bool wait_gone(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!process_gone(pid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

std::string quote_conninfo(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

bool is_identifier(const std::string& s) {
  if (s.empty() || s.size() > 63 || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

// The pieces of start(), in order; each leaves what it made for stop().
class PgStarter {
 public:
  explicit PgStarter(PgServer& s) : s_(s) {}

  Result<void> make_dir() {
    std::string tmpl = "/tmp/zlh-pg-" + std::to_string(::getpid()) + "-XXXXXX";
    if (!::mkdtemp(tmpl.data())) return fail(Error::from_errno("mkdtemp " + tmpl, errno));
    s_.dir_ = tmpl;
    if (::mkdir(s_.socket_dir().c_str(), 0700) != 0) {
      return fail(Error::from_errno("mkdir " + s_.socket_dir(), errno));
    }
    OsUser u{s_.uid_, s_.gid_, s_.user_name_};
    if (auto r = chown_to(s_.dir_, u); !r) return r;
    return chown_to(s_.socket_dir(), u);
  }

  // Started first, so a test process that dies during initdb or start-up
  // leaves nothing behind either.
  Result<void> spawn_reaper() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return fail(Error::from_errno("pipe", errno));
    process::SpawnOptions so;
    so.argv = {"/bin/sh", "-c", kReaperScript, "zlh-pg-reaper", s_.dir_};
    so.env = {"PATH=/usr/bin:/bin"};
    so.stdin_fd = fds[0];
    auto pid = process::spawn(so);
    ::close(fds[0]);
    if (!pid) {
      ::close(fds[1]);
      return fail(pid.error().wrap("pg reaper"));
    }
    s_.reaper_ = *pid;
    s_.reaper_pipe_ = fds[1];
    return {};
  }

  Result<void> initdb() {
    std::vector<std::string> argv = {s_.bindir_ + "/initdb",
                                     "-D",
                                     s_.dir_ + "/data",
                                     "-U",
                                     s_.opts_.user,
                                     "--no-sync",
                                     "-E",
                                     "UTF8",
                                     "--locale=C"};
    std::string pwfile = s_.dir_ + "/pwfile";
    if (s_.opts_.password.empty()) {
      argv.push_back("--auth=trust");
    } else {
      auto w = fs::write_file_atomic(pwfile, s_.opts_.password + "\n", 0600);
      if (!w) return w;
      if (auto c = chown_to(pwfile, {s_.uid_, s_.gid_, s_.user_name_}); !c) return c;
      argv.insert(argv.end(), {"--auth=scram-sha-256", "--pwfile=" + pwfile});
    }
    auto r = run_as(argv, 120s);
    ::unlink(pwfile.c_str());
    return r;
  }

  // pg_ctl start -w on a random port; the port only names the socket file
  // in our own socket directory, so a failure is retried on another.
  Result<void> start_server() {
    static std::mt19937 rng(std::random_device{}() ^ unsigned(::getpid()));
    Result<void> r;
    for (int attempt = 0; attempt < 3; ++attempt) {
      s_.port_ = 20000 + int(rng() % 40000);
      std::string opts = "-k " + s_.socket_dir() + " -p " + std::to_string(s_.port_) +
                         " -c listen_addresses='' -c fsync=off -c full_page_writes=off"
                         " -c synchronous_commit=off";
      r = run_as({s_.bindir_ + "/pg_ctl", "start", "-w", "-t", "60", "-D", s_.dir_ + "/data", "-l",
                  s_.dir_ + "/server.log", "-o", opts},
                 90s);
      if (r) return read_postmaster_pid();
    }
    auto log = fs::read_file(s_.dir_ + "/server.log");
    return fail(r.error().code,
                "pg_ctl start: " + r.error().message + "; server.log: " + tail(log ? *log : ""));
  }

  Result<void> run_as(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
    return s_.run_as(argv, timeout);
  }

 private:
  Result<void> read_postmaster_pid() {
    auto pidfile = fs::read_file(s_.dir_ + "/data/postmaster.pid", 4096);
    if (!pidfile) return fail(pidfile.error().wrap("postmaster.pid"));
    s_.postmaster_ = pid_t(std::atoi(pidfile->c_str()));
    if (s_.postmaster_ <= 0) return fail(codes::kInternal, "postmaster.pid: no pid");
    return {};
  }

  PgServer& s_;
};

Result<void> PgServer::run_as(const std::vector<std::string>& argv,
                              std::chrono::seconds timeout) const {
  process::SpawnOptions so;
  so.argv = argv;
  so.env = {"PATH=" + bindir_ + ":/usr/bin:/bin", "LC_ALL=C", "LANG=C", "TZ=UTC"};
  so.cwd = dir_;
  if (!user_name_.empty()) {
    so.uid = uid_;
    so.gid = gid_;
    so.user_name = user_name_;
  }
  auto r = process::run(so, timeout);
  if (!r) return fail(r.error().wrap(argv[0]));
  if (r->timed_out) return fail(codes::kTimeout, argv[0] + " timed out: " + tail(r->output));
  if (r->exit_code != 0) {
    return fail(codes::kInternal,
                argv[0] + " exited " + std::to_string(r->exit_code) + ": " + tail(r->output));
  }
  return {};
}

Result<std::unique_ptr<PgServer>> PgServer::start(const Options& o) {
  if (!is_identifier(o.database)) return fail(Error::invalid("database", "not a plain identifier"));
  if (!is_identifier(o.user)) return fail(Error::invalid("user", "not a plain identifier"));
  auto bindir = find_bindir();
  if (!bindir) return fail(bindir.error());
  auto user = os_user();
  if (!user) return fail(user.error());
  std::unique_ptr<PgServer> s(new PgServer);
  s->opts_ = o;
  s->bindir_ = *bindir;
  s->uid_ = user->uid;
  s->gid_ = user->gid;
  s->user_name_ = user->name;
  PgStarter st(*s);
  // On any failure the unique_ptr's destructor stops and removes what exists.
  if (auto r = st.make_dir(); !r) return fail(r.error().wrap("pg fixture"));
  if (auto r = st.spawn_reaper(); !r) return fail(r.error().wrap("pg fixture"));
  if (auto r = st.initdb(); !r) return fail(r.error().wrap("pg fixture: initdb"));
  if (auto r = st.start_server(); !r) return fail(r.error().wrap("pg fixture"));
  if (auto r = s->exec("CREATE DATABASE " + o.database, "postgres"); !r) {
    return fail(r.error().wrap("pg fixture"));
  }
  return s;
}

PgServer::~PgServer() { (void)stop(); }

Result<void> PgServer::stop() {
  if (stopped_) return stop_result_;
  stopped_ = true;
  if (postmaster_ > 0 && !process_gone(postmaster_)) {
    auto r = run_as(
        {bindir_ + "/pg_ctl", "stop", "-m", "immediate", "-w", "-t", "30", "-D", dir_ + "/data"},
        60s);
    if (!r || !wait_gone(postmaster_, 10s)) {
      if (!r) stop_result_ = fail(r.error());
      ::kill(-postmaster_, SIGKILL);  // pg_ctl made it a session (and group) leader
      ::kill(postmaster_, SIGKILL);
      wait_gone(postmaster_, 10s);
    }
  }
  if (!dir_.empty()) {
    auto rm = fs::remove_tree(dir_, {.missing_ok = true});
    if (!rm && stop_result_) stop_result_ = fail(rm.error());
  }
  if (reaper_pipe_ >= 0) ::close(reaper_pipe_);  // the reaper finds nothing left to do
  reaper_pipe_ = -1;
  if (reaper_ > 0) (void)process::wait_exit(reaper_);
  reaper_ = -1;
  return stop_result_;
}

Result<void> PgServer::halt() {
  if (stopped_) return fail(codes::kInvalid, "pg fixture: halt after stop");
  auto r = run_as(
      {bindir_ + "/pg_ctl", "stop", "-m", "immediate", "-w", "-t", "30", "-D", dir_ + "/data"},
      60s);
  if (!r) return r;
  if (!wait_gone(postmaster_, 10s)) return fail(codes::kInternal, "pg fixture: postmaster lives");
  return {};
}

Result<void> PgServer::resume() {
  if (stopped_) return fail(codes::kInvalid, "pg fixture: resume after stop");
  std::string opts = "-k " + socket_dir() + " -p " + std::to_string(port_) +
                     " -c listen_addresses='' -c fsync=off -c full_page_writes=off"
                     " -c synchronous_commit=off";
  auto r = run_as({bindir_ + "/pg_ctl", "start", "-w", "-t", "60", "-D", dir_ + "/data", "-l",
                   dir_ + "/server.log", "-o", opts},
                  90s);
  if (!r) return r;
  auto pidfile = fs::read_file(dir_ + "/data/postmaster.pid", 4096);
  if (!pidfile) return fail(pidfile.error().wrap("postmaster.pid"));
  postmaster_ = pid_t(std::atoi(pidfile->c_str()));
  return {};
}

std::string PgServer::conninfo(const std::string& database) const {
  return "host=" + socket_dir() + " port=" + std::to_string(port_) +
         " dbname=" + (database.empty() ? opts_.database : database) + " user=" + opts_.user;
}

Result<void> PgServer::exec(const std::string& sql, const std::string& database) const {
  std::string ci = conninfo(database);
  if (!opts_.password.empty()) ci += " password=" + quote_conninfo(opts_.password);
  PGconn* c = ::PQconnectdb(ci.c_str());
  if (::PQstatus(c) != CONNECTION_OK) {
    std::string msg = ::PQerrorMessage(c);
    ::PQfinish(c);
    return fail(codes::kUnavailable, "connect " + socket_dir() + ": " + msg);
  }
  PGresult* res = ::PQexec(c, sql.c_str());
  auto st = ::PQresultStatus(res);
  std::string msg = ::PQresultErrorMessage(res);
  ::PQclear(res);
  ::PQfinish(c);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return fail(codes::kInternal, "sql: " + msg);
  return {};
}

Result<std::string> PgServer::create_database(const std::string& name) const {
  if (!is_identifier(name)) return fail(Error::invalid("name", "not a plain identifier: " + name));
  if (auto r = exec("CREATE DATABASE " + name, "postgres"); !r) return fail(r.error());
  return conninfo(name);
}

std::string percent_encoded(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace zlh::testing
