// The reverse proxy behind Router::add_proxy (see http.hpp, ProxyTarget):
// one proxied exchange, from the upstream head to the client's answer.
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <vector>

#include "base/log.hpp"
#include "base/strings.hpp"
#include "http/proxy_detail.hpp"
#include "http/proxy_memory.hpp"

namespace zlh::http::detail {

using asio::awaitable;
// Idle limits, deadlines and tunnel timeouts: the tick's resolution is plenty.
using Clock = CoarseClock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
using namespace std::string_view_literals;

namespace {

using BodyChunk = Lease<kChunk>;

// ---- headers ----

bool hop_by_hop(std::string_view name) {
  static constexpr std::array<std::string_view, 10> kHop = {"connection",
                                                            "keep-alive",
                                                            "proxy-connection",
                                                            "proxy-authenticate",
                                                            "proxy-authorization",
                                                            "te",
                                                            "trailer",
                                                            "transfer-encoding",
                                                            "upgrade",
                                                            "expect"};
  for (auto h : kHop)
    if (strings::iequals(name, h)) return true;
  return false;
}

// The same for a header Beast parsed: every hop-by-hop name is a known
// field, so an enum compare decides (no string compare per header). The
// proxy sets Content-Length itself, so it is dropped here too.
bool hop_by_hop_or_length(bhttp::field f) {
  switch (f) {
    case bhttp::field::connection:
    case bhttp::field::keep_alive:
    case bhttp::field::proxy_connection:
    case bhttp::field::proxy_authenticate:
    case bhttp::field::proxy_authorization:
    case bhttp::field::te:
    case bhttp::field::trailer:
    case bhttp::field::transfer_encoding:
    case bhttp::field::upgrade:
    case bhttp::field::expect:
    case bhttp::field::content_length:
      return true;
    default:
      return false;
  }
}

// Header names listed in a Connection header are hop-by-hop too. The
// tokens are views into the header values (which outlive them); the first
// few need no allocation.
class ConnectionTokens {
 public:
  void add_from(std::string_view v) {
    size_t i = 0;
    while (i < v.size()) {
      size_t j = v.find(',', i);
      if (j == std::string_view::npos) j = v.size();
      std::string_view tok = v.substr(i, j - i);
      while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t')) tok.remove_prefix(1);
      while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t')) tok.remove_suffix(1);
      if (!tok.empty()) {
        if (n_ < small_.size())
          small_[n_++] = tok;
        else
          more_.push_back(tok);
      }
      i = j + 1;
    }
  }
  bool empty() const { return n_ == 0; }
  bool has(std::string_view name) const {
    for (size_t i = 0; i < n_; ++i)
      if (strings::iequals(small_[i], name)) return true;
    for (auto t : more_)
      if (strings::iequals(t, name)) return true;
    return false;
  }

 private:
  std::array<std::string_view, 8> small_;
  size_t n_ = 0;
  std::vector<std::string_view> more_;
};

// A header line, unless a CR, LF or NUL would let it split the message.
// (One pass per byte; find_first_of would call memchr per byte.)
bool splits_line(std::string_view s, bool colon) {
  for (char c : s)
    if (c == '\r' || c == '\n' || c == '\0' || (colon && c == ':')) return true;
  return false;
}

void append_field(std::string& out, std::string_view k, std::string_view v) {
  if (k.empty() || splits_line(k, true) || splits_line(v, false)) return;
  // One size check and plain copies (four appends were four calls).
  const size_t at = out.size();
  out.resize(at + k.size() + v.size() + 4);
  char* p = out.data() + at;
  std::memcpy(p, k.data(), k.size());
  p += k.size();
  *p++ = ':';
  *p++ = ' ';
  std::memcpy(p, v.data(), v.size());
  p += v.size();
  *p++ = '\r';
  *p = '\n';
}

std::string hex(size_t n) {
  char buf[20];
  auto r = std::to_chars(buf, buf + sizeof buf, n, 16);
  return std::string(buf, r.ptr);
}

// Writes `bufs` straight to the socket as far as it takes them now (no
// reactor, no deadline, no coroutine frame). Set when that ended the write
// (all sent, or an error); else `sent` says how far it got and write_rest()
// finishes. A small message usually goes whole. One sendmsg with
// MSG_DONTWAIT, so the socket's own blocking mode is neither read nor set.
template <typename Buffers>
std::optional<boost::system::error_code> write_now(tcp::socket& s, const Buffers& bufs,
                                                   size_t& sent) {
  std::array<iovec, 16> iov;
  size_t n = 0;
  for (auto it = asio::buffer_sequence_begin(bufs);
       it != asio::buffer_sequence_end(bufs) && n < iov.size(); ++it) {
    asio::const_buffer b(*it);
    if (b.size() == 0) continue;
    iov[n++] = iovec{const_cast<void*>(b.data()), b.size()};
  }
  sent = 0;
  if (n == 0) return boost::system::error_code{};
  msghdr m{};
  m.msg_iov = iov.data();
  m.msg_iovlen = n;
  ssize_t r = ::sendmsg(s.native_handle(), &m, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return std::nullopt;
    return boost::system::error_code(errno, boost::system::system_category());
  }
  sent = static_cast<size_t>(r);
  if (sent == beast::buffer_bytes(bufs)) return boost::system::error_code{};
  return std::nullopt;
}

// The rest of `bufs` after `sent` bytes, through an async write under the
// deadline `w`.
template <typename Buffers>
awaitable<boost::system::error_code> write_rest(tcp::socket& s, Deadlines::Watch& w,
                                                const Buffers& bufs, size_t sent,
                                                std::chrono::steady_clock::duration timeout) {
  beast::buffers_suffix<Buffers> rest(bufs);
  rest.consume(sent);
  w.arm(timeout);
  auto [ec, n] = co_await asio::async_write(s, rest, kTuple);
  w.settle(ec);
  co_return ec;
}

// Both, for the paths that are not per-request hot.
template <typename Buffers>
awaitable<boost::system::error_code> write_all(tcp::socket& s, Deadlines::Watch& w,
                                               const Buffers& bufs,
                                               std::chrono::steady_clock::duration timeout) {
  size_t sent = 0;
  if (auto done = write_now(s, bufs, sent)) co_return *done;
  co_return co_await write_rest(s, w, bufs, sent, timeout);
}

// The start of a response head to the client, appended to `h`: the status
// line, with the upstream's reason phrase, else the standard one. Header
// lines follow (append_field), then the framing lines and end_head().
void status_line(std::string& h, unsigned version, unsigned status, std::string_view reason) {
  h += version >= 11 ? "HTTP/1.1 "sv : "HTTP/1.0 "sv;
  char num[8];
  auto r = std::to_chars(num, num + sizeof num, status);
  h.append(num, size_t(r.ptr - num));
  h += ' ';
  if (reason.empty() || splits_line(reason, false))
    reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  h += reason;
  h += "\r\n"sv;
}

// The blank line that ends a head (after its framing lines).
void end_head(std::string& h) { h += "\r\n"sv; }

// The Connection line a response needs, if any (HTTP/1.1 keeps the
// connection unless told, HTTP/1.0 closes it unless told).
std::string_view connection_line(unsigned version, bool keep) {
  if (version >= 11) return keep ? ""sv : "Connection: close\r\n"sv;
  return keep ? "Connection: keep-alive\r\n"sv : ""sv;
}

constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";

// The upstream's address and the socket error stay in the log (L7): the
// client gets the request id to quote.
Response default_upstream_error(const Error&) {
  return Response::error(Error::make(codes::kUpstream, "upstream unavailable"));
}

}  // namespace

// A dotted-quad IPv4 address, strictly (four decimal octets, no leading
// zeros), parsed by hand: the usual upstream, asked for every request.
// Anything else (IPv6, or not an address) goes to Asio's parser.
asio::ip::address parse_address(std::string_view s, boost::system::error_code& ec) {
  asio::ip::address_v4::bytes_type b{};
  size_t i = 0, part = 0;
  for (; part < 4; ++part) {
    if (part > 0) {
      if (i >= s.size() || s[i] != '.') break;
      ++i;
    }
    const size_t start = i;
    unsigned v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 3)
      v = v * 10 + unsigned(s[i++] - '0');
    if (i == start || v > 255 || (i - start > 1 && s[start] == '0')) break;
    b[part] = static_cast<unsigned char>(v);
  }
  if (part == 4 && i == s.size()) {
    ec = {};
    return asio::ip::address_v4(b);
  }
  return asio::ip::make_address(std::string(s), ec);
}

namespace {

struct BodySent {
  enum Kind { kDone, kTooLarge, kClientGone, kUpstreamFailed } kind = kDone;
  boost::system::error_code error;  // kUpstreamFailed: the write's
};

// The request body, from the client to the upstream (after the head went),
// in a coroutine of its own: its parser and writes are not part of
// run_proxy's frame, which every request pays for.
awaitable<BodySent> send_body(ProxyIo& io, const ProxyTarget& t, tcp::socket& up,
                              Deadlines::Watch& uw, BodyChunk& chunk, bool chunked_up) {
  if (auto expect = io.req.headers.get("Expect");
      expect && strings::iequals(*expect, "100-continue")) {
    bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, io.version};
    io.client.expires_after(io.write_timeout);
    co_await bhttp::async_write(io.client, cont, kTuple);
  }
  bhttp::request_parser<bhttp::buffer_body> bp{std::move(io.parser)};
  if (io.body_limit == SIZE_MAX)
    bp.body_limit(boost::none);
  else
    bp.body_limit(io.body_limit);
  io.buffer.reserve(io.buffer.size() + kChunk);
  while (!bp.is_done()) {
    bp.get().body().data = chunk.data();
    bp.get().body().size = kChunk;
    io.client.expires_after(std::chrono::duration_cast<std::chrono::seconds>(t.read_timeout));
    auto [rec, rn] = co_await bhttp::async_read_some(io.client, io.buffer, bp, kTuple);
    if (rec == bhttp::error::need_buffer) rec = {};
    size_t got = kChunk - bp.get().body().size;
    if (rec == bhttp::error::body_limit) co_return BodySent{BodySent::kTooLarge, {}};
    if (rec) co_return BodySent{BodySent::kClientGone, {}};
    if (got == 0) continue;
    boost::system::error_code wec;
    if (chunked_up) {
      const std::string size = hex(got) + "\r\n";
      std::array<asio::const_buffer, 3> bufs{asio::buffer(size), asio::buffer(chunk.data(), got),
                                             asio::buffer(kCrlf)};
      wec = co_await write_all(up, uw, bufs, t.read_timeout);
    } else {
      wec = co_await write_all(up, uw, asio::buffer(chunk.data(), got), t.read_timeout);
    }
    if (wec) co_return BodySent{BodySent::kUpstreamFailed, wec};
  }
  if (chunked_up) {
    auto fec = co_await write_all(up, uw, asio::buffer(kLastChunk), t.read_timeout);
    if (fec) co_return BodySent{BodySent::kUpstreamFailed, fec};
  }
  if (io.buffer.capacity() > 16 * 1024) io.buffer.shrink_to_fit();
  co_return BodySent{};
}

// The upstream request header, written out by hand (Beast's serializer
// costs more than the rest of a small request). A plain function, not part
// of run_proxy's coroutine: its loop variables then live on the stack, not
// in the coroutine's frame.
void build_upstream_head(const ProxyIo& io, const ProxyTarget& t, bool has_body, bool ask_continue,
                         std::string& uhead) {
  const auto& hdr = io.parser.get();
  uhead.reserve(512);
  uhead += io.req.method;
  uhead += ' ';
  uhead += t.target;
  uhead += " HTTP/1.1\r\n"sv;
  ConnectionTokens drop;
  for (const auto& f : hdr)
    if (f.name() == bhttp::field::connection) drop.add_from(f.value());
  if (t.forward_client_header) {
    for (const auto& f : hdr) {
      const std::string_view k = f.name_string();
      if (hop_by_hop_or_length(f.name()) || strings::iequals(k, "x-request-id") ||
          (!drop.empty() && drop.has(k)) || !t.forward_client_header(k))
        continue;
      append_field(uhead, k, f.value());
    }
  }
  bool has_rid = false;
  for (const auto& [k, v] : t.headers.items()) {
    if (hop_by_hop(k) || drop.has(k) || strings::iequals(k, "content-length")) continue;
    if (strings::iequals(k, "x-request-id")) has_rid = true;
    append_field(uhead, k, v);
  }
  if (!has_rid) append_field(uhead, "X-Request-Id", io.req.request_id);
  if (t.set_forwarded) {
    append_field(uhead, "X-Forwarded-For", io.req.remote_addr);
    if (auto host = hdr.find(bhttp::field::host); host != hdr.end())
      append_field(uhead, "X-Forwarded-Host", host->value());
    append_field(uhead, "X-Forwarded-Proto", t.forwarded_proto);
    append_field(uhead, "X-Forwarded-Prefix", t.forwarded_prefix);
  }
  if (io.upgrade) {
    uhead += "Connection: Upgrade\r\n"sv;
    append_field(uhead, "Upgrade", hdr[bhttp::field::upgrade]);
  }
  if (io.parser.content_length()) {
    uhead += "Content-Length: "sv;
    uhead += std::to_string(*io.parser.content_length());
    uhead += "\r\n"sv;
  } else if (has_body) {
    uhead += "Transfer-Encoding: chunked\r\n"sv;
  }
  if (ask_continue) uhead += "Expect: 100-continue\r\n"sv;
  uhead += "\r\n"sv;
}

// The client's head: the status line and the upstream's header lines that
// go on, written straight out (no copy into a Headers first); the caller
// adds the framing lines, then end_head(). A plain function, for the same
// reason as build_upstream_head().
template <typename Res>
void build_client_head(const ProxyIo& io, const ProxyTarget& t, const Res& res,
                       std::string& chead) {
  const unsigned status = res.result_int();
  ConnectionTokens rdrop;
  for (const auto& f : res)
    if (f.name() == bhttp::field::connection) rdrop.add_from(f.value());
  chead.reserve(512);
  status_line(chead, io.version, status, res.reason());
  for (const auto& f : res) {
    std::string_view k = f.name_string();
    if (hop_by_hop_or_length(f.name()) || (!rdrop.empty() && rdrop.has(k))) continue;
    if (t.keep_response_header && !t.keep_response_header(k, f.value())) continue;
    append_field(chead, k, f.value());
  }
}

// "host:port", for messages.
std::string upstream_key(const ProxyTarget& t) { return t.host + ":" + std::to_string(t.port); }

// The upstream's address and port; false when its host is no address.
bool upstream_endpoint(const ProxyTarget& t, tcp::endpoint& ep) {
  boost::system::error_code ec;
  auto addr = parse_address(t.host, ec);
  if (ec) return false;
  ep = tcp::endpoint(addr, t.port);
  return true;
}

// What run_proxy answers when the upstream failed before anything went to
// the client: the target's page for it, else a 502. The client's
// connection survives only if its request had no body (a body may be
// unread or half sent). Plain functions: the message's temporaries stay
// out of run_proxy's coroutine frame.
ProxyOutcome failed_with(ProxyOutcome& out, const ProxyIo& io, const ProxyTarget& t, bool has_body,
                         std::string why) {
  log::warn("proxy", "upstream failed", {{"request_id", io.req.request_id}, {"error", why}});
  Error e = Error::make(codes::kUpstream, std::move(why));
  out.answer = std::make_unique<Response>(t.on_upstream_error ? t.on_upstream_error(e)
                                                              : default_upstream_error(e));
  out.keep_alive = io.keep_alive && !has_body && !io.upgrade;
  return std::move(out);
}

// The same with the message "<what> host:port[: error]".
ProxyOutcome failed(ProxyOutcome& out, const ProxyIo& io, const ProxyTarget& t, bool has_body,
                    std::string_view what, const boost::system::error_code& ec = {}) {
  std::string why(what);
  why += ' ';
  why += upstream_key(t);
  if (ec) {
    why += ": ";
    why += ec.message();
  }
  return failed_with(out, io, t, has_body, std::move(why));
}

// A new connection on `up` (a stale one is closed first), under the
// deadline `uw`.
awaitable<boost::system::error_code> connect_upstream(tcp::socket& up, Deadlines::Watch& uw,
                                                      const tcp::endpoint& ep,
                                                      std::chrono::milliseconds timeout) {
  boost::system::error_code cec;
  up.close(cec);  // async_connect opens it again
  uw.arm(timeout);
  auto [ec] = co_await up.async_connect(ep, kTuple);
  uw.settle(ec);
  if (!ec) {
    boost::system::error_code nec;
    up.set_option(tcp::no_delay(true), nec);  // header and body go out as separate writes
  }
  co_return ec;
}

// The framing lines of a streamed response's head, and its end.
void end_streamed_head(std::string& chead, const boost::optional<uint64_t>& length,
                       bool chunked_down, unsigned version, bool client_keep) {
  if (length) {
    char num[24];
    auto r = std::to_chars(num, num + sizeof num, *length);
    chead += "Content-Length: "sv;
    chead.append(num, size_t(r.ptr - num));
    chead += "\r\n"sv;
  } else if (chunked_down) {
    chead += "Transfer-Encoding: chunked\r\n"sv;
  }
  chead += connection_line(version, client_keep);
  end_head(chead);
}

// The rest of a 101 for an upgrade (its status line and the upstream's
// header lines are in `chead`): sent to the client, then the bytes each side
// sent early go to the other. True when the tunnel can start.
awaitable<bool> finish_upgrade(ProxyIo& io, tcp::socket& up, beast::flat_buffer& ubuf,
                               std::string& chead, std::string_view upgrade) {
  chead += "Connection: Upgrade\r\n"sv;
  append_field(chead, "Upgrade", upgrade);
  end_head(chead);
  auto wec = co_await write_all(io.client.socket(), io.client_watch, asio::buffer(chead),
                                io.write_timeout);
  if (wec) co_return false;
  io.client.expires_never();
  // Bytes that arrived with the headers belong to the other side.
  if (io.buffer.size()) {
    auto [e1, n1] = co_await asio::async_write(up, io.buffer.data(), kTuple);
    if (e1) co_return false;
    io.buffer.consume(io.buffer.size());
  }
  if (ubuf.size()) {
    auto [e2, n2] = co_await asio::async_write(io.client.socket(), ubuf.data(), kTuple);
    if (e2) co_return false;
    ubuf.consume(ubuf.size());
  }
  // The tunnel runs after the request's frames are gone (run_tunnel), so an
  // idle WebSocket keeps none of the request's state.
  io.buffer.shrink_to_fit();
  ubuf.shrink_to_fit();
  co_return true;
}

// Body bytes that came with the header (a small page: all of it) go
// through the parser (into its buffer body); only a body still to come is
// waited for. `rec` is set on a parse error.
void parse_buffered(ResponseParser& rp, beast::flat_buffer& ubuf, boost::system::error_code& rec) {
  auto& res = rp.get();
  while (ubuf.size() > 0 && !rp.is_done() && res.body().size > 0) {
    size_t used = rp.put(ubuf.data(), rec);
    ubuf.consume(used);
    if (rec == bhttp::error::need_more || rec == bhttp::error::need_buffer) {
      rec = {};
      break;
    }
    if (rec || used == 0) break;
  }
}

// One piece of a streamed body as buffers for one write: the client's head
// first when `head` is not empty, then the data, framed as a chunk when
// `chunked` (with the last chunk when `last`). `size_line` holds the chunk
// size line the buffers point to.
std::span<const asio::const_buffer> frame_piece(std::array<asio::const_buffer, 5>& bufs,
                                                std::string_view head, const char* data,
                                                size_t size, bool chunked, bool last,
                                                std::string& size_line) {
  size_t nb = 0;
  if (!head.empty()) bufs[nb++] = asio::buffer(head);
  if (chunked) {
    size_line = hex(size) + "\r\n";
    bufs[nb++] = asio::buffer(size_line);
  }
  bufs[nb++] = asio::buffer(data, size);
  if (chunked) bufs[nb++] = asio::buffer(kCrlf);
  if (chunked && last) bufs[nb++] = asio::buffer(kLastChunk);
  return {bufs.data(), nb};
}

enum class BodyStreamed {
  kDone,             // the whole response went to the client
  kDoneWriteFailed,  // the upstream's response was whole; its last write to the client failed
  kCut,              // the upstream or the client failed after the head went
  kCutBeforeHead,    // the upstream failed before anything went to the client
};

// A plain response's body, from the upstream to the client, in a coroutine
// of its own (its buffers and writes stay out of run_proxy's frame). The
// client's head, whole in sc.chead, leaves with the first piece.
awaitable<BodyStreamed> stream_body(ProxyIo& io, const ProxyTarget& t, ProxyScratch& sc,
                                    tcp::socket& up, Deadlines::Watch& uw, BodyChunk& chunk,
                                    bool chunked_down, uint64_t& bytes) {
  auto& rp = *sc.rp;
  auto& res = rp.get();
  auto& ubuf = sc.ubuf;
  // The header leaves with the first piece of the body in one write (a small
  // page is usually whole in the buffer already): one syscall and one packet.
  // The last piece carries the end of the body (chunked: the last chunk).
  bool header_sent = false;
  bool body_ended = false;
  while (!rp.is_done()) {
    res.body().data = chunk.data();
    res.body().size = kChunk;
    boost::system::error_code rec;
    parse_buffered(rp, ubuf, rec);
    size_t got = kChunk - res.body().size;
    if (got == 0 && !rec && !rp.is_done()) {
      // Nothing buffered: read more (the socket's own read, speculative
      // when the last one filled the buffer) and parse it on the next turn.
      uw.arm(t.read_timeout);
      auto [e, n] = co_await up.async_read_some(ubuf.prepare(kChunk), kTuple);
      uw.settle(e);
      ubuf.commit(n);
      if (e == asio::error::eof) {
        rp.put_eof(rec);  // the end of a body framed by the close, else a cut one
        if (!rec && !rp.is_done()) rec = bhttp::error::partial_message;
      } else if (e) {
        rec = e;
      } else {
        continue;
      }
      got = kChunk - res.body().size;
    }
    if (got) {
      const bool last = rp.is_done();
      std::string size_line;
      std::array<asio::const_buffer, 5> bufs;
      const std::span<const asio::const_buffer> head_and_body =
          frame_piece(bufs, header_sent ? std::string_view() : std::string_view(sc.chead),
                      chunk.data(), got, chunked_down, last, size_line);
      size_t sent = 0;
      auto wec = write_now(io.client.socket(), head_and_body, sent);
      if (!wec)
        wec = co_await write_rest(io.client.socket(), io.client_watch, head_and_body, sent,
                                  t.read_timeout);
      if (*wec) co_return BodyStreamed::kCut;
      header_sent = true;
      body_ended = last;
      bytes += got;
    }
    if (rec) {
      log::warn("proxy", "upstream body cut",
                {{"upstream", upstream_key(t)},
                 {"error", rec.message()},
                 {"request_id", io.req.request_id}});
      co_return header_sent ? BodyStreamed::kCut : BodyStreamed::kCutBeforeHead;
    }
  }
  if (header_sent && !(chunked_down && !body_ended)) co_return BodyStreamed::kDone;
  // An empty body, or a chunked one whose end came without data.
  std::array<asio::const_buffer, 2> bufs;
  size_t nb = 0;
  if (!header_sent) bufs[nb++] = asio::buffer(sc.chead);
  if (chunked_down) bufs[nb++] = asio::buffer(kLastChunk);
  auto fec =
      co_await write_all(io.client.socket(), io.client_watch,
                         std::span<const asio::const_buffer>(bufs.data(), nb), io.write_timeout);
  co_return fec ? BodyStreamed::kDoneWriteFailed : BodyStreamed::kDone;
}

// A fresh parser for the upstream's response head (a HEAD's answer has
// no body whatever its Content-Length says).
void start_response_parser(ProxyScratch& sc, bool head) {
  sc.rp.emplace();
  sc.rp->header_limit(64 * 1024);
  sc.rp->body_limit(boost::none);
  if (head) sc.rp->skip(true);
}

// The upstream's answer to "Expect: 100-continue" (ProxyTarget::
// expect_continue): its 100 (the body may go), a final answer (the body is
// refused; it is in sc.rp), or nothing in time (the body goes anyway).
enum class ContinueAnswer { kGo, kRefused, kFailed };
awaitable<ContinueAnswer> await_continue(tcp::socket& up, Deadlines::Watch& uw, ProxyScratch& sc,
                                         const ProxyTarget& t, bool head,
                                         boost::system::error_code& err) {
  start_response_parser(sc, head);
  auto ec = co_await read_head(up, uw, sc.ubuf, *sc.rp, t.continue_timeout);
  if (ec == beast::error::timeout && sc.ubuf.size() == 0 && !sc.rp->got_some())
    co_return ContinueAnswer::kGo;
  if (ec) {
    err = ec;
    co_return ContinueAnswer::kFailed;
  }
  const unsigned st = sc.rp->get().result_int();
  co_return st >= 100 && st < 200 && st != 101 ? ContinueAnswer::kGo : ContinueAnswer::kRefused;
}

// One request's exchange with its upstream, as the steps of run_proxy
// share it. Lives in run_proxy's frame; the steps are coroutines of their
// own so that their locals stay out of that frame.
struct Exchange {
  ProxyIo& io;
  ProxyTarget& t;
  ProxyScratch& sc;
  tcp::socket& up;
  Deadlines::Watch& uw;
  const tcp::endpoint& ep;
  const bool has_body;
  const bool head;                     // a HEAD request: the answer has no body
  bool reused;                         // `up` came from the pool
  bool client_body_done;               // the client's body was read whole
  bool have_head = false;              // the upstream answered an Expect with its final response
  boost::system::error_code body_cut;  // the upstream stopped taking the body
};

// Whether the client's "Expect: 100-continue" goes to the upstream (the
// target asks for it, ProxyTarget::expect_continue).
bool asks_continue(const ProxyIo& io, const ProxyTarget& t, bool has_body) {
  if (!has_body || !t.expect_continue) return false;
  auto e = io.req.headers.get("Expect");
  return e && strings::iequals(*e, "100-continue");
}

// The request head to the upstream, on a new connection if there is none.
// A pooled connection that fails is replaced once: nothing of the body was
// sent yet. False when it failed (`out` says how).
awaitable<bool> send_request_head(Exchange& x, ProxyOutcome& out) {
  if (!x.up.is_open()) {
    if (auto ec = co_await connect_upstream(x.up, x.uw, x.ep, x.t.connect_timeout); ec) {
      out = failed(out, x.io, x.t, x.has_body, "connect", ec);
      co_return false;
    }
  }
  for (int attempt = 0;; ++attempt) {
    size_t sent = 0;
    auto ec = write_now(x.up, asio::buffer(x.sc.uhead), sent);
    if (!ec)
      ec = co_await write_rest(x.up, x.uw, asio::buffer(x.sc.uhead), sent, x.io.write_timeout);
    if (!*ec) co_return true;
    if (!x.reused || attempt > 0) {
      out = failed(out, x.io, x.t, x.has_body, "send to", *ec);
      co_return false;
    }
    x.reused = false;
    if (auto cec = co_await connect_upstream(x.up, x.uw, x.ep, x.t.connect_timeout); cec) {
      out = failed(out, x.io, x.t, x.has_body, "connect", cec);
      co_return false;
    }
  }
}

// The client's body to the upstream, after its 100 when the client asked
// for one (a refusal leaves its final answer in sc.rp: have_head). False
// when the exchange ends here (`out` says how).
awaitable<bool> send_request_body(Exchange& x, BodyChunk& chunk, bool ask_continue,
                                  ProxyOutcome& out) {
  if (ask_continue) {
    boost::system::error_code cerr;
    auto a = co_await await_continue(x.up, x.uw, x.sc, x.t, x.head, cerr);
    if (a == ContinueAnswer::kFailed) {
      out = failed(out, x.io, x.t, x.has_body, "no answer to Expect from", cerr);
      co_return false;
    }
    if (a == ContinueAnswer::kRefused) {
      x.have_head = true;
      co_return true;
    }
  }
  const bool chunked_up = !x.io.parser.content_length();
  auto sent = co_await send_body(x.io, x.t, x.up, x.uw, chunk, chunked_up);
  switch (sent.kind) {
    case BodySent::kTooLarge:
      out.answer = std::make_unique<Response>(
          Response::error(Error::make(codes::kTooLarge, "request body over the limit")));
      co_return false;  // the upstream connection is dropped with `up`
    case BodySent::kClientGone:
      out.status = 400;  // the client went away mid-body
      co_return false;
    case BodySent::kUpstreamFailed:
      if (!x.t.expect_continue) {
        out = failed(out, x.io, x.t, x.has_body, "send body to", sent.error);
        co_return false;
      }
      x.body_cut = sent.error;  // it may have answered (refused the body) before it stopped reading
      co_return true;
    case BodySent::kDone:
      x.client_body_done = true;
      co_return true;
  }
  co_return true;
}

// The upstream's response head into sc.rp (1xx other than 101 are
// skipped). A pooled connection the upstream closed meanwhile (nothing
// came, or the 408 some servers leave before closing an idle connection):
// a request without a body is sent again, once, on a new connection. False
// when it failed (`out` says how).
awaitable<bool> read_response_head(Exchange& x, ProxyOutcome& out) {
  auto& rp = x.sc.rp;
  auto& ubuf = x.sc.ubuf;
  for (int attempt = 0;;) {
    start_response_parser(x.sc, x.head);
    auto ec = co_await read_head(
        x.up, x.uw, ubuf, *rp,
        x.body_cut ? std::min(x.t.response_timeout, x.t.continue_timeout) : x.t.response_timeout);
    if (ec && x.body_cut) {
      out = failed(out, x.io, x.t, x.has_body, "send body to", x.body_cut);
      co_return false;
    }
    const bool replayable = x.reused && attempt == 0 && !x.has_body;
    const bool timed_out_idle = !ec && replayable && rp->get().result_int() == 408;
    if (ec || timed_out_idle) {
      bool stale =
          timed_out_idle || (replayable && ubuf.size() == 0 &&
                             (ec == bhttp::error::end_of_stream ||
                              ec == asio::error::connection_reset || ec == asio::error::eof));
      if (!stale) {
        out = failed(out, x.io, x.t, x.has_body, "no response from", ec);
        co_return false;
      }
      ++attempt;
      ubuf.consume(ubuf.size());
      x.reused = false;
      if (auto cec = co_await connect_upstream(x.up, x.uw, x.ep, x.t.connect_timeout); cec) {
        out = failed(out, x.io, x.t, x.has_body, "connect", cec);
        co_return false;
      }
      auto wec = co_await write_all(x.up, x.uw, asio::buffer(x.sc.uhead), x.io.write_timeout);
      if (wec) {
        out = failed(out, x.io, x.t, x.has_body, "send to", wec);
        co_return false;
      }
      continue;
    }
    unsigned st = rp->get().result_int();
    if (st >= 100 && st < 200 && st != 101) continue;
    co_return true;
  }
}

// A plain response (its head is in sc.chead so far) to the client: the
// head alone when it has no body, else streamed with its body. The
// upstream connection goes back to the pool when it is clean.
awaitable<void> send_response(Exchange& x, UpstreamPool& pool, std::unique_ptr<tcp::socket>& held,
                              BodyChunk& chunk, ProxyOutcome& out) {
  auto& rp = *x.sc.rp;
  auto& res = rp.get();
  auto& chead = x.sc.chead;
  const unsigned status = res.result_int();
  const bool no_body = x.head || status == 204 || status == 304;
  bool client_keep = x.io.keep_alive && x.client_body_done && !x.io.upgrade;
  out.status = int(status);
  if (no_body) {
    if (auto cl = res.find(bhttp::field::content_length); cl != res.end() && x.head)
      append_field(chead, "Content-Length", cl->value());
    chead += connection_line(x.io.version, client_keep);
    end_head(chead);
    auto wec = co_await write_all(x.io.client.socket(), x.io.client_watch, asio::buffer(chead),
                                  x.io.write_timeout);
    if (rp.keep_alive() && x.sc.ubuf.size() == 0 && x.client_body_done)
      pool.give(x.ep, std::move(held));
    out.keep_alive = client_keep && !wec;
    co_return;
  }
  const bool chunked_down = !rp.content_length() && x.io.version >= 11;
  if (!rp.content_length() && !chunked_down) client_keep = false;  // HTTP/1.0: the end is the close
  end_streamed_head(chead, rp.content_length(), chunked_down, x.io.version, client_keep);
  const auto streamed =
      co_await stream_body(x.io, x.t, x.sc, x.up, x.uw, chunk, chunked_down, out.bytes);
  if (streamed == BodyStreamed::kCutBeforeHead) {
    out = failed(out, x.io, x.t, x.has_body, "upstream body cut before any byte from");
    co_return;
  }
  if (streamed == BodyStreamed::kCut) co_return;  // the client sees a cut body and the close
  if (rp.keep_alive() && x.sc.ubuf.size() == 0 && x.client_body_done)
    pool.give(x.ep, std::move(held));
  out.keep_alive = client_keep && streamed == BodyStreamed::kDone;
}

}  // namespace

awaitable<ProxyOutcome> run_proxy(ProxyIo& io, ProxyTarget& t, UpstreamPool& pool) {
  ProxyOutcome out;
  const bool has_body = !io.parser.is_done();
  tcp::endpoint ep;
  if (!upstream_endpoint(t, ep))
    co_return failed_with(out, io, t, has_body, "bad upstream address " + t.host);

  ScratchLease scratch;
  ProxyScratch& sc = *scratch;
  const bool ask_continue = asks_continue(io, t, has_body);
  build_upstream_head(io, t, has_body, ask_continue, sc.uhead);

  // A connection: an idle pooled one (not for upgrades: a tunnel never goes
  // back), else a new one. A plain socket with a deadline watch: no timer
  // per operation. Held by pointer, so it goes back to the pool without a
  // move. A request without a body is sent again on a new connection if
  // the pooled one turns out closed (read_response_head), so it skips the
  // peek.
  std::unique_ptr<tcp::socket> held;
  if (!io.upgrade) held = pool.take(ep, /*check_peer=*/has_body);
  const bool reused = held != nullptr;
  if (!held) held = std::make_unique<tcp::socket>(io.client.get_executor());
  Deadlines::Watch uw(io.deadlines, *held);
  Exchange x{.io = io,
             .t = t,
             .sc = sc,
             .up = *held,
             .uw = uw,
             .ep = ep,
             .has_body = has_body,
             .head = io.parser.get().method() == bhttp::verb::head,
             .reused = reused,
             .client_body_done = !has_body,
             .have_head = false,
             .body_cut = {}};
  if (!co_await send_request_head(x, out)) co_return std::move(out);

  // Only for bodies: an upgrade (a future idle tunnel) never allocates it.
  BodyChunk chunk;
  if (has_body && !co_await send_request_body(x, chunk, ask_continue, out))
    co_return std::move(out);
  if (!x.have_head && !co_await read_response_head(x, out)) co_return std::move(out);

  auto& res = sc.rp->get();
  const unsigned status = res.result_int();
  if (t.replace_response && !io.upgrade) {
    if (auto r = t.replace_response(status)) {
      out.answer = std::make_unique<Response>(std::move(*r));
      out.keep_alive = io.keep_alive && x.client_body_done;
      co_return std::move(out);  // the upstream connection is dropped with `held`
    }
  }
  build_client_head(io, t, res, sc.chead);
  if (io.upgrade && status == 101) {
    out.status = 101;
    out.upgraded = true;
    if (co_await finish_upgrade(io, *held, sc.ubuf, sc.chead, res[bhttp::field::upgrade])) {
      hand_off_tunnel(io, std::move(*held), t);
      out.handed_off = true;
    }
    co_return std::move(out);
  }
  if (status == 101) co_return failed(out, io, t, has_body, "unexpected 101 from");
  co_await send_response(x, pool, held, chunk, out);
  co_return std::move(out);
}

}  // namespace zlh::http::detail
