// The upload body parser (agent/files/multipart.hpp): the Content-Type's
// boundary, then the body fed the way the server hands it over, in pieces
// of any size.
//
// Input: the Content-Type value, a newline, then the body; the body's last
// bytes also pick the piece sizes, small limits (max parts, header bytes)
// and a callback that fails.
//
// Invariants (the header's contract): what the callbacks see (parts, their
// headers, the concatenated data, the ends) and the result do not depend
// on where the body is cut: whole, in the chosen pieces and byte by byte
// give the same; callbacks come in order (begin, data*, end) with no empty
// data; a callback's error comes back unchanged, and after any error every
// feed()/finish() returns it again without another callback.
#include <vector>

#include "agent/files/multipart.hpp"
#include "fuzz_input.hpp"

namespace files = zlh::agent::files;

namespace {

struct Run {
  std::vector<std::string> events;  // "B name|filename|type", "D data", "E"
  bool in_part = false;
  std::string result;  // "" ok, else "code: message"
};

struct Setup {
  std::string boundary;
  size_t max_header = 16 * 1024;
  size_t max_parts = 1000;
  unsigned fail_at = 0;  // the n-th begin/end callback fails (0: none)
};

Run parse(const Setup& s, std::string_view body, const std::vector<size_t>& cuts) {
  Run run;
  unsigned calls = 0;
  bool stopped = false;  // an error was returned: no callback may run again
  auto injected = [&]() -> zlh::Result<void> {
    if (s.fail_at && ++calls == s.fail_at) return zlh::fail(zlh::codes::kConflict, "injected");
    return {};
  };
  files::MultipartParser::Callbacks cb{
      [&](const files::PartHeaders& h) -> zlh::Result<void> {
        ZLH_FUZZ_CHECK(!stopped && !run.in_part, "begin out of order");
        run.events.push_back("B " + h.name + "|" + (h.filename ? "f:" + *h.filename : "-") + "|" +
                             h.content_type);
        run.in_part = true;
        return injected();
      },
      [&](std::string_view d) -> zlh::Result<void> {
        ZLH_FUZZ_CHECK(!stopped && run.in_part && !d.empty(), "data out of order");
        if (run.events.back()[0] == 'D')
          run.events.back().append(d);
        else
          run.events.push_back("D " + std::string(d));
        return {};
      },
      [&]() -> zlh::Result<void> {
        ZLH_FUZZ_CHECK(!stopped && run.in_part, "end out of order");
        run.events.push_back("E");
        run.in_part = false;
        return injected();
      }};
  files::MultipartParser p(s.boundary, std::move(cb), s.max_header, s.max_parts);
  size_t pos = 0, k = 0;
  zlh::Result<void> r;
  while (r && pos < body.size()) {
    size_t n = cuts.empty() ? body.size() : std::max<size_t>(1, cuts[k++ % cuts.size()]);
    n = std::min(n, body.size() - pos);
    r = p.feed(body.substr(pos, n));
    pos += n;
  }
  if (r) r = p.finish();
  if (!r) {
    stopped = true;
    run.result = r.error().to_string();
    if (r.error().message == "injected") ZLH_FUZZ_CHECK(r.error().is(zlh::codes::kConflict));
    auto again = p.feed("--");
    ZLH_FUZZ_CHECK(!again && again.error().message == r.error().message,
                   "parser did not stay stopped");
    auto fin = p.finish();
    ZLH_FUZZ_CHECK(!fin && fin.error().message == r.error().message, "finish after an error");
  } else {
    ZLH_FUZZ_CHECK(p.done() && !run.in_part);
    ZLH_FUZZ_CHECK(p.finish(), "finish not repeatable");
  }
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zlh::fuzz::Input in(data, size);
  std::string_view content_type = in.until("\n");
  Setup s;
  const uint8_t opts = in.back_byte();
  if (opts & 1) s.max_parts = 2;
  if (opts & 2) s.max_header = 64;
  s.fail_at = (opts >> 2) & 7;
  std::vector<size_t> cuts;
  for (int i = 0, n = in.back_byte() % 8; i < n; ++i) cuts.push_back(in.back_byte());
  std::string_view body = in.rest();

  auto b = files::boundary_from_content_type(content_type);
  if (b) {
    ZLH_FUZZ_CHECK(!b->empty() && b->size() <= 70, *b);
    s.boundary = *b;
  } else {
    ZLH_FUZZ_CHECK(b.error().is(zlh::codes::kInvalid));
    s.boundary = "zlhBoundary";
  }

  Run whole = parse(s, body, {});
  Run chunked = parse(s, body, cuts);
  Run bytes = parse(s, body, {1});
  ZLH_FUZZ_CHECK(whole.result == chunked.result && whole.events == chunked.events,
                 "chunked: " + chunked.result + " vs whole: " + whole.result);
  ZLH_FUZZ_CHECK(whole.result == bytes.result && whole.events == bytes.events,
                 "bytes: " + bytes.result + " vs whole: " + whole.result);
  return 0;
}
