// The PostgreSQL fixture itself (pg_fixture.hpp): a real cluster reached
// with libpq on its socket only, run by an unprivileged user, two at once,
// a password when asked, and nothing left behind after stop(), after the
// destructor, or after the test process is killed.
#include <dirent.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/fs.hpp"
#include "pg_fixture.hpp"

namespace zlh::testing {
namespace {

using namespace std::chrono_literals;

struct Conn {
  explicit Conn(const std::string& ci) : c(PQconnectdb(ci.c_str())) {}
  ~Conn() { PQfinish(c); }
  bool ok() const { return PQstatus(c) == CONNECTION_OK; }
  // The first column of the first row, or "ERROR: …" when the query failed.
  std::string one(const std::string& sql) const {
    PGresult* r = PQexec(c, sql.c_str());
    std::string out;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
      out = PQgetvalue(r, 0, 0);
    } else if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
      out = "ERROR: " + std::string(PQresultErrorMessage(r));
    }
    PQclear(r);
    return out;
  }
  PGconn* c;
};

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool alive(pid_t pid) {
  auto stat = fs::read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!stat) return false;
  auto close = stat->rfind(')');
  return close != std::string::npos && stat->compare(close + 1, 3, " Z ") != 0;
}

// The postmaster and its children (checkpointer, walwriter, backends...).
std::vector<pid_t> cluster_processes(pid_t postmaster) {
  std::vector<pid_t> out = {postmaster};
  DIR* d = ::opendir("/proc");
  while (dirent* e = d ? ::readdir(d) : nullptr) {
    pid_t pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    auto stat = fs::read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
    if (!stat) continue;
    auto close = stat->rfind(')');
    if (close == std::string::npos) continue;
    int ppid = 0;
    char state = 0;
    if (std::sscanf(stat->c_str() + close + 1, " %c %d", &state, &ppid) == 2 &&
        ppid == postmaster) {
      out.push_back(pid);
    }
  }
  if (d) ::closedir(d);
  return out;
}

uid_t owner_of(pid_t pid) {
  struct stat st;
  return ::stat(("/proc/" + std::to_string(pid)).c_str(), &st) == 0 ? st.st_uid : uid_t(-1);
}

// Everything of one cluster is gone within `limit`.
::testing::AssertionResult all_gone(const std::string& dir, const std::vector<pid_t>& pids,
                                    std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    bool any = exists(dir);
    for (pid_t p : pids) any = any || alive(p);
    if (!any) return ::testing::AssertionSuccess();
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(50ms);
  }
  auto r = ::testing::AssertionFailure() << (exists(dir) ? dir + " still exists; " : "");
  for (pid_t p : pids) {
    if (alive(p)) r << "pid " << p << " alive; ";
  }
  return r;
}

std::unique_ptr<PgServer> start_or_fail(const PgServer::Options& o = PgServer::Options{}) {
  auto s = PgServer::start(o);
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().to_string());
  return s ? std::move(*s) : nullptr;
}

TEST(PgFixture, StartsOnASocketOnlyAndStopsWithoutTraces) {
  auto pg = start_or_fail();
  ASSERT_TRUE(pg);
  EXPECT_TRUE(exists(pg->socket_dir() + "/.s.PGSQL." + std::to_string(pg->port())));
  if (::geteuid() == 0) {
    EXPECT_NE(owner_of(pg->postmaster_pid()), 0u) << "postgres runs as root";
  }
  std::string dir = pg->dir();
  std::vector<pid_t> pids;
  {
    Conn c(pg->conninfo());
    ASSERT_TRUE(c.ok()) << PQerrorMessage(c.c);
    EXPECT_EQ(c.one("SELECT current_setting('listen_addresses')"), "");
    EXPECT_EQ(c.one("SELECT current_database()"), "zlh");
    EXPECT_EQ(c.one("SELECT current_setting('server_version_num')").substr(0, 2), "15");
    EXPECT_EQ(c.one("CREATE TABLE t (id bigint PRIMARY KEY, name text NOT NULL)"), "");
    EXPECT_EQ(c.one("INSERT INTO t VALUES (1, 'one'), (2, 'two')"), "");
    EXPECT_EQ(c.one("SELECT name FROM t WHERE id = 2"), "two");
    EXPECT_EQ(c.one("SELECT count(*) FROM t"), "2");
    pids = cluster_processes(pg->postmaster_pid());  // includes this connection's backend
    EXPECT_GE(pids.size(), 3u);
  }
  auto stopped = pg->stop();
  EXPECT_TRUE(stopped.has_value()) << (stopped ? "" : stopped.error().to_string());
  EXPECT_TRUE(all_gone(dir, pids, 0s));
  EXPECT_TRUE(pg->stop().has_value());  // repeatable
  Conn late(pg->conninfo());
  EXPECT_FALSE(late.ok());
}

TEST(PgFixture, TwoClustersAtOnceAreIndependent) {
  auto a = start_or_fail();
  auto b = start_or_fail();
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->dir(), b->dir());
  EXPECT_NE(a->postmaster_pid(), b->postmaster_pid());
  ASSERT_TRUE(a->exec("CREATE TABLE only_in_a (x int); INSERT INTO only_in_a VALUES (7)"));
  Conn ca(a->conninfo()), cb(b->conninfo());
  ASSERT_TRUE(ca.ok() && cb.ok());
  EXPECT_EQ(ca.one("SELECT x FROM only_in_a"), "7");
  EXPECT_EQ(cb.one("SELECT to_regclass('only_in_a') IS NULL"), "t");
  auto db = b->create_database("second");
  ASSERT_TRUE(db) << db.error().to_string();
  Conn c2(*db);
  ASSERT_TRUE(c2.ok()) << PQerrorMessage(c2.c);
  EXPECT_EQ(c2.one("SELECT current_database()"), "second");
  EXPECT_FALSE(b->create_database("x; DROP DATABASE zlh"));
}

TEST(PgFixture, DestructorCleansUp) {
  std::string dir;
  std::vector<pid_t> pids;
  {
    auto pg = start_or_fail();
    ASSERT_TRUE(pg);
    dir = pg->dir();
    pids = cluster_processes(pg->postmaster_pid());
    pids.push_back(pg->reaper_pid());
  }
  EXPECT_TRUE(all_gone(dir, pids, 0s));
}

TEST(PgFixture, PasswordIsRequiredWhenSet) {
  PgServer::Options o;
  o.password = "s3cret 'pw'";
  auto pg = start_or_fail(o);
  ASSERT_TRUE(pg);
  Conn without(pg->conninfo());
  EXPECT_FALSE(without.ok());
  EXPECT_NE(std::string(PQerrorMessage(without.c)).find("password"), std::string::npos);
  Conn wrong(pg->conninfo() + " password=nope");
  EXPECT_FALSE(wrong.ok());
  Conn right(pg->conninfo() + " password='s3cret \\'pw\\''");
  EXPECT_TRUE(right.ok()) << PQerrorMessage(right.c);
  EXPECT_TRUE(pg->exec("SELECT 1"));
}

// The test process dies without running any destructor (as under a ctest
// timeout): the reaper still stops the server and removes the directory.
TEST(PgFixture, ReaperCleansUpAfterTheProcessIsKilled) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(p[0]);
    auto pg = PgServer::start();
    std::string msg = "error";
    if (pg) {
      msg = (*pg)->dir() + "\n";
      for (pid_t pid : cluster_processes((*pg)->postmaster_pid())) msg += std::to_string(pid) + " ";
    }
    (void)!::write(p[1], msg.data(), msg.size());
    ::kill(::getpid(), SIGKILL);
  }
  ::close(p[1]);
  auto got = fs::read_fd(p[0], 1 << 16, "child pipe");
  ::close(p[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_TRUE(got);
  auto nl = got->find('\n');
  ASSERT_NE(nl, std::string::npos) << *got;
  std::string dir = got->substr(0, nl);
  std::vector<pid_t> pids;
  for (size_t i = nl + 1; i < got->size();) {
    size_t end = got->find(' ', i);
    pids.push_back(std::atoi(got->substr(i, end - i).c_str()));
    i = end + 1;
  }
  ASSERT_FALSE(pids.empty());
  EXPECT_TRUE(all_gone(dir, pids, 30s));
}

}  // namespace
}  // namespace zlh::testing
