// A throwaway PostgreSQL 15 cluster for tests (issue 25): initdb and pg_ctl
// in a temporary directory, as an unprivileged user, reachable only on a
// Unix socket inside that directory (listen_addresses = '', so no TCP).
//
// Layout: /tmp/zlh-pg-<test pid>-XXXXXX/{data/, sock/, server.log}. The
// pid in the name tells which test process left a directory behind.
//
// The user: PostgreSQL refuses to run as root, and tests and CI run as
// root. As root the cluster belongs to the system user `zlh-pgtest`
// (created with useradd on first use, no home, no shell); as anyone else
// it belongs to the caller. The PostgreSQL binaries come from
// $ZLH_PG_BINDIR, else /usr/lib/postgresql/15/bin (Debian's postgresql-15).
// The system cluster of the package is never used.
//
// Cleanup, three layers: the destructor stops the server (pg_ctl stop -m
// immediate) and removes the directory whatever the test's outcome; a
// reaper (a shell in a session of its own, holding the read end of a pipe
// whose write end only this object holds) does the same when the test
// process dies without running the destructor (SIGKILL, a ctest timeout,
// abort): it sees EOF, sends the postmaster SIGQUIT (immediate shutdown,
// SIGKILL after 10 s) and removes the directory (the pipe is O_CLOEXEC; a
// child forked without exec after start() keeps it open, and so delays the
// reaper, until it exits). What survives even that
// (the machine lost power) is found by the name:
//   rm -rf /tmp/zlh-pg-*   (with no test running)
//
// Parallel tests never collide: each cluster has its own directory and
// socket directory; the port only names the socket file, and is picked at
// random in [20000, 60000) with a retry when the start fails.
//
// Thread-safety: one thread per instance; instances are independent.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace zlh::testing {

class PgServer {
 public:
  struct Options {
    std::string user = "zlh";      // initdb's superuser role
    std::string database = "zlh";  // created after start
    // Empty: trust on the socket. Otherwise the role gets this password
    // and every connection must give it (scram-sha-256), as the store will
    // with its password file.
    std::string password;
  };

  // initdb, pg_ctl start -w, CREATE DATABASE. On failure nothing is left
  // running and the directory is removed; the error carries the tail of
  // initdb's or the server's log. E_UNAVAILABLE when the binaries are
  // missing, E_IO for system failures, E_INTERNAL when PostgreSQL fails.
  static Result<std::unique_ptr<PgServer>> start(const Options& o);
  static Result<std::unique_ptr<PgServer>> start() { return start(Options{}); }
  ~PgServer();  // stop(); never throws

  // Stops the server (pg_ctl stop -m immediate, SIGKILL to its processes
  // when that fails) and removes the directory. Repeatable: later calls do
  // nothing and return the first call's result.
  Result<void> stop();

  // Stops the server as a crash would (pg_ctl stop -m immediate), keeping
  // the directory, so that resume() starts it again on the same socket with
  // the same data: clients see their connections drop and reconnects fail
  // meanwhile. E_INVALID after stop().
  Result<void> halt();
  Result<void> resume();

  // libpq connection string for `database` (default: Options::database):
  // "host=<sock> port=<port> dbname=<database> user=<user>", without the
  // password (give it as password=… or through a passfile).
  std::string conninfo(const std::string& database = "") const;
  // Runs `sql` (one or more statements, no result) as the superuser in
  // `database` (default: Options::database).
  Result<void> exec(const std::string& sql, const std::string& database = "") const;
  // CREATE DATABASE `name` (an identifier: [a-z_][a-z0-9_]*); its conninfo.
  Result<std::string> create_database(const std::string& name) const;

  const std::string& dir() const { return dir_; }
  std::string socket_dir() const { return dir_ + "/sock"; }
  int port() const { return port_; }
  pid_t postmaster_pid() const { return postmaster_; }
  pid_t reaper_pid() const { return reaper_; }
  const Options& options() const { return opts_; }

 private:
  friend class PgStarter;
  PgServer() = default;
  // Runs a PostgreSQL tool as the cluster's OS user; E_INTERNAL with the
  // tail of its output when it exits non-zero.
  Result<void> run_as(const std::vector<std::string>& argv, std::chrono::seconds timeout) const;
  Options opts_;
  std::string dir_;
  std::string bindir_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  std::string user_name_;  // the OS user (empty: the caller)
  int port_ = 0;
  pid_t postmaster_ = -1;
  pid_t reaper_ = -1;
  int reaper_pipe_ = -1;  // write end; closing it tells the reaper to clean up
  bool stopped_ = false;
  Result<void> stop_result_;
};

// `s` percent-encoded for a URL query value (the socket directory in a
// postgres://…?host= URL): [A-Za-z0-9._-] kept, every other byte %XX.
std::string percent_encoded(std::string_view s);

}  // namespace zlh::testing
