// The tunnel an upgraded proxied connection becomes (proxy_detail.hpp).
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "http/proxy_detail.hpp"
#include "http/proxy_memory.hpp"

namespace zlh::http::detail {

using asio::awaitable;
using Clock = CoarseClock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

using ChunkLease = Lease<kTunnelChunk>;

struct TunnelState {
  Clock::time_point last = Clock::now();
  uint64_t to_client = 0;
};

void close_both(tcp::socket& a, tcp::socket& b) {
  boost::system::error_code ec;
  a.close(ec);
  b.close(ec);
}

// Moves bytes one way. The fast path reads and writes without the reactor
// (both sockets are non-blocking): one reactor wait per burst instead of
// wait + read + write, which is most of a small WebSocket message's latency.
awaitable<void> pump(tcp::socket& from, tcp::socket& to, TunnelState& st, uint64_t* count) {
  boost::system::error_code nb;
  from.non_blocking(true, nb);
  to.non_blocking(true, nb);
  for (;;) {
    auto [wec] = co_await from.async_wait(tcp::socket::wait_read, kTuple);
    if (wec) {  // closed by the other pump, the watchdog or a shutdown
      close_both(from, to);
      co_return;
    }
    ChunkLease buf;
    for (;;) {  // drain what is readable now, then go back to waiting
      boost::system::error_code rec;
      size_t n = from.read_some(asio::buffer(buf.data(), kTunnelChunk), rec);
      if (rec == asio::error::would_block || rec == asio::error::try_again) break;
      if (rec) {
        if (rec == asio::error::eof) {
          boost::system::error_code ec;
          to.shutdown(tcp::socket::shutdown_send, ec);  // pass the half-close on
        } else {
          close_both(from, to);
        }
        co_return;
      }
      st.last = Clock::now();
      boost::system::error_code xec;
      size_t m = to.write_some(asio::buffer(buf.data(), n), xec);
      if (xec == asio::error::would_block || xec == asio::error::try_again) {
        xec = {};
        m = 0;
      }
      if (!xec && m < n) {  // the other side is slow: wait for room (backpressure)
        auto [aec, am] =
            co_await asio::async_write(to, asio::buffer(buf.data() + m, n - m), kTuple);
        xec = aec;
        m += am;
      }
      if (xec) {
        close_both(from, to);
        co_return;
      }
      st.last = Clock::now();
      if (count) *count += m;
      if (n < kTunnelChunk) break;  // most likely drained: don't pay a read for EAGAIN
    }
  }
}

awaitable<void> watchdog(tcp::socket& a, tcp::socket& b, TunnelState& st, const ProxyTarget& pt) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  const auto end = Clock::now() + pt.tunnel_total_timeout;
  const bool recheck = static_cast<bool>(pt.still_allowed);
  auto next_check = Clock::now() + pt.recheck_interval;
  for (;;) {
    auto at = std::min(st.last + pt.tunnel_idle_timeout, end);
    auto now = Clock::now();
    if (recheck && now >= next_check) {
      if (!pt.still_allowed()) break;
      next_check = now + pt.recheck_interval;
    }
    if (now >= at) break;
    if (recheck) at = std::min(at, next_check);
    t.expires_after(at - now);
    auto [ec] = co_await t.async_wait(kTuple);
    if (ec) co_return;  // the tunnel ended first
  }
  close_both(a, b);
}

awaitable<uint64_t> tunnel(tcp::socket& client, tcp::socket& up, const ProxyTarget& t) {
  using namespace asio::experimental::awaitable_operators;
  TunnelState st;
  co_await ((pump(client, up, st, nullptr) && pump(up, client, st, &st.to_client)) ||
            watchdog(client, up, st, t));
  close_both(client, up);
  co_return st.to_client;
}

}  // namespace

awaitable<uint64_t> run_tunnel(tcp::socket& client, tcp::socket upstream, const ProxyTarget& t) {
  co_return co_await tunnel(client, upstream, t);
}

void hand_off_tunnel(ProxyIo& io, tcp::socket upstream, ProxyTarget& t) {
  // Only what the tunnel needs, so that an idle tunnel costs little.
  ProxyTarget limits;
  limits.tunnel_idle_timeout = t.tunnel_idle_timeout;
  limits.tunnel_total_timeout = t.tunnel_total_timeout;
  limits.still_allowed = std::move(t.still_allowed);
  limits.recheck_interval = t.recheck_interval;
  io.client.expires_never();
  auto ex = io.client.get_executor();
  asio::co_spawn(
      ex,
      [](tcp::socket client, tcp::socket up, ProxyTarget lim,
         std::shared_ptr<void> slot) -> awaitable<void> {
        co_await run_tunnel(client, std::move(up), lim);
      }(io.client.release_socket(), std::move(upstream), std::move(limits), io.conn_slot),
      asio::detached);
}

}  // namespace zlh::http::detail
