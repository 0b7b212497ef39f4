#include "api/relay/console_relay.hpp"

#include "api/activity/console_lines.hpp"
#include "api/relay/forwarding.hpp"
#include "api/relay/target.hpp"
#include "api/relay/user_slots.hpp"
#include "api/request_ids.hpp"
#include "base/log.hpp"
#include "http/origin.hpp"

namespace zlh::api::relay {

namespace {

using namespace std::chrono_literals;

// A game console's submitted lines as console.command entries (never a dev
// shell's: its input may hold secrets; the factory decides).
class LineRecorder {
 public:
  LineRecorder(activity::Recorder& rec, store::NewAuditEntry base)
      : rec_(rec), base_(std::move(base)) {}
  void input(std::string_view bytes) {
    for (auto& line : lines_.feed(bytes, std::chrono::steady_clock::now())) {
      store::NewAuditEntry e = base_;
      e.detail = nlohmann::json{{"command", std::move(line)}, {"via", "console"}}.dump();
      rec_.record(std::move(e));
    }
  }

 private:
  activity::Recorder& rec_;
  store::NewAuditEntry base_;  // who, which server, from where
  activity::ConsoleLines lines_;
};

class ConsoleRelay : public http::WsHandler {
 public:
  ConsoleRelay(std::unique_ptr<WsUpstream> up, std::string request_id, int64_t vmid,
               std::unique_ptr<UserSlots::Slot> slot, std::unique_ptr<LineRecorder> lines,
               std::unique_ptr<authz::LiveSessions::Handle> live)
      : up_(std::move(up)),
        request_id_(std::move(request_id)),
        vmid_(vmid),
        slot_(std::move(slot)),
        lines_(std::move(lines)),
        live_(std::move(live)) {}

  void on_open(std::shared_ptr<http::WsConn> conn) override {
    // Weak: the browser connection owns this handler, and the agent side
    // must not keep the browser side alive.
    std::weak_ptr<http::WsConn> weak = conn;
    if (live_)  // the user's access taken away: the session ends
      live_->set_cut([weak] {
        if (auto c = weak.lock()) c->close(1008, "access to this server was revoked");
      });
    up_->start(
        {.on_message =
             [weak](std::string data, bool binary) {
               auto c = weak.lock();
               if (!c) return;
               if (binary)
                 c->send_binary(std::move(data));
               else
                 c->send_text(std::move(data));
             },
         .on_close =
             [weak, rid = request_id_, vmid = vmid_](uint16_t code, std::string reason) {
               log::info("relay", "console closed",
                         {{"request_id", rid}, {"vmid", vmid}, {"code", code}, {"reason", reason}});
               if (auto c = weak.lock()) c->close(code, std::move(reason));
             }});
  }
  void on_message(std::string data, bool binary) override {
    if (binary && lines_) lines_->input(data);  // binary frames are keystrokes
    up_->send(std::move(data), binary);
  }
  void on_close() override { up_->close(1000, "client closed"); }

 private:
  std::unique_ptr<WsUpstream> up_;
  std::string request_id_;
  int64_t vmid_;
  std::unique_ptr<UserSlots::Slot> slot_;  // the user's console quota, given back with the session
  std::unique_ptr<LineRecorder> lines_;    // game servers only; null for dev
  std::unique_ptr<authz::LiveSessions::Handle> live_;  // cut when the user's access goes
};

}  // namespace

http::WsFactory console_relay(const RelayDeps& deps, std::shared_ptr<WsUpstreamIo> io) {
  auto slots = user_slots(deps, "console");
  return [c = deps, io, slots](http::Request& req) -> Result<std::shared_ptr<http::WsHandler>> {
    if (!http::origin_allowed(req.headers.get("Origin"), c.public_url))
      return fail(codes::kForbidden, "websocket origin is not " + c.public_url);
    auto target = owned_agent(c.store, req);  // authz: "console"
    if (!target) return fail(target.error());
    // M4: concurrent console sessions per user.
    const int64_t uid = user_id(req);
    auto q = c.store.get_quotas(uid);
    if (!q) return fail(q.error());
    const int64_t limit = q->consoles.value_or(c.quota_consoles);
    auto held = slots->try_acquire(uid, limit);
    if (!held) return fail(held.error());
    auto slot = std::move(*held);
    if (!slot)
      return fail(codes::kQuota, "quota consoles reached: " + std::to_string(limit) +
                                     " console sessions are open; close one first");
    const std::string agent_target = "/console" + (req.query.empty() ? "" : "?" + req.query);
    auto auth = c.agents.auth(target->vmid, "GET", agent_target);
    if (!auth) return fail(auth.error());
    http::Headers h = *auth;
    h.add("X-Request-Id", req.request_id);
    std::string url = target->base("ws") + agent_target;
    WsUpstream::Refusal refusal;
    auto up = WsUpstream::connect(*io, url, h, 5s, &refusal);
    if (!up) {
      log::warn("relay", "agent console unavailable",
                {{"request_id", req.request_id},
                 {"vmid", target->vmid},
                 {"error", up.error().message},
                 {"status", refusal.status}});
      if (refusal.status) return fail(error_from_agent(refusal.status, refusal.body));
      return fail(codes::kUpstream, "the container's agent cannot be reached");
    }
    std::unique_ptr<LineRecorder> lines;
    if (c.activity && target->type == store::ServerType::kGame)  // never a dev shell's input
      lines = std::make_unique<LineRecorder>(
          *c.activity, store::NewAuditEntry{uid, "console.command",
                                            "server:" + std::to_string(target->server_id), "{}",
                                            req.remote_addr});
    auto live = c.sessions ? c.sessions->add(target->server_id, target->user_id,
                                             store::Permission::kConsole)
                           : nullptr;
    return std::make_shared<ConsoleRelay>(std::move(*up), req.request_id, target->vmid,
                                          std::move(slot), std::move(lines), std::move(live));
  };
}

}  // namespace zlh::api::relay
