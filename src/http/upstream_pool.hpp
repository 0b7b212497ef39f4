// Internal to the HTTP server and its proxy: per-io-thread state of the
// proxy's hot path, the idle upstream connections and the deadlines that
// replace per-operation timers, and the header read that uses them.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "base/coarse_clock.hpp"
#include "http/http.hpp"

namespace zlh::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// Idle upstream connections by address and port, most recent first. One
// pool per io thread, used only by that thread (clear() once it stopped),
// so no lock: its sockets stay registered with that thread's io_context,
// and taking one costs no epoll_ctl and no fcntl, at most a non-blocking
// peek that checks the peer has not closed it. A connection is handed out
// only if it is younger than the idle limit; at most max_idle per key are
// kept. Sockets are held by pointer, so taking and giving one back moves
// no socket object (a move copies its type-erased executor, and making a
// new one looks its service up under the io_context's lock).
class UpstreamPool {
 public:
  explicit UpstreamPool(size_t max_idle = 64,
                        std::chrono::seconds idle_limit = std::chrono::seconds(30))
      : max_idle_(max_idle), idle_limit_(idle_limit) {}
  // check_peer: peek first (for requests that could not be replayed on a
  // new connection if this one turns out closed: those with a body).
  std::unique_ptr<tcp::socket> take(const tcp::endpoint& key, bool check_peer = true);
  void give(const tcp::endpoint& key, std::unique_ptr<tcp::socket> s);  // s: no operation pending
  void clear();  // closes every idle connection (before the io_context goes)

 private:
  struct Idle {
    std::unique_ptr<tcp::socket> socket;
    CoarseClock::time_point since;
  };
  size_t max_idle_;
  std::chrono::seconds idle_limit_;
  mutable std::mutex mu_;
  struct EndpointHash {
    size_t operator()(const tcp::endpoint& e) const {
      const auto a = e.address();
      size_t h = e.port();
      if (a.is_v4()) return h * 0x9E3779B97F4A7C15ULL ^ a.to_v4().to_uint();
      for (auto b : a.to_v6().to_bytes()) h = h * 131 + b;
      return h;
    }
  };
  std::unordered_map<tcp::endpoint, std::deque<Idle>, EndpointHash> idle_;
};

// Deadlines for operations on plain sockets, one set per io thread (used
// only from that thread). Arming one is a store, not a timer: a sweep every
// kTick cancels the pending operations of every socket whose deadline has
// passed, and the operation then sees fired(). Cheaper on the hot path than
// beast::tcp_stream, which arms and cancels a timer around every operation;
// the price is that a deadline fires up to kTick late.
class Deadlines {
 public:
  static constexpr std::chrono::milliseconds kTick{250};
  // Declared before the io_context whose coroutines hold watches (they
  // unlink themselves when that io_context destroys them); attach() after
  // it exists, detach() before it goes.
  Deadlines() = default;
  void attach(asio::io_context& ioc) { timer_.emplace(ioc); }
  void detach() { timer_.reset(); }
  Deadlines(const Deadlines&) = delete;
  Deadlines& operator=(const Deadlines&) = delete;

  // One socket's deadline. Registered while it lives; must not outlive the
  // Deadlines nor be moved.
  class Watch {
   public:
    Watch(Deadlines& d, tcp::socket& s) : d_(d), s_(&s) { d_.link(this); }
    ~Watch() { d_.unlink(this); }
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    void arm(std::chrono::steady_clock::duration d) {
      at_ = CoarseClock::now() + d;
      armed_ = true;
      fired_ = false;
      d_.start();
    }
    void disarm() { armed_ = false; }
    bool fired() const { return fired_; }
    // Ends the deadline of one operation: its error becomes
    // beast::error::timeout when the deadline is what cancelled it.
    void settle(boost::system::error_code& ec) {
      armed_ = false;
      if (fired_) ec = beast::error::timeout;
    }

   private:
    friend class Deadlines;
    Deadlines& d_;
    tcp::socket* s_;
    CoarseClock::time_point at_{};
    bool armed_ = false;
    bool fired_ = false;
    Watch* prev_ = nullptr;
    Watch* next_ = nullptr;
  };

 private:
  void link(Watch* w);
  void unlink(Watch* w);
  void start();
  void sweep();
  std::optional<asio::steady_timer> timer_;
  Watch* head_ = nullptr;
  bool ticking_ = false;
};

// Reads until `parser` has a whole header, through the socket's own
// (speculative) reads, with a deadline instead of a timer. Errors as
// Beast's async_read_header gives them (end_of_stream when the peer closed
// before a byte of a message, beast::error::timeout when the deadline
// fired); bytes after the header stay in `buffer`.
template <typename Parser>
asio::awaitable<boost::system::error_code> read_head(tcp::socket& s, Deadlines::Watch& w,
                                                     beast::flat_buffer& buffer, Parser& parser,
                                                     std::chrono::steady_clock::duration timeout) {
  boost::system::error_code ec;
  w.arm(timeout);
  bool yielded = false;
  for (;;) {
    if (buffer.size() > 0) {
      size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == bhttp::error::need_more) ec = {};
      if (ec) break;
      if (parser.is_header_done()) break;
    }
    if (!yielded) {
      // We usually just wrote to this peer (a request upstream, a response
      // to the client), so its answer is rarely there yet, and Asio tries
      // every read at once: a recv that fails with EAGAIN, then the wait.
      // Letting this thread's other ready work run first gives the peer
      // that time, and the read then finds its bytes more often (IDE
      // bench, perf stat: recvs failing with EAGAIN 1.55 -> 0.7 per proxied
      // request, syscalls 6.1 -> 5.25). With nothing else to run, the read
      // comes right away.
      yielded = true;
      co_await asio::post(s.get_executor(), asio::use_awaitable);
    }
    const size_t want =
        std::max<size_t>(4096, std::min<size_t>(buffer.capacity() - buffer.size(), 65536));
    auto [rec, n] =
        co_await s.async_read_some(buffer.prepare(want), asio::as_tuple(asio::use_awaitable));
    if (w.fired()) {
      ec = beast::error::timeout;
      break;
    }
    buffer.commit(n);
    if (rec == asio::error::eof) {
      if (parser.got_some() || buffer.size() > 0) {
        parser.put_eof(ec);
        if (!ec) ec = bhttp::error::partial_message;
      } else {
        ec = bhttp::error::end_of_stream;
      }
      break;
    }
    if (rec) {
      ec = rec;
      break;
    }
  }
  w.disarm();
  co_return ec;
}

}  // namespace zlh::http::detail
