#include "api/relay/file_relay.hpp"

#include "api/relay/user_slots.hpp"

#include <cstdlib>
#include <cstring>
#include <thread>

#include "api/relay/forwarding.hpp"
#include "api/relay/target.hpp"
#include "common/http_stream_client.hpp"
#include "common/log.hpp"

namespace zlh::api::relay {

namespace {

using namespace std::chrono_literals;
using http::Request;
using http::Response;
using http::StreamingRequest;

constexpr size_t kSmallAnswer =
    64 * 1024;  // answers up to this size are read whole, off the I/O thread
constexpr std::chrono::milliseconds kConnectTimeout = 5s;
constexpr std::chrono::milliseconds kIoTimeout = 60s;

struct RouteSpec {
  std::chrono::milliseconds answer_timeout;  // the agent's work after the body
};

Error unreachable() {
  return Error::make(codes::kUpstream, "the container's agent cannot be reached");
}

// The agent's answer to a request whose body it did not take (all of it):
// its error, rebuilt as an Error.
Error refusal(StreamingRequest& up) {
  auto head = up.read_head(5s);
  if (!head) return Error::make(codes::kUpstream, "the agent broke off the request");
  auto body = up.read_all(kSmallAnswer);
  return error_from_agent(head->status, body ? *body : std::string());
}

class UpstreamSource : public http::BodySource {
 public:
  UpstreamSource(std::unique_ptr<StreamingRequest> up, std::string prefix)
      : up_(std::move(up)), prefix_(std::move(prefix)) {}
  Result<size_t> read(char* buf, size_t cap) override {
    if (pos_ < prefix_.size()) {
      size_t n = std::min(cap, prefix_.size() - pos_);
      std::memcpy(buf, prefix_.data() + pos_, n);
      pos_ += n;
      if (pos_ == prefix_.size()) {
        std::string().swap(prefix_);
        pos_ = 0;
      }
      return n;
    }
    if (!up_) return size_t(0);
    auto n = up_->read(buf, cap);
    if (!n) return fail(n.error().wrap("agent body"));
    return *n;
  }

 private:
  std::unique_ptr<StreamingRequest> up_;
  std::string prefix_;
  size_t pos_ = 0;
};

// HEAD: the agent's length without a body.
class EmptySource : public http::BodySource {
 public:
  Result<size_t> read(char*, size_t) override { return size_t(0); }
};

// Everything one relayed request needs after the factory.
struct Pending {
  std::string method;
  std::string url;
  http::Headers headers;
  std::optional<uint64_t> content_length;
  std::string request_id;
  int64_t vmid = 0;
  std::chrono::milliseconds answer_timeout;
  // An upload's place in the user's upload quota, given back when the
  // request is answered (M4).
  std::shared_ptr<UserSlots::Slot> upload_slot;
};

// Runs on a worker: finishes the request, waits for the agent's answer and
// hands it to the client (small bodies whole, large ones as a BodySource).
void answer(Pending p, std::unique_ptr<StreamingRequest> up, http::Responder res) {
  if (!up) {
    StreamingRequest::Options o;
    o.content_length = p.content_length;
    o.connect_timeout = kConnectTimeout;
    o.io_timeout = kIoTimeout;
    auto r = StreamingRequest::open(p.method, p.url, p.headers, o);
    if (!r) {
      log::warn("relay", "agent unreachable",
                {{"request_id", p.request_id}, {"vmid", p.vmid}, {"error", r.error().message}});
      return res.send_error(unreachable());
    }
    up = std::move(*r);
  }
  auto wait = p.answer_timeout;
  if (auto f = up->finish(); !f) {
    // It may have answered (refused) and hung up: that answer is still read.
    log::warn("relay", "agent broke off the body",
              {{"request_id", p.request_id}, {"vmid", p.vmid}, {"error", f.error().message}});
    wait = 5s;
  }
  auto head = up->read_head(wait);
  if (!head) {
    log::warn("relay", "agent did not answer",
              {{"request_id", p.request_id}, {"vmid", p.vmid}, {"error", head.error().message}});
    return res.send_error(Error::make(codes::kUpstream, "the agent did not answer"));
  }
  if (agent_refused_api(head->status)) {
    log::error("relay", "agent refused the api's token",
               {{"request_id", p.request_id}, {"vmid", p.vmid}});
    return res.send_error(error_from_agent(head->status, ""));
  }
  Response out;
  out.status = head->status;
  out.headers = headers_to_client(head->headers);
  if (p.method == "HEAD") {
    out.source = std::make_shared<EmptySource>();
    out.source_length = head->content_length.value_or(0);
    return res.send(std::move(out));
  }
  std::string first;
  std::vector<char> buf(kSmallAnswer);
  while (first.size() < kSmallAnswer && !up->body_done()) {
    auto n = up->read(buf.data(), kSmallAnswer - first.size());
    if (!n) {
      log::warn("relay", "agent body failed",
                {{"request_id", p.request_id}, {"vmid", p.vmid}, {"error", n.error().message}});
      return res.send_error(Error::make(codes::kUpstream, "the agent broke off its answer"));
    }
    if (*n == 0) break;
    first.append(buf.data(), *n);
  }
  if (up->body_done()) {
    out.body = std::move(first);
  } else {
    out.source = std::make_shared<UpstreamSource>(std::move(up), std::move(first));
    out.source_length = head->content_length;
  }
  res.send(std::move(out));
}

class RelaySink : public http::BodySink {
 public:
  RelaySink(Pending p, std::unique_ptr<StreamingRequest> up)
      : p_(std::move(p)), up_(std::move(up)) {}

  Result<void> write(std::string_view chunk) override {
    if (!up_) return fail(codes::kInvalid, "unexpected request body");
    // The agent answering before the body is complete refused it.
    if (up_->answered()) return fail(refusal(*up_));
    if (auto w = up_->write(chunk); !w) {
      log::warn("relay", "agent stopped taking the body",
                {{"request_id", p_.request_id}, {"vmid", p_.vmid}, {"error", w.error().message}});
      return fail(refusal(*up_));
    }
    return {};
  }

  void finish(Request&, http::Responder res) override {
    std::thread([p = std::move(p_), up = std::move(up_), res]() mutable {
      answer(std::move(p), std::move(up), res);
    }).detach();
  }

 private:
  Pending p_;
  std::unique_ptr<StreamingRequest> up_;  // set when the request has a body
};

http::SinkFactory relay_factory(ApiContext& ctx, RouteSpec spec, std::shared_ptr<UserSlots> uploads) {
  return [c = &ctx, spec, uploads](Request& req) -> Result<std::unique_ptr<http::BodySink>> {
    auto target = owned_agent(*c, req);
    if (!target) return fail(target.error());
    // M4: concurrent uploads per user (file writes and uploads, mod uploads).
    std::shared_ptr<UserSlots::Slot> upload_slot;
    const bool upload = (req.method == "PUT" && req.path.ends_with("/files/write")) ||
                        (req.method == "POST" && (req.path.ends_with("/files/upload") || req.path.ends_with("/mods/install")));
    if (upload) {
      const int64_t uid = std::strtoll(req.log_user.c_str(), nullptr, 10);
      auto q = c->store.get_quotas(uid);
      if (!q) return fail(q.error());
      const int64_t limit = q->uploads.value_or(c->opts.quota_uploads);
      upload_slot = uploads->acquire(uid, limit);
      if (!upload_slot)
        return fail(codes::kQuota, "quota uploads reached: " + std::to_string(limit) +
                                       " uploads are running; wait for one to finish");
    }
    // "/api/servers/{id}/…" → "/…"
    auto path = agent_target(req.path, req.query, 3);
    if (!path) return fail(path.error());
    auto auth = c->agents.auth(target->vmid);
    if (!auth) return fail(auth.error());
    Pending p;
    p.method = req.method;
    p.url = target->base("http") + *path;
    p.headers = headers_to_agent(req.headers);
    for (const auto& [k, v] : auth->items()) p.headers.add(k, v);
    p.headers.add("X-Request-Id", req.request_id);
    p.request_id = req.request_id;
    p.vmid = target->vmid;
    p.answer_timeout = spec.answer_timeout;
    p.upload_slot = std::move(upload_slot);
    bool chunked = req.headers.get("Transfer-Encoding").has_value();
    if (!chunked) {
      if (auto len = req.headers.get("Content-Length"))
        p.content_length = std::strtoull(std::string(*len).c_str(), nullptr, 10);
    }
    if (!chunked && p.content_length.value_or(0) == 0)
      return std::make_unique<RelaySink>(std::move(p), nullptr);

    // A body: the agent says yes (100 Continue) or no before we read any of it.
    StreamingRequest::Options o;
    o.content_length = chunked ? std::nullopt : p.content_length;
    o.chunked = chunked;
    o.expect_continue = true;
    o.connect_timeout = kConnectTimeout;
    o.io_timeout = kIoTimeout;
    auto up = StreamingRequest::open(p.method, p.url, p.headers, o);
    if (!up) {
      log::warn("relay", "agent unreachable",
                {{"request_id", p.request_id}, {"vmid", p.vmid}, {"error", up.error().message}});
      return fail(unreachable());
    }
    if ((*up)->answered()) return fail(refusal(**up));
    return std::make_unique<RelaySink>(std::move(p), std::move(*up));
  };
}

}  // namespace

void add_file_relay_routes(http::Router& r, ApiContext& ctx) {
  http::RouteOptions files;
  files.body_limit = size_t(1) << 46;  // the agent enforces its own per-file limit
  files.deadline = std::chrono::minutes(5);
  files.blocking = true;  // the sink and the body source talk to the agent
  RouteSpec files_spec{files.deadline - 5s};
  http::RouteOptions mods = files;
  mods.deadline = std::chrono::minutes(31);  // the agent allows 30 min for an artifact install
  RouteSpec mods_spec{mods.deadline - 5s};

  auto uploads = std::make_shared<UserSlots>();
  for (std::string m : {"GET", "PUT", "POST"})
    r.add_streaming(m, "/api/servers/{id}/files/{rest...}", relay_factory(ctx, files_spec, uploads), files);
  r.add_streaming("GET", "/api/servers/{id}/mods", relay_factory(ctx, mods_spec, uploads), mods);
  for (std::string m : {"POST", "DELETE"})
    r.add_streaming(m, "/api/servers/{id}/mods/{rest...}", relay_factory(ctx, mods_spec, uploads), mods);
}

}  // namespace zlh::api::relay
