#include "agent/console/console.hpp"

#include <signal.h>

#include <deque>
#include <thread>

#include "base/crypto.hpp"
#include "base/log.hpp"
#include "proto/shim_protocol.hpp"

namespace zlh::agent::console {

using supervisor::ServiceState;

using namespace std::chrono_literals;

namespace {

// One WebSocket client attached to one service's shim.
class ShimRelay : public http::WsHandler, public std::enable_shared_from_this<ShimRelay> {
 public:
  ShimRelay(ConsoleManager& mgr, TaskRunner& tasks, std::string service, std::string socket,
            std::string session)
      : mgr_(mgr),
        tasks_(tasks),
        service_(std::move(service)),
        socket_(std::move(socket)),
        session_(std::move(session)) {}

  void on_open(std::shared_ptr<http::WsConn> conn) override {
    conn_ = conn;
    mgr_.attached(service_);
    if (!session_.empty())
      conn->send_text(nlohmann::json{{"type", "session"}, {"id", session_}}.dump());
    auto self = shared_from_this();
    bool ok = tasks_.run([self](const std::atomic<bool>& cancel) { self->pump(cancel); });
    if (!ok) conn->close(1001, "agent shutting down");
  }

  void on_message(std::string data, bool binary) override {
    if (binary) return send(shim::FrameType::kInput, std::move(data));
    auto c = parse_control(data);
    if (!c) return;  // not a control message we know: dropped, the session goes on
    if (c->kind == Control::Kind::kResize)
      send(shim::FrameType::kResize, shim::resize_payload(c->cols, c->rows));
    else
      send(shim::FrameType::kSignal, std::string(1, char(c->signal)));
  }

  void on_close() override {
    closed_ = true;
    mgr_.detached(service_);
    conn_.reset();
  }

 private:
  // Input goes through its own connection so the reader never waits for it.
  void send(shim::FrameType type, std::string payload) {
    std::lock_guard lk(mu_);
    if (!writer_) {
      if (pending_.size() < 1024) pending_.push_back({type, std::move(payload)});
      return;
    }
    if (auto r = writer_->send(type, payload, 2s); !r)
      log::debug("console", "input lost", {{"error", r.error().message}});
  }

  void pump(const std::atomic<bool>& cancel) {
    auto conn = conn_;
    if (!conn) return;
    Result<shim::ShimClient> reader = fail(codes::kUnavailable, "not connected");
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!cancel && !closed_ && std::chrono::steady_clock::now() < deadline) {
      reader = shim::ShimClient::connect(socket_, 500ms);
      if (reader) break;
      std::this_thread::sleep_for(20ms);
    }
    if (!reader ||
        !reader->send(shim::FrameType::kAttach, std::string(1, char(shim::kAttachScrollback)))) {
      conn->send_text(R"({"type":"state","state":"unavailable"})");
      conn->close(1011, "console unavailable");
      return;
    }
    {
      auto w = shim::ShimClient::connect(socket_, 2s);
      std::lock_guard lk(mu_);
      if (w) writer_ = std::make_unique<shim::ShimClient>(std::move(*w));
      for (auto& [t, p] : pending_)
        if (writer_) (void)writer_->send(t, p, 2s);
      pending_.clear();
    }
    conn->send_text(R"({"type":"state","state":"running"})");
    while (!cancel && !closed_) {
      auto f = reader->read_frame(200ms);
      if (!f) {
        if (f.error().is(codes::kTimeout)) continue;
        conn->close(1011, "console connection lost");
        break;
      }
      if (f->type == shim::FrameType::kOutput) {
        conn->send_binary(std::move(f->payload));
        // A dev session waits for its browser (the shim then pauses the
        // shell); a shared game console never waits for a viewer, the
        // WebSocket drops that viewer's oldest output instead.
        while (!session_.empty() && conn->queued_bytes() > (512u << 10) && !cancel && !closed_)
          std::this_thread::sleep_for(2ms);
      } else if (f->type == shim::FrameType::kExit) {
        auto st = shim::parse_status(f->payload);
        nlohmann::json msg = {{"type", "exit"}};
        if (st && st->signal)
          msg["signal"] = *st->signal;
        else
          msg["code"] = st && st->exit_code ? *st->exit_code : 0;
        conn->send_text(msg.dump());
        conn->close(1000, "exited");
        break;
      }
    }
    if (cancel) conn->close(1001, "agent shutting down");
  }

  ConsoleManager& mgr_;
  TaskRunner& tasks_;
  std::string service_, socket_, session_;
  std::shared_ptr<http::WsConn> conn_;
  std::atomic<bool> closed_{false};
  std::mutex mu_;
  std::unique_ptr<shim::ShimClient> writer_;
  std::deque<std::pair<shim::FrameType, std::string>> pending_;
};

bool valid_session_id(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s)
    if (!std::isxdigit(uint8_t(c)) || std::isupper(uint8_t(c))) return false;
  return true;
}

}  // namespace

ConsoleManager::ConsoleManager(supervisor::Supervisor& sup, devenv::DevEnvironment& devenv,
                               TaskRunner& tasks, std::chrono::seconds idle_keep)
    : sup_(sup), devenv_(devenv), tasks_(tasks), idle_keep_(idle_keep) {}

void ConsoleManager::start_reaper() {
  tasks_.run([this](const std::atomic<bool>& cancel) {
    // Short sleeps, so that a stop is not kept waiting.
    for (int tick = 0; !cancel.load(); ++tick) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (tick % 150 == 149) reap_idle();
    }
  });
}

void ConsoleManager::attached(const std::string& service) {
  std::lock_guard lk(mu_);
  usage_[service].clients++;
}

void ConsoleManager::detached(const std::string& service) {
  std::lock_guard lk(mu_);
  auto& u = usage_[service];
  if (u.clients > 0) u.clients--;
  u.last_detach = std::chrono::steady_clock::now();
}

void ConsoleManager::reap_idle() {
  std::vector<std::string> idle;
  {
    std::lock_guard lk(mu_);
    auto now = std::chrono::steady_clock::now();
    for (auto& v : sup_.services()) {
      if (!v.name.starts_with("console-")) continue;
      auto& u = usage_[v.name];
      bool gone = v.state == ServiceState::kExited || v.state == ServiceState::kStopped;
      if (gone || (u.clients == 0 && now - u.last_detach > idle_keep_)) idle.push_back(v.name);
    }
    for (auto& n : idle) usage_.erase(n);
  }
  for (auto& n : idle) {
    log::info("console", "closing idle console session", {{"service", n}});
    (void)sup_.stop(n);
    sup_.remove(n);
  }
}

Result<std::string> ConsoleManager::new_dev_session() {
  auto user = devenv_.ensure_user();
  if (!user) return fail(user.error().wrap("dev user"));
  std::string id = crypto::random_hex(8);
  auto base = devenv_.dev_service("console-" + id);
  if (!base) return fail(base.error());
  supervisor::ServiceSpec spec = std::move(*base);
  spec.argv = {user->shell.empty() ? "/bin/bash" : user->shell, "-l"};
  auto env = devenv_.environment();
  if (env.get("HOME").empty()) spec.env.push_back("HOME=" + user->home);
  if (env.get("TERM").empty()) spec.env.push_back("TERM=xterm-256color");
  spec.pty = true;
  spec.stop_signal = "HUP";
  spec.stop_timeout_s = 3;
  spec.term_timeout_s = 3;
  spec.restart_on_crash = false;
  spec.backpressure =
      true;  // like ssh: a big `cat` waits for the browser instead of losing its middle
  if (auto r = sup_.start(spec); !r) return fail(r.error());
  return id;
}

Result<std::shared_ptr<http::WsHandler>> ConsoleManager::open(
    const http::Request& req, std::optional<ContainerType> container_type) {
  reap_idle();
  if (!container_type) return fail(codes::kConflict, "the container is not provisioned yet");
  if (*container_type == ContainerType::kGame) {
    if (!sup_.has("workload")) return fail(codes::kConflict, "the game server is not running yet");
    return std::make_shared<ShimRelay>(*this, tasks_, "workload", sup_.socket_path("workload"), "");
  }
  std::string id;
  if (auto want = req.query_param("session"); want && valid_session_id(*want)) {
    auto v = sup_.service("console-" + *want);
    if (v && (v->state == ServiceState::kRunning || v->state == ServiceState::kStarting))
      id = *want;
  }
  if (id.empty()) {
    auto created = new_dev_session();
    if (!created) return fail(created.error());
    id = *created;
  }
  std::string name = "console-" + id;
  return std::make_shared<ShimRelay>(*this, tasks_, name, sup_.socket_path(name), id);
}

}  // namespace zlh::agent::console
