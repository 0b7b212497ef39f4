// The upstream pool and the deadlines (upstream_pool.hpp).
#include "http/upstream_pool.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace zlh::http::detail {

using Clock = CoarseClock;

// ---- pool ----

namespace {

bool peer_closed_or_dirty(int fd) {
  char c;
  ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return !(errno == EAGAIN || errno == EWOULDBLOCK);
  return true;  // 0: closed; > 0: bytes nobody asked for
}

}  // namespace

std::unique_ptr<tcp::socket> UpstreamPool::take(const tcp::endpoint& key, bool check_peer) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& q = it->second;
  auto now = Clock::now();
  while (!q.empty()) {
    Idle c = std::move(q.front());
    q.pop_front();
    if (now - c.since < idle_limit_ &&
        (!check_peer || !peer_closed_or_dirty(c.socket->native_handle())))
      return std::move(c.socket);
    boost::system::error_code ec;
    c.socket->close(ec);
  }
  idle_.erase(it);
  return nullptr;
}

void UpstreamPool::give(const tcp::endpoint& key, std::unique_ptr<tcp::socket> s) {
  if (!s || !s->is_open()) return;
  auto& q = idle_[key];
  q.push_front(Idle{std::move(s), Clock::now()});
  while (q.size() > max_idle_) q.pop_back();
}

void UpstreamPool::clear() { idle_.clear(); }

// ---- deadlines ----

void Deadlines::link(Watch* w) {
  w->next_ = head_;
  if (head_) head_->prev_ = w;
  head_ = w;
}

void Deadlines::unlink(Watch* w) {
  if (w->prev_)
    w->prev_->next_ = w->next_;
  else
    head_ = w->next_;
  if (w->next_) w->next_->prev_ = w->prev_;
}

void Deadlines::start() {
  if (ticking_ || !timer_) return;
  ticking_ = true;
  timer_->expires_after(kTick);
  timer_->async_wait([this](boost::system::error_code ec) {
    ticking_ = false;
    if (!ec) sweep();
  });
}

void Deadlines::sweep() {
  const auto now = Clock::now();
  bool any = false;
  for (Watch* w = head_; w; w = w->next_) {
    if (!w->armed_) continue;
    if (w->at_ <= now) {
      w->armed_ = false;
      w->fired_ = true;
      boost::system::error_code ec;
      w->s_->cancel(ec);  // the pending operation ends with operation_aborted
    } else {
      any = true;
    }
  }
  if (any) start();
}

}  // namespace zlh::http::detail
