// Beast client templates for streamed requests live in this translation unit.
#include "stream_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "http/beast_names.hpp"
#include "http/client.hpp"

namespace zlh::http {

using ErrorCode = boost::system::error_code;

namespace {
Error from_ec(std::string_view what, const ErrorCode& ec) {
  if (ec == beast::error::timeout)
    return Error::make(codes::kTimeout, std::string(what) + ": timed out");
  return Error::make(codes::kUpstream, std::string(what) + ": " + ec.message());
}
}  // namespace

struct StreamingRequest::Impl {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buf;
  bhttp::request<bhttp::buffer_body> req;
  std::optional<bhttp::request_serializer<bhttp::buffer_body>> sr;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser;
  Options o;
  bool has_body = false;
  bool head_method = false;
  uint64_t written = 0;
  bool body_finished = false;
  bool head_read = false;  // parser holds the final response's head
  std::optional<ResponseHead> head;
  bool broken = false;        // nothing works any more (closed)
  bool write_failed = false;  // the body cannot go on; an answer may still be read

  // Runs one asynchronous operation to completion on this thread, bounded by
  // the stream's timeout (which closes the socket when it fires).
  template <typename Start>
  ErrorCode run(std::chrono::milliseconds timeout, Start start) {
    ErrorCode result = asio::error::operation_aborted;
    stream.expires_after(timeout);
    start([&result](ErrorCode ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    stream.expires_never();
    return result;
  }

  Error broke(std::string_view what, const ErrorCode& ec) {
    broken = true;
    ErrorCode ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
    return from_ec(what, ec);
  }

  // A failed write (the server stopped reading: it refused the body and
  // closed) leaves what it answered readable; a timeout closed the socket.
  Error write_broke(std::string_view what, const ErrorCode& ec) {
    write_failed = true;
    if (ec == beast::error::timeout) broken = true;
    return from_ec(what, ec);
  }

  // Reads response heads until a final (non-1xx) one sits in `parser`.
  Result<void> read_final_head(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      parser.emplace();
      parser->body_limit(boost::none);
      if (head_method) parser->skip(true);
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return fail(broke("read response", beast::error::timeout));
      auto ec =
          run(left, [&](auto h) { bhttp::async_read_header(stream, buf, *parser, std::move(h)); });
      if (ec) return fail(broke("read response", ec));
      if (parser->get().result_int() / 100 != 1) break;
    }
    head_read = true;
    return {};
  }
};

StreamingRequest::StreamingRequest() : impl_(std::make_unique<Impl>()) {}

StreamingRequest::~StreamingRequest() {
  ErrorCode ec;
  impl_->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  impl_->stream.socket().close(ec);
}

Result<std::unique_ptr<StreamingRequest>> StreamingRequest::open(std::string_view method,
                                                                 std::string_view url,
                                                                 const Headers& headers,
                                                                 const Options& o) {
  auto u = parse_url(url);
  if (!u) return fail(u.error());
  if (u->scheme != "http") return fail(codes::kInvalid, "url: only http://");
  if (o.content_length && o.chunked)
    return fail(codes::kInvalid, "a body has a length or is chunked, not both");
  std::unique_ptr<StreamingRequest> r(new StreamingRequest());
  Impl& m = *r->impl_;
  m.o = o;
  m.has_body = o.chunked || (o.content_length && *o.content_length > 0);
  m.head_method = method == "HEAD";
  m.buf.reserve(64 * 1024);  // Beast reads at most the buffer's free space

  ErrorCode ec;
  tcp::endpoint ep;
  if (auto addr = asio::ip::make_address(u->host, ec); !ec) {
    ep = tcp::endpoint(addr, u->port);
  } else {
    tcp::resolver resolver(m.ioc);
    auto results = resolver.resolve(u->host, std::to_string(u->port), ec);
    if (ec || results.empty())
      return fail(codes::kUpstream, "resolve " + u->host + ": " + ec.message());
    ep = *results.begin();
  }
  ec = m.run(o.connect_timeout, [&](auto h) { m.stream.async_connect(ep, std::move(h)); });
  if (ec) return fail(m.broke("connect", ec));

  auto& req = m.req;
  req.method_string(std::string(method));
  req.target(u->target);
  req.version(11);
  for (const auto& [k, v] : headers.items()) req.insert(k, v);
  std::string host = u->host.find(':') != std::string::npos ? "[" + u->host + "]" : u->host;
  if (!headers.get("Host")) req.set(bhttp::field::host, host + ":" + std::to_string(u->port));
  req.keep_alive(false);
  req.erase(bhttp::field::content_length);
  req.erase(bhttp::field::transfer_encoding);
  req.erase(bhttp::field::expect);
  if (o.chunked)
    req.chunked(true);
  else if (o.content_length)
    req.content_length(*o.content_length);
  bool expect = o.expect_continue && m.has_body;
  if (expect) req.set(bhttp::field::expect, "100-continue");
  req.body().data = nullptr;
  req.body().size = 0;
  req.body().more = m.has_body;
  m.sr.emplace(req);
  if (!m.has_body) {
    // No body: the whole request in one go.
    ec = m.run(o.io_timeout, [&](auto h) { bhttp::async_write(m.stream, *m.sr, std::move(h)); });
    if (ec) return fail(m.broke("write request", ec));
    m.body_finished = true;
    return r;
  }
  ec = m.run(o.io_timeout,
             [&](auto h) { bhttp::async_write_header(m.stream, *m.sr, std::move(h)); });
  if (ec) return fail(m.broke("write request", ec));
  if (expect) {
    // Either 100 Continue (go on) or a final answer (the body is refused).
    auto& pp = m.parser.emplace();
    pp.body_limit(boost::none);
    ec = m.run(o.io_timeout,
               [&](auto h) { bhttp::async_read_header(m.stream, m.buf, pp, std::move(h)); });
    if (ec) return fail(m.broke("wait for 100 continue", ec));
    if (pp.get().result_int() / 100 == 1 && pp.get().result_int() != 100) {
      // Some other interim answer (102...): the final one decides.
      if (auto f = m.read_final_head(o.io_timeout); !f) return fail(f.error());
    } else if (pp.get().result_int() != 100) {
      m.head_read = true;
    } else {
      m.parser.reset();
    }
  }
  return r;
}

bool StreamingRequest::answered() {
  Impl& m = *impl_;
  if (m.head_read || m.buf.size() > 0) return true;
  if (m.broken) return false;
  ErrorCode ec;
  return m.stream.socket().available(ec) > 0 && !ec;
}

Result<void> StreamingRequest::write(std::string_view data) {
  Impl& m = *impl_;
  if (data.empty()) return {};
  if (m.broken || m.write_failed)
    return fail(codes::kUpstream, "write body: the connection is closed");
  if (!m.has_body || m.body_finished) return fail(codes::kInvalid, "write body: no body expected");
  if (m.o.content_length && m.written + data.size() > *m.o.content_length)
    return fail(codes::kInvalid, "write body: more than content_length bytes");
  m.req.body().data = const_cast<char*>(data.data());
  m.req.body().size = data.size();
  m.req.body().more = true;
  auto ec =
      m.run(m.o.io_timeout, [&](auto h) { bhttp::async_write(m.stream, *m.sr, std::move(h)); });
  if (ec == bhttp::error::need_buffer) ec = {};
  if (ec) return fail(m.write_broke("write body", ec));
  m.written += data.size();
  return {};
}

Result<void> StreamingRequest::finish() {
  Impl& m = *impl_;
  if (m.body_finished) return {};
  if (m.broken || m.write_failed)
    return fail(codes::kUpstream, "finish body: the connection is closed");
  if (m.o.content_length && m.written != *m.o.content_length)
    return fail(codes::kInvalid, "finish body: " + std::to_string(m.written) + " of " +
                                     std::to_string(*m.o.content_length) + " bytes written");
  m.req.body().data = nullptr;
  m.req.body().size = 0;
  m.req.body().more = false;
  auto ec =
      m.run(m.o.io_timeout, [&](auto h) { bhttp::async_write(m.stream, *m.sr, std::move(h)); });
  if (ec) return fail(m.write_broke("finish body", ec));
  m.body_finished = true;
  return {};
}

Result<ResponseHead> StreamingRequest::read_head(std::chrono::milliseconds timeout) {
  Impl& m = *impl_;
  if (m.head) return *m.head;
  if (!m.head_read) {
    if (m.broken) return fail(codes::kUpstream, "read response: the connection is closed");
    if (auto f = m.read_final_head(timeout); !f) return fail(f.error());
  }
  ResponseHead h;
  const auto& res = m.parser->get();
  h.status = int(res.result_int());
  for (const auto& f : res) h.headers.add(std::string(f.name_string()), std::string(f.value()));
  if (auto len = m.parser->content_length()) h.content_length = *len;
  m.head = h;
  return h;
}

Result<size_t> StreamingRequest::read(char* buf, size_t cap) {
  Impl& m = *impl_;
  if (!m.head) return fail(codes::kInvalid, "read body: read_head first");
  if (m.parser->is_done() || cap == 0) return size_t(0);
  if (m.broken) return fail(codes::kUpstream, "read body: the connection is closed");
  for (;;) {
    m.parser->get().body().data = buf;
    m.parser->get().body().size = cap;
    auto ec = m.run(m.o.io_timeout, [&](auto h) {
      bhttp::async_read_some(m.stream, m.buf, *m.parser, std::move(h));
    });
    if (ec == bhttp::error::need_buffer) ec = {};
    size_t got = cap - m.parser->get().body().size;
    if (got > 0) return got;
    if (m.parser->is_done()) return size_t(0);
    if (ec) return fail(m.broke("read body", ec));
  }
}

Result<std::string> StreamingRequest::read_all(size_t limit) {
  std::string out;
  char chunk[16 * 1024];
  for (;;) {
    auto n = read(chunk, sizeof chunk);
    if (!n) return fail(n.error());
    if (*n == 0) return out;
    if (out.size() + *n > limit)
      return fail(codes::kTooLarge, "response body over " + std::to_string(limit) + " bytes");
    out.append(chunk, *n);
  }
}

bool StreamingRequest::body_done() const { return impl_->head && impl_->parser->is_done(); }

}  // namespace zlh::http
