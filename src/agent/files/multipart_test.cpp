#include "agent/files/multipart.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace zlh::agent::files {
namespace {

struct Part {
  PartHeaders headers;
  std::string data;
  size_t data_calls = 0;
  bool ended = false;
};

// Records what the parser reports, checking the callback order as it goes.
struct Recorder {
  std::vector<Part> parts;
  bool order_ok = true;

  MultipartParser::Callbacks callbacks() {
    return {
        [this](const PartHeaders& h) -> Result<void> {
          if (!parts.empty() && !parts.back().ended) order_ok = false;
          parts.push_back(Part{h, {}, 0, false});
          return {};
        },
        [this](std::string_view d) -> Result<void> {
          if (parts.empty() || parts.back().ended || d.empty()) order_ok = false;
          if (!parts.empty()) {
            parts.back().data.append(d);
            ++parts.back().data_calls;
          }
          return {};
        },
        [this]() -> Result<void> {
          if (parts.empty() || parts.back().ended) order_ok = false;
          if (!parts.empty()) parts.back().ended = true;
          return {};
        },
    };
  }
};

constexpr std::string_view kBoundary = "----zlhBoundary7MA4YWxk";

std::string sample_body() {
  std::string b = "--";
  b += kBoundary;
  b += "\r\n";
  b += "Content-Disposition: form-data; name=\"note\"\r\n\r\n";
  b += "hello\r\nworld";
  b += "\r\n--";
  b += kBoundary;
  b += "\r\n";
  b += "Content-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n";
  b += "Content-Type: application/octet-stream\r\n\r\n";
  // Data that looks like delimiters but is not one.
  b += "x--";
  b += kBoundary;
  b += "\r\n\r\n--";
  b += kBoundary.substr(0, 10);
  b += "\r\r\n-\r\n--";
  b += kBoundary;
  b += "X tail\r";
  b += "\r\n--";
  b += kBoundary;
  b += "\r\n";
  b += "Content-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n\r\n";
  b += "\r\n--";
  b += kBoundary;
  b += "--\r\n";
  return b;
}

void expect_sample(const Recorder& r) {
  ASSERT_TRUE(r.order_ok);
  ASSERT_EQ(r.parts.size(), 3u);
  EXPECT_EQ(r.parts[0].headers.name, "note");
  EXPECT_FALSE(r.parts[0].headers.filename.has_value());
  EXPECT_EQ(r.parts[0].headers.content_type, "text/plain");
  EXPECT_EQ(r.parts[0].data, "hello\r\nworld");
  EXPECT_EQ(r.parts[1].headers.name, "file");
  EXPECT_EQ(r.parts[1].headers.filename, "a.bin");
  EXPECT_EQ(r.parts[1].headers.content_type, "application/octet-stream");
  std::string want = "x--" + std::string(kBoundary) + "\r\n\r\n--" +
                     std::string(kBoundary.substr(0, 10)) + "\r\r\n-\r\n--" +
                     std::string(kBoundary) + "X tail\r";
  EXPECT_EQ(r.parts[1].data, want);
  EXPECT_EQ(r.parts[2].headers.name, "empty");
  EXPECT_EQ(r.parts[2].headers.filename, "");
  EXPECT_EQ(r.parts[2].data, "");
  EXPECT_EQ(r.parts[2].data_calls, 0u);
  for (const auto& p : r.parts) EXPECT_TRUE(p.ended);
}

Result<void> parse_all(std::string_view body, Recorder& r, size_t max_header = 16 * 1024,
                       size_t max_parts = 1000) {
  MultipartParser p(std::string(kBoundary), r.callbacks(), max_header, max_parts);
  if (auto f = p.feed(body); !f) return f;
  return p.finish();
}

std::string field(std::string_view name, std::string_view data) {
  return "--" + std::string(kBoundary) + "\r\nContent-Disposition: form-data; name=\"" +
         std::string(name) + "\"\r\n\r\n" + std::string(data) + "\r\n";
}

std::string closing() { return "--" + std::string(kBoundary) + "--\r\n"; }

TEST(MultipartBoundaryTest, AcceptsQuotedAndUnquoted) {
  EXPECT_EQ(boundary_from_content_type("multipart/form-data; boundary=abc-123").value(), "abc-123");
  EXPECT_EQ(boundary_from_content_type("Multipart/Form-Data;boundary=\"a b:c\"").value(), "a b:c");
  EXPECT_EQ(boundary_from_content_type("multipart/form-data; charset=utf-8; boundary=x").value(),
            "x");
  EXPECT_EQ(
      boundary_from_content_type("multipart/form-data; boundary=----WebKitFormBoundaryZ1").value(),
      "----WebKitFormBoundaryZ1");
  EXPECT_EQ(boundary_from_content_type(std::string("multipart/form-data; boundary=") +
                                       std::string(70, 'b'))
                .value(),
            std::string(70, 'b'));
}

TEST(MultipartBoundaryTest, RejectsOtherTypesAndBadBoundaries) {
  for (std::string_view ct : {
           "",
           "text/plain; boundary=x",
           "multipart/mixed; boundary=x",
           "multipart/form-data",
           "multipart/form-data; boundary=",
           "multipart/form-data; boundary=\"\"",
           "multipart/form-data; boundary=\"unterminated",
           "multipart/form-data; boundary=\"ends with space \"",
           "multipart/form-data; boundary=\"bad\\\"quote\"",
           "multipart/form-data; boundary=a; boundary=b",
           "multipart/form-data boundary=x",
       }) {
    auto b = boundary_from_content_type(ct);
    ASSERT_FALSE(b.has_value()) << ct;
    EXPECT_EQ(b.error().code, codes::kInvalid) << ct;
  }
  auto too_long = boundary_from_content_type(std::string("multipart/form-data; boundary=") +
                                             std::string(71, 'b'));
  EXPECT_FALSE(too_long.has_value());
}

TEST(MultipartTest, ParsesSampleInOneFeed) {
  Recorder r;
  ASSERT_TRUE(parse_all(sample_body(), r).has_value());
  expect_sample(r);
}

TEST(MultipartTest, EverySplitPointGivesTheSameResult) {
  const std::string body = sample_body();
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    Recorder r;
    MultipartParser p(std::string(kBoundary), r.callbacks());
    ASSERT_TRUE(p.feed(std::string_view(body).substr(0, cut)).has_value()) << cut;
    ASSERT_TRUE(p.feed(std::string_view(body).substr(cut)).has_value()) << cut;
    ASSERT_TRUE(p.done()) << cut;
    ASSERT_TRUE(p.finish().has_value()) << cut;
    SCOPED_TRACE(cut);
    expect_sample(r);
  }
}

TEST(MultipartTest, EveryPairOfSplitPoints) {
  const std::string body = sample_body();
  for (size_t a = 0; a <= body.size(); a += 3) {
    for (size_t b = a; b <= body.size(); ++b) {
      Recorder r;
      MultipartParser p(std::string(kBoundary), r.callbacks());
      std::string_view v(body);
      ASSERT_TRUE(p.feed(v.substr(0, a)).has_value());
      ASSERT_TRUE(p.feed(v.substr(a, b - a)).has_value());
      ASSERT_TRUE(p.feed(v.substr(b)).has_value());
      ASSERT_TRUE(p.finish().has_value()) << a << " " << b;
      SCOPED_TRACE(std::to_string(a) + " " + std::to_string(b));
      expect_sample(r);
    }
  }
}

TEST(MultipartTest, OneByteFeeds) {
  const std::string body = sample_body();
  Recorder r;
  MultipartParser p(std::string(kBoundary), r.callbacks());
  for (char c : body) ASSERT_TRUE(p.feed(std::string_view(&c, 1)).has_value());
  ASSERT_TRUE(p.finish().has_value());
  expect_sample(r);
}

TEST(MultipartTest, EmptyFeedsAreHarmless) {
  const std::string body = sample_body();
  Recorder r;
  MultipartParser p(std::string(kBoundary), r.callbacks());
  ASSERT_TRUE(p.feed({}).has_value());
  ASSERT_TRUE(p.feed(body).has_value());
  ASSERT_TRUE(p.feed({}).has_value());
  ASSERT_TRUE(p.finish().has_value());
  expect_sample(r);
}

TEST(MultipartTest, PreambleAndEpilogueAreIgnored) {
  std::string body = "This is the preamble.\r\nIt has --" + std::string(kBoundary) +
                     " inside a line\r\n--" + std::string(kBoundary) + "x not one either\r\n" +
                     field("a", "1") + closing() + "epilogue --" + std::string(kBoundary) +
                     "\r\n\r\n--" + std::string(kBoundary) + "\r\ngarbage";
  Recorder r;
  MultipartParser p(std::string(kBoundary), r.callbacks());
  ASSERT_TRUE(p.feed(body).has_value());
  EXPECT_TRUE(p.done());
  ASSERT_TRUE(p.feed("more epilogue").has_value());
  ASSERT_TRUE(p.finish().has_value());
  ASSERT_EQ(r.parts.size(), 1u);
  EXPECT_EQ(r.parts[0].headers.name, "a");
  EXPECT_EQ(r.parts[0].data, "1");
  EXPECT_TRUE(r.parts[0].ended);
}

TEST(MultipartTest, TransportPaddingAfterDelimiters) {
  std::string body = "--" + std::string(kBoundary) + " \t \r\n" +
                     "Content-Disposition: form-data; name=\"a\"\r\n\r\nA\r\n--" +
                     std::string(kBoundary) + "\t\r\n" +
                     "Content-Disposition: form-data; name=\"b\"\r\n\r\nB\r\n--" +
                     std::string(kBoundary) + "--  \r\n";
  Recorder r;
  ASSERT_TRUE(parse_all(body, r).has_value());
  ASSERT_EQ(r.parts.size(), 2u);
  EXPECT_EQ(r.parts[0].data, "A");
  EXPECT_EQ(r.parts[1].data, "B");
}

TEST(MultipartTest, JunkAfterPaddingIsInvalid) {
  std::string body = "--" + std::string(kBoundary) + "  x\r\n" +
                     "Content-Disposition: form-data; name=\"a\"\r\n\r\nA\r\n" + closing();
  Recorder r;
  auto res = parse_all(body, r);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, codes::kInvalid);
}

TEST(MultipartTest, ContentDispositionParameters) {
  std::string b(kBoundary);
  std::string body =
      "--" + b +
      "\r\ncontent-disposition: FORM-DATA ; name=plain ; filename=\"a \\\"q\\\" b.txt\"\r\n" +
      "CONTENT-TYPE:  text/csv \r\nX-Other: ignored\r\n\r\nd1\r\n" + "--" + b +
      "\r\nContent-Disposition: form-data; name=\"win\"; "
      "filename=\"C:\\dir\\f.txt\"\r\n\r\nd2\r\n" +
      "--" + b + "\r\nContent-Disposition: form-data; name=\"u\"; filename=\"fallback.txt\"; " +
      "filename*=UTF-8''%E2%82%AC%20rates.txt\r\n\r\nd3\r\n" + "--" + b +
      "\r\nContent-Disposition: form-data; filename*=iso-8859-1'en'%E9t%E9; "
      "name=\"l\";\r\n\r\nd4\r\n" +
      "--" + b + "\r\nContent-Disposition: form-data; name=\"esc\\\\aped\"\r\n\r\nd5\r\n" +
      closing();
  Recorder r;
  ASSERT_TRUE(parse_all(body, r).has_value());
  ASSERT_EQ(r.parts.size(), 5u);
  EXPECT_EQ(r.parts[0].headers.name, "plain");
  EXPECT_EQ(r.parts[0].headers.filename, "a \"q\" b.txt");
  EXPECT_EQ(r.parts[0].headers.content_type, "text/csv");
  EXPECT_EQ(r.parts[0].data, "d1");
  EXPECT_EQ(r.parts[1].headers.filename, "C:\\dir\\f.txt");
  EXPECT_EQ(r.parts[2].headers.filename, "\xE2\x82\xAC rates.txt");
  EXPECT_EQ(r.parts[3].headers.name, "l");
  EXPECT_EQ(r.parts[3].headers.filename, "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(r.parts[4].headers.name, "esc\\aped");
  EXPECT_EQ(r.parts[4].data, "d5");
}

TEST(MultipartTest, MalformedHeadersAreInvalid) {
  std::string b(kBoundary);
  for (std::string headers : {
           std::string("X-Foo: bar\r\n"),                                      // no disposition
           std::string(""),                                                    // no headers at all
           std::string("Content-Disposition: attachment; name=\"a\"\r\n"),     // not form-data
           std::string("Content-Disposition: form-data; filename=\"a\"\r\n"),  // no name
           std::string("Content-Disposition: form-data; name=\"a\r\n"),        // unterminated
           std::string("Content-Disposition: form-data; name=\"a\"; name=b\r\n"),  // duplicate
           std::string("Content-Disposition: form-data;\r\n name=\"a\"\r\n"),      // folding
           std::string("Content-Disposition form-data; name=\"a\"\r\n"),           // no colon
           std::string("Content-Disposition: form-data; name=\"a\"\r\n"
                       "Content-Disposition: form-data; name=\"b\"\r\n"),
           std::string("Content-Disposition: form-data; name=\"a\"; filename*=koi8-r''x\r\n"),
           std::string("Content-Disposition: form-data; name=\"a\"; filename*=UTF-8''%G1\r\n"),
           std::string("Content-Disposition: form-data; name=\"a\"; filename*=UTF-8''%4\r\n"),
       }) {
    std::string body = "--" + b + "\r\n" + headers + "\r\ndata\r\n" + closing();
    Recorder r;
    auto res = parse_all(body, r);
    ASSERT_FALSE(res.has_value()) << headers;
    EXPECT_EQ(res.error().code, codes::kInvalid) << headers;
    EXPECT_TRUE(r.parts.empty()) << headers;
  }
}

TEST(MultipartTest, TruncatedBodyFailsAtFinish) {
  const std::string body = sample_body();
  const size_t close_at =
      body.rfind("--" + std::string(kBoundary) + "--") + 2 + kBoundary.size() + 1;
  for (size_t cut = 0; cut <= close_at; ++cut) {
    Recorder r;
    MultipartParser p(std::string(kBoundary), r.callbacks());
    ASSERT_TRUE(p.feed(std::string_view(body).substr(0, cut)).has_value()) << cut;
    EXPECT_FALSE(p.done()) << cut;
    auto f = p.finish();
    ASSERT_FALSE(f.has_value()) << cut;
    EXPECT_EQ(f.error().code, codes::kInvalid);
    // Stopped: a repeated finish or a later feed give the same error.
    EXPECT_EQ(p.finish().error().message, f.error().message);
    EXPECT_EQ(p.feed("x").error().message, f.error().message);
  }
  Recorder r;
  MultipartParser p(std::string(kBoundary), r.callbacks());
  ASSERT_TRUE(p.feed(std::string_view(body).substr(0, close_at + 1)).has_value());
  EXPECT_TRUE(p.done());
  EXPECT_TRUE(p.finish().has_value());
  EXPECT_TRUE(p.finish().has_value());
}

TEST(MultipartTest, NoBoundaryAtAllIsTruncated) {
  Recorder r;
  MultipartParser p(std::string(kBoundary), r.callbacks());
  ASSERT_TRUE(p.feed("just some text, no multipart here").has_value());
  EXPECT_FALSE(p.finish().has_value());
  EXPECT_TRUE(r.parts.empty());
}

TEST(MultipartTest, TooManyParts) {
  std::string body;
  for (char c : std::string("0123")) body += field(std::string("f") + c, "v");
  body += closing();
  {
    Recorder r;
    EXPECT_TRUE(parse_all(body, r, 16 * 1024, 4).has_value());
    EXPECT_EQ(r.parts.size(), 4u);
  }
  Recorder r;
  auto res = parse_all(body, r, 16 * 1024, 3);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, codes::kInvalid);
  EXPECT_EQ(r.parts.size(), 3u);
}

TEST(MultipartTest, OversizedHeaders) {
  std::string b(kBoundary);
  std::string headers =
      "Content-Disposition: form-data; name=\"a\"\r\nX-Pad: " + std::string(200, 'p') + "\r\n";
  std::string body = "--" + b + "\r\n" + headers + "\r\nd\r\n" + closing();
  {
    Recorder r;
    EXPECT_TRUE(parse_all(body, r, headers.size() - 2).has_value());  // block excludes final CRLF
  }
  for (size_t step : {size_t(1), size_t(7), body.size()}) {
    Recorder r;
    MultipartParser p(b, r.callbacks(), headers.size() - 3);
    Result<void> res;
    for (size_t i = 0; i < body.size() && res; i += step)
      res = p.feed(std::string_view(body).substr(i, step));
    ASSERT_FALSE(res.has_value()) << step;
    EXPECT_EQ(res.error().code, codes::kInvalid);
  }
  // An endless header line fails once the limit is passed, without waiting for the end.
  Recorder r;
  MultipartParser p(b, r.callbacks(), 100);
  ASSERT_TRUE(p.feed("--" + b + "\r\nX: ").has_value());
  EXPECT_FALSE(p.feed(std::string(200, 'y')).has_value());
}

TEST(MultipartTest, CallbackErrorStopsTheParser) {
  const std::string body = sample_body();
  int data_calls = 0;
  int ends = 0;
  MultipartParser::Callbacks cb{[](const PartHeaders& h) -> Result<void> {
                                  if (h.name == "file")
                                    return fail(codes::kTooLarge, "no files today");
                                  return {};
                                },
                                [&](std::string_view) -> Result<void> {
                                  ++data_calls;
                                  return {};
                                },
                                [&]() -> Result<void> {
                                  ++ends;
                                  return {};
                                }};
  MultipartParser p(std::string(kBoundary), cb);
  auto res = p.feed(body);
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, codes::kTooLarge);
  EXPECT_EQ(res.error().message, "no files today");
  EXPECT_EQ(ends, 1);
  const int calls = data_calls;
  EXPECT_EQ(p.feed(body).error().code, codes::kTooLarge);
  EXPECT_EQ(p.finish().error().code, codes::kTooLarge);
  EXPECT_EQ(data_calls, calls);
  EXPECT_EQ(ends, 1);
}

TEST(MultipartTest, DataCallbackErrorIsReturnedAsIs) {
  MultipartParser::Callbacks cb{
      nullptr, [](std::string_view) -> Result<void> { return fail(codes::kIo, "disk full"); },
      nullptr};
  MultipartParser p(std::string(kBoundary), cb);
  auto res = p.feed(field("a", "payload") + closing());
  ASSERT_FALSE(res.has_value());
  EXPECT_EQ(res.error().code, codes::kIo);
}

TEST(MultipartTest, EmptyCallbacksAreAllowed) {
  MultipartParser p(std::string(kBoundary), {});
  ASSERT_TRUE(p.feed(sample_body()).has_value());
  EXPECT_TRUE(p.finish().has_value());
}

TEST(MultipartTest, InvalidBoundaryFailsOnFeed) {
  for (std::string bad :
       {std::string(), std::string(71, 'a'), std::string("a\rb"), std::string("a\nb")}) {
    MultipartParser p(bad, {});
    auto res = p.feed("--" + bad + "\r\n");
    ASSERT_FALSE(res.has_value());
    EXPECT_EQ(res.error().code, codes::kInvalid);
    EXPECT_FALSE(p.finish().has_value());
  }
}

TEST(MultipartTest, ZeroPartsIsAnEmptyForm) {
  Recorder r;
  ASSERT_TRUE(parse_all(closing(), r).has_value());
  EXPECT_TRUE(r.parts.empty());
}

// Random binary data full of CRs, LFs, dashes and boundary prefixes, cut at
// random places, must come back byte for byte and in few callbacks.
TEST(MultipartTest, RandomBinaryBodiesRoundTrip) {
  std::mt19937 rng(42);
  const std::string delim = "\r\n--" + std::string(kBoundary);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::string> payloads;
    std::string body = "preamble";
    for (int i = 0; i < 3; ++i) {
      std::string data;
      size_t len = rng() % (round < 10 ? 2000 : 300000);
      while (data.size() < len) {
        switch (rng() % 6) {
          case 0:  // a delimiter prefix, kept from being completed by what follows
            data += delim.substr(0, 1 + rng() % (delim.size() - 1)) + '\x01';
            break;
          case 1:
            data += "\r\n";
            break;
          case 2:  // a dash-boundary not at a line start
            data += "x--" + std::string(kBoundary);
            break;
          case 3:
            data += delim + "-x";
            break;
          default:
            for (int k = rng() % 64; k > 0; --k) data += char(rng());
        }
      }
      payloads.push_back(data);
      body += "\r\n--" + std::string(kBoundary) +
              "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\n" + data;
    }
    body += "\r\n--" + std::string(kBoundary) + "--";
    Recorder r;
    MultipartParser p(std::string(kBoundary), r.callbacks());
    for (size_t i = 0; i < body.size();) {
      size_t n = std::min<size_t>(body.size() - i, 1 + rng() % (round % 2 ? 100 : 70000));
      ASSERT_TRUE(p.feed(std::string_view(body).substr(i, n)).has_value());
      i += n;
    }
    ASSERT_TRUE(p.finish().has_value());
    ASSERT_TRUE(r.order_ok);
    ASSERT_EQ(r.parts.size(), payloads.size());
    for (size_t i = 0; i < payloads.size(); ++i)
      ASSERT_EQ(r.parts[i].data, payloads[i]) << round << " " << i;
  }
}

// Large chunks are passed through in large slices, not byte by byte.
TEST(MultipartTest, LargeChunksAreDeliveredInFewCallbacks) {
  std::string data(4 << 20, 'a');
  for (size_t i = 0; i < data.size(); i += 1000) data[i] = '\r';
  std::string body = field("big", data) + closing();
  Recorder r;
  MultipartParser p(std::string(kBoundary), r.callbacks());
  const size_t chunk = 256 * 1024;
  for (size_t i = 0; i < body.size(); i += chunk)
    ASSERT_TRUE(p.feed(std::string_view(body).substr(i, chunk)).has_value());
  ASSERT_TRUE(p.finish().has_value());
  ASSERT_EQ(r.parts.size(), 1u);
  EXPECT_EQ(r.parts[0].data, data);
  EXPECT_LE(r.parts[0].data_calls, 2 * (body.size() / chunk + 1));
}

}  // namespace
}  // namespace zlh::agent::files
