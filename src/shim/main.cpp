// zlh-shim: holder process of one supervised service (see shim/shim.hpp).
//
//   zlh-shim --name NAME --socket PATH --state PATH [--pty | --pipes] [--cwd DIR]
//            [--uid N --gid N [--user NAME]] [--env-file FILE]
//            [--stop-command STR] [--stop-signal TERM|INT|HUP|KILL|QUIT]
//            [--stop-timeout 30] [--term-timeout 10] [--linger 30]
//            [--scrollback 262144] [--cols 120 --rows 40] [--log-format json|text]
//            -- ARGV...
//
// Exit codes: 0 once the service ran and exited, 1 setup failure (state file
// says why), 2 bad command line.
#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <iostream>
#include <map>

#include "base/fs.hpp"
#include "base/log.hpp"
#include "shim/shim.hpp"

using namespace zlh;

namespace {

// One "K=V" per line; blank lines are skipped. The whole environment.
Result<std::vector<std::string>> read_env_file(const std::string& path) {
  auto text = fs::read_file(path, 4 << 20);
  if (!text) return fail(std::move(text.error()).wrap("env file"));
  std::vector<std::string> env;
  size_t i = 0, line_no = 0;
  while (i < text->size()) {
    size_t j = text->find('\n', i);
    if (j == std::string::npos) j = text->size();
    std::string line = text->substr(i, j - i);
    ++line_no;
    i = j + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (line.find('=') == std::string::npos || line[0] == '=')
      return fail(
          Error::invalid("env-file", "env file line " + std::to_string(line_no) + " is not K=V"));
    env.push_back(std::move(line));
  }
  return env;
}

std::chrono::milliseconds seconds_to_ms(double s) {
  return std::chrono::milliseconds(static_cast<long long>(s * 1000.0));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"zlh-shim: holds one supervised service's PTY/pipes and serves its console"};
  shim::Options o;
  int pipes = 0, pty = 0;  // flag counts (see --backpressure below)
  int backpressure_flags = 0;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::string env_file, stop_signal = "TERM", log_format = "json";
  double stop_timeout = 30, term_timeout = 10, linger = 30;

  app.add_option("--name", o.name, "service name (logs, status)")->required();
  app.add_option("--socket", o.socket_path, "unix socket to serve")->required();
  app.add_option("--state", o.state_path, "JSON state file, rewritten on every change")->required();
  auto* pty_flag = app.add_flag("--pty", pty, "run the service on a PTY (default)");
  app.add_flag("--pipes", pipes, "run the service on pipes (stdout+stderr merged)")
      ->excludes(pty_flag);
  app.add_option("--cwd", o.cwd, "working directory of the service");
  app.add_option("--uid", uid, "run the service as this uid");
  app.add_option("--gid", gid, "run the service as this gid");
  app.add_option("--user", o.user, "user name for supplementary groups");
  app.add_option("--env-file", env_file, "complete environment of the service, K=V per line");
  app.add_option("--stop-command", o.stop_command, "line written to the console to stop");
  app.add_option("--stop-signal", stop_signal, "signal to stop (without --stop-command)")
      ->check(CLI::IsMember({"TERM", "INT", "HUP", "KILL", "QUIT"}));
  app.add_option("--stop-timeout", stop_timeout, "seconds to wait after the stop command/signal")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--term-timeout", term_timeout, "seconds to wait after SIGTERM")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--linger", linger, "seconds to keep serving after the service exited")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--scrollback", o.scrollback, "scrollback bytes (min 65536)")
      ->check(CLI::Range(size_t(0), size_t(64) << 20));
  // Counted into an int: CLI11 2.1's bool flag bound straight into Options
  // left a non-0/1 byte there (UBSan caught it in the copy of Options).
  app.add_flag(
      "--backpressure", backpressure_flags,
      "pause the service's output while an attached client is behind (interactive sessions)");
  app.add_option("--cols", o.cols, "initial PTY columns")->check(CLI::Range(1, 65535));
  app.add_option("--rows", o.rows, "initial PTY rows")->check(CLI::Range(1, 65535));
  app.add_option("--log-format", log_format, "json or text")
      ->check(CLI::IsMember({"json", "text"}));
  app.add_option("argv", o.argv, "the service's command line (after --)")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  log::Format fmt = log::Format::kJson;
  log::parse_format(log_format, &fmt);
  log::set_format(fmt);

  if (uid.has_value() != gid.has_value()) {
    std::cerr << "zlh-shim: --uid and --gid go together\n";
    return 2;
  }
  o.pty = pipes == 0;
  o.backpressure = backpressure_flags > 0;
  o.uid = uid;
  o.gid = gid;
  static const std::map<std::string, int> kSignals = {
      {"TERM", SIGTERM}, {"INT", SIGINT}, {"HUP", SIGHUP}, {"KILL", SIGKILL}, {"QUIT", SIGQUIT}};
  o.stop_signal = kSignals.at(stop_signal);
  o.stop_timeout = seconds_to_ms(stop_timeout);
  o.term_timeout = seconds_to_ms(term_timeout);
  o.linger = seconds_to_ms(linger);
  if (!env_file.empty()) {
    auto env = read_env_file(env_file);
    if (!env) {
      std::cerr << "zlh-shim: " << env.error().to_string() << "\n";
      return 2;
    }
    o.env = std::move(*env);
  }
  return shim::run(o);
}
