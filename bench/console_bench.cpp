// zlh-console-bench: console figures for bench/console.sh (docs/design.md §7, §14).
//
//   zlh-console-bench URL TOKEN MODE [--samples N] [--warmup N] [--bytes N]
//
// URL is ws://HOST:PORT/console[?session=ID] (the agent's console WebSocket,
// with `Authorization: Bearer TOKEN`), or `pty:` for the peer: the same login
// shell on a PTY this program opens itself (posix_openpt, no WebSocket, no
// agent, no shim; TOKEN is ignored). Modes:
//
//   hello  wait for the shell, print the session id, leave the shell running
//   rtt    keystroke echo: send one byte ('a'..'z' in turn) as its own binary
//          frame (or write(2) on the PTY master), time until that byte comes
//          back as terminal output; N samples after a warm-up. Every 40
//          keystrokes the line is cleared with Ctrl-U (not timed), so the
//          shell's line editor never wraps or redraws.
//   bulk   run `head -c BYTES /dev/zero | tr '\0' x` followed by a unique end
//          marker in the shell, count the output until the marker, report
//          MB/s (10^6 bytes per second) from the command's send to the marker.
//
// Before measuring, every mode types `echo ZLHRDY-$((T+1))` and waits for the
// computed text (which the echo of the typed line cannot contain), then for
// 150 ms of silence: by then the scrollback (a reattach gets ≥ 64 KiB of it)
// and the prompt have been drained.
//
// Prints `key value` lines on stdout for the script; errors on stderr, exit
// status 1 (setup or protocol failure) or 2 (usage).
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "http/client.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "zlh-console-bench: %s\n", msg.c_str());
  std::exit(1);
}

// A terminal seen from the client side: input bytes in, output bytes out.
class Term {
 public:
  virtual ~Term() = default;
  virtual void send(const std::string& bytes) = 0;
  // Output that arrived within `timeout`; nullopt when none did. Dies when the
  // other side went away.
  virtual std::optional<std::string> read(std::chrono::milliseconds timeout) = 0;
  virtual std::string session() const { return ""; }
  uint64_t messages = 0;  // output chunks received (WebSocket messages or read(2) calls)
};

class WsTerm : public Term {
 public:
  WsTerm(const std::string& url, const std::string& token) {
    zlh::http::Headers h;
    h.add("Authorization", "Bearer " + token);
    int status = 0;
    auto c = zlh::http::WsClient::connect(url, h, 10s, &status);
    if (!c)
      die("connect " + url + ": " + c.error().to_string() + " (HTTP " + std::to_string(status) +
          ")");
    c_ = std::move(*c);
  }
  ~WsTerm() override { c_->close(); }
  void send(const std::string& bytes) override {
    if (auto r = c_->send(bytes, true); !r) die("send: " + r.error().to_string());
  }
  std::optional<std::string> read(std::chrono::milliseconds timeout) override {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      auto m = c_->read(std::max(left, 0ms));
      if (!m) {
        if (m.error().is(zlh::codes::kTimeout)) return std::nullopt;
        die("read: " + m.error().to_string() + " (close code " + std::to_string(c_->close_code()) +
            ")");
      }
      if (m->binary) {
        ++messages;
        return std::move(m->data);
      }
      auto j = nlohmann::json::parse(m->data, nullptr, false);
      if (j.is_object() && j.value("type", "") == "session") session_ = j.value("id", "");
      if (j.is_object() && j.value("type", "") == "exit") die("the shell exited: " + m->data);
      if (j.is_object() && j.value("state", "") == "unavailable") die("console unavailable");
      if (Clock::now() >= deadline) return std::nullopt;
    }
  }
  std::string session() const override { return session_; }

 private:
  std::unique_ptr<zlh::http::WsClient> c_;
  std::string session_;
};

// The peer: the user's login shell on a PTY of our own (120x40, like the
// shim's default), TERM=xterm-256color like the agent's console.
class PtyTerm : public Term {
 public:
  PtyTerm() {
    master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master_ < 0 || ::grantpt(master_) != 0 || ::unlockpt(master_) != 0)
      die("posix_openpt failed");
    std::string slave = ::ptsname(master_);
    winsize ws{};
    ws.ws_col = 120;
    ws.ws_row = 40;
    ::ioctl(master_, TIOCSWINSZ, &ws);
    const passwd* pw = ::getpwuid(::getuid());
    std::string shell = pw && pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/bash";
    pid_ = ::fork();
    if (pid_ < 0) die("fork failed");
    if (pid_ == 0) {
      ::setsid();
      int s = ::open(slave.c_str(), O_RDWR);
      if (s < 0) ::_exit(127);
      ::ioctl(s, TIOCSCTTY, 0);
      ::dup2(s, 0);
      ::dup2(s, 1);
      ::dup2(s, 2);
      if (s > 2) ::close(s);
      ::setenv("TERM", "xterm-256color", 1);
      ::execl(shell.c_str(), shell.c_str(), "-l", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::fcntl(master_, F_SETFL, ::fcntl(master_, F_GETFL) | O_NONBLOCK);
  }
  ~PtyTerm() override {
    ::kill(pid_, SIGHUP);
    ::close(master_);
    int st = 0;
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, &st, WNOHANG) == pid_) return;
      ::usleep(20'000);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &st, 0);
  }
  void send(const std::string& bytes) override {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::write(master_, bytes.data() + off, bytes.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        pollfd p{master_, POLLOUT, 0};
        ::poll(&p, 1, 1000);
        continue;
      }
      if (n < 0) die(std::string("pty write: ") + std::strerror(errno));
      off += size_t(n);
    }
  }
  std::optional<std::string> read(std::chrono::milliseconds timeout) override {
    pollfd p{master_, POLLIN, 0};
    int r = ::poll(&p, 1, int(timeout.count()));
    if (r < 0 && errno != EINTR) die(std::string("poll: ") + std::strerror(errno));
    if (r <= 0) return std::nullopt;
    char buf[64 * 1024];
    ssize_t n = ::read(master_, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return std::nullopt;
    if (n <= 0) die("the shell exited (pty closed)");
    ++messages;
    return std::string(buf, size_t(n));
  }

 private:
  int master_ = -1;
  pid_t pid_ = -1;
};

// Reads until no output came for `quiet` (or `limit` passed).
void drain(Term& t, std::chrono::milliseconds quiet, std::chrono::milliseconds limit = 5s) {
  auto end = Clock::now() + limit;
  while (Clock::now() < end)
    if (!t.read(quiet)) return;
}

// Types a command whose output differs from its echo and waits for the output.
void sync_shell(Term& t, uint32_t token) {
  t.send("echo ZLHRDY-$((" + std::to_string(token) + "+1))\n");
  std::string want = "ZLHRDY-" + std::to_string(uint64_t(token) + 1), acc;
  auto deadline = Clock::now() + 20s;
  while (acc.find(want) == std::string::npos) {
    if (Clock::now() > deadline) die("the shell did not answer within 20 s");
    if (auto d = t.read(200ms)) {
      acc += *d;
      if (acc.size() > (1u << 20)) acc.erase(0, acc.size() - 4096);
    }
  }
  drain(t, 150ms);
}

int64_t percentile(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = size_t(p / 100.0 * double(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

void rtt(Term& t, int samples, int warmup) {
  constexpr int kLine = 40;
  std::vector<int64_t> us;
  us.reserve(size_t(samples));
  int typed = 0;
  for (int i = 0; i < warmup + samples; ++i) {
    if (typed == kLine) {
      t.send("\x15");  // Ctrl-U: clear the line, untimed
      drain(t, 30ms);
      typed = 0;
    }
    char c = char('a' + i % 26);
    auto t0 = Clock::now();
    t.send(std::string(1, c));
    for (;;) {
      auto d = t.read(5s);
      if (!d) die("no echo within 5 s for keystroke " + std::to_string(i));
      if (d->find(c) != std::string::npos) break;
    }
    auto t1 = Clock::now();
    ++typed;
    if (i >= warmup)
      us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count());
  }
  t.send("\x15");
  drain(t, 100ms);
  std::sort(us.begin(), us.end());
  double sum = 0;
  for (auto v : us) sum += double(v);
  std::printf("rtt_samples %zu\n", us.size());
  std::printf("rtt_p50_us %lld\n", (long long)percentile(us, 50));
  std::printf("rtt_p90_us %lld\n", (long long)percentile(us, 90));
  std::printf("rtt_p99_us %lld\n", (long long)percentile(us, 99));
  std::printf("rtt_max_us %lld\n", (long long)us.back());
  std::printf("rtt_mean_us %.1f\n", sum / double(us.size()));
}

void bulk(Term& t, uint64_t bytes, uint32_t token) {
  std::string end = "ZLHEND" + std::to_string(token);
  // The typed line holds "ZLHEND%s", the output "ZLHEND<token>".
  std::string cmd = "head -c " + std::to_string(bytes) +
                    " /dev/zero | tr '\\0' x; printf '\\nZLHEND%s\\n' " + std::to_string(token) +
                    "\n";
  uint64_t total = 0, xs = 0;
  uint64_t msgs0 = t.messages;
  std::string tail;
  auto t0 = Clock::now();
  std::optional<Clock::time_point> first_x;
  t.send(cmd);
  auto deadline = t0 + 600s;
  for (;;) {
    if (Clock::now() > deadline) die("no end marker within 600 s");
    auto d = t.read(1s);
    if (!d) continue;
    total += d->size();
    uint64_t n = uint64_t(std::count(d->begin(), d->end(), 'x'));
    if (n && !first_x) first_x = Clock::now();
    xs += n;
    tail += *d;
    if (tail.find(end) != std::string::npos) break;
    if (tail.size() > 256) tail.erase(0, tail.size() - 64);
  }
  auto t1 = Clock::now();
  double s = std::chrono::duration<double>(t1 - t0).count();
  double s_x = first_x ? std::chrono::duration<double>(t1 - *first_x).count() : s;
  drain(t, 150ms);
  std::printf("bulk_bytes_requested %llu\n", (unsigned long long)bytes);
  std::printf("bulk_bytes_received %llu\n", (unsigned long long)total);
  std::printf("bulk_x_received %llu\n", (unsigned long long)xs);
  std::printf("bulk_messages %llu\n", (unsigned long long)(t.messages - msgs0));
  std::printf("bulk_seconds %.4f\n", s);
  std::printf("bulk_seconds_from_first_byte %.4f\n", s_x);
  std::printf("bulk_mb_per_s %.1f\n", double(total) / 1e6 / s);
}

uint64_t parse_num(const char* flag, const char* v) {
  char* e = nullptr;
  unsigned long long n = std::strtoull(v, &e, 10);
  if (!e || *e || n == 0) {
    std::fprintf(stderr, "zlh-console-bench: %s wants a positive integer\n", flag);
    std::exit(2);
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  const char* usage =
      "usage: zlh-console-bench URL|pty: TOKEN hello|rtt|bulk [--samples N] [--warmup N] [--bytes "
      "N]\n";
  if (argc < 4 || (argc - 4) % 2 != 0) {
    std::fputs(usage, stderr);
    return 2;
  }
  std::string url = argv[1], token = argv[2], mode = argv[3];
  int samples = 2000, warmup = 200;
  uint64_t bytes = 200'000'000;
  for (int i = 4; i < argc; i += 2) {
    std::string f = argv[i];
    if (f == "--samples")
      samples = int(parse_num(argv[i], argv[i + 1]));
    else if (f == "--warmup")
      warmup = int(parse_num(argv[i], argv[i + 1]));
    else if (f == "--bytes")
      bytes = parse_num(argv[i], argv[i + 1]);
    else {
      std::fputs(usage, stderr);
      return 2;
    }
  }
  if (mode != "hello" && mode != "rtt" && mode != "bulk") {
    std::fputs(usage, stderr);
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  uint32_t tok = std::random_device{}() % 1'000'000'000u;

  std::unique_ptr<Term> t;
  if (url == "pty:")
    t = std::make_unique<PtyTerm>();
  else
    t = std::make_unique<WsTerm>(url, token);
  sync_shell(*t, tok);
  if (!t->session().empty()) std::printf("session %s\n", t->session().c_str());
  if (mode == "rtt")
    rtt(*t, samples, warmup);
  else if (mode == "bulk")
    bulk(*t, bytes, tok);
  std::fflush(stdout);
  return 0;
}
