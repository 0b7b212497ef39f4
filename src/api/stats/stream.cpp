#include "api/stats/stream.hpp"

#include <algorithm>
#include <limits>

#include "api/stats/stats_json.hpp"

namespace zlh::api::stats {

namespace {

// A sample's message: its time (to order and de-duplicate) and its text.
struct Message {
  int64_t t_ms = 0;
  std::shared_ptr<const std::string> text;
};

struct Viewer {
  int64_t server_id = 0;
  std::weak_ptr<http::WsConn> conn;
  size_t limit = 0;  // queued bytes over which a sample is dropped; set before `live`
  // Under State::mu: the ring is being sent (!live) and what came meanwhile.
  bool live = false;
  int64_t last_t = std::numeric_limits<int64_t>::min();
  std::vector<Message> pending;
};

}  // namespace

struct Fanout::State {
  State(const Sampler& s, FanoutOptions o) : sampler(s), opts(o) {}
  const Sampler& sampler;
  std::function<std::vector<Sample>(int64_t)> history;  // empty: the sampler's
  FanoutOptions opts;
  mutable std::mutex mu;
  std::map<int64_t, std::vector<std::shared_ptr<Viewer>>> by_server;
  std::atomic<uint64_t> sent{0}, dropped{0};

  // Queues `m` on the viewer's connection unless it is too far behind.
  // Called with no lock held.
  void deliver(Viewer& v, const Message& m) {
    auto c = v.conn.lock();
    if (!c) return;
    if (c->queued_bytes() > v.limit) {
      ++dropped;
      return;
    }
    c->send_text(*m.text);
    ++sent;
  }

  void remove(const std::shared_ptr<Viewer>& v) {
    std::lock_guard lk(mu);
    auto it = by_server.find(v->server_id);
    if (it == by_server.end()) return;
    std::erase(it->second, v);
    if (it->second.empty()) by_server.erase(it);
  }
};

namespace {

class Sub final : public Fanout::Subscription {
 public:
  Sub(std::weak_ptr<Fanout::State> st, std::shared_ptr<Viewer> v)
      : st_(std::move(st)), v_(std::move(v)) {}
  ~Sub() override {
    if (auto st = st_.lock()) st->remove(v_);
  }

 private:
  std::weak_ptr<Fanout::State> st_;
  std::shared_ptr<Viewer> v_;
};

}  // namespace

Fanout::Fanout(const Sampler& sampler, FanoutOptions opts)
    : st_(std::make_shared<State>(sampler, opts)) {}

Fanout::~Fanout() = default;

void Fanout::publish(const Fresh& fresh) {
  // Which of these servers have viewers: serialised outside the lock, once each.
  std::vector<const std::pair<int64_t, Sample>*> watched;
  {
    std::lock_guard lk(st_->mu);
    if (st_->by_server.empty()) return;
    for (const auto& f : fresh)
      if (st_->by_server.count(f.first)) watched.push_back(&f);
  }
  std::map<int64_t, Message> msgs;
  for (const auto* f : watched)
    msgs[f->first] = {f->second.t_ms,
                      std::make_shared<const std::string>(sample_json(f->second).dump())};
  std::vector<std::pair<std::shared_ptr<Viewer>, Message>> sends;
  {
    std::lock_guard lk(st_->mu);
    for (auto& [id, m] : msgs) {
      auto it = st_->by_server.find(id);
      if (it == st_->by_server.end()) continue;
      for (auto& v : it->second) {
        if (!v->live) {
          if (v->pending.size() < 8) v->pending.push_back(m);  // sent after its ring
        } else if (m.t_ms > v->last_t) {
          v->last_t = m.t_ms;
          sends.emplace_back(v, m);
        }
      }
    }
  }
  for (auto& [v, m] : sends) st_->deliver(*v, m);
}

std::unique_ptr<Fanout::Subscription> Fanout::subscribe(int64_t server_id,
                                                        std::shared_ptr<http::WsConn> conn) {
  auto v = std::make_shared<Viewer>();
  v->server_id = server_id;
  v->conn = conn;
  {
    // Registered before the ring is read: every later sample is either in
    // the ring or published to this viewer (pending until the ring is out).
    std::lock_guard lk(st_->mu);
    st_->by_server[server_id].push_back(v);
  }
  auto ring = st_->history ? st_->history(server_id) : st_->sampler.history(server_id);
  std::string text = ring_json(server_id, st_->sampler.options().interval.count(), ring).dump();
  v->limit = text.size() + st_->opts.max_behind_bytes;
  conn->send_text(std::move(text));
  int64_t last_t = ring.empty() ? std::numeric_limits<int64_t>::min() : ring.back().t_ms;
  // What was published while the ring was read and queued, in order, then
  // live. Only this thread sends to the viewer until `live` is set.
  for (;;) {
    std::vector<Message> take;
    {
      std::lock_guard lk(st_->mu);
      if (v->pending.empty()) {
        v->live = true;
        v->last_t = last_t;
        break;
      }
      take.swap(v->pending);
    }
    for (const auto& m : take)
      if (m.t_ms > last_t) {
        last_t = m.t_ms;
        st_->deliver(*v, m);
      }
  }
  return std::make_unique<Sub>(st_, std::move(v));
}

void Fanout::set_history(std::function<std::vector<Sample>(int64_t)> fn) {
  st_->history = std::move(fn);
}

std::vector<int64_t> Fanout::viewed() const {
  std::lock_guard lk(st_->mu);
  std::vector<int64_t> out;
  for (const auto& [id, vs] : st_->by_server) out.push_back(id);
  return out;
}

size_t Fanout::viewers() const {
  std::lock_guard lk(st_->mu);
  size_t n = 0;
  for (const auto& [id, vs] : st_->by_server) n += vs.size();
  return n;
}

uint64_t Fanout::sent() const { return st_->sent.load(); }
uint64_t Fanout::dropped() const { return st_->dropped.load(); }

}  // namespace zlh::api::stats
