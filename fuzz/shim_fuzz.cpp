// The zlh-shim wire protocol (proto/shim_protocol.hpp): the frame decoder
// as a client or the shim reads a socket, the RESIZE payload and the
// STATUS/EXIT JSON.
//
// Input: the byte stream; its last bytes also pick the chunk sizes of a
// second decode (a socket delivers any split).
//
// Invariants: the decoder gives the same frames and the same error whether
// the stream comes whole, in the chosen chunks or byte by byte (before an
// error, a split gives out a prefix of the frames); each frame encodes back to the
// exact bytes it came from; parse_resize accepts exactly the 4-byte
// non-zero payloads and resize_payload gives them back; parse_status never
// throws and a status it accepts survives to_json → parse_status.
#include <optional>
#include <vector>

#include "fuzz_input.hpp"
#include "proto/shim_protocol.hpp"

namespace shim = zlh::shim;

namespace {

struct Decoded {
  std::vector<shim::Frame> frames;
  std::optional<zlh::Code> error;  // code of the first error, nullopt when none
};

Decoded decode(std::string_view stream, const std::vector<size_t>& cuts) {
  shim::Decoder d;
  Decoded out;
  size_t pos = 0, k = 0;
  while (pos < stream.size()) {
    size_t n = cuts.empty() ? stream.size() : std::max<size_t>(1, cuts[k++ % cuts.size()]);
    n = std::min(n, stream.size() - pos);
    auto r = d.feed(stream.substr(pos, n));
    pos += n;
    if (!r) {
      out.error = r.error().code;
      auto again = d.feed("x");
      ZLH_FUZZ_CHECK(!again && again.error().code == out.error, "decoder did not stay failed");
      break;
    }
    for (auto& f : *r) out.frames.push_back(std::move(f));
  }
  return out;
}

// Equal, or, after an error (a feed that fails returns no frame, so what
// came out depends on the split), the same error with `a`'s frames a prefix
// of `b`'s.
bool same(const Decoded& a, const Decoded& b) {
  if (a.error != b.error) return false;
  if (!a.error ? a.frames.size() != b.frames.size() : a.frames.size() > b.frames.size())
    return false;
  for (size_t i = 0; i < a.frames.size(); ++i)
    if (a.frames[i].type != b.frames[i].type || a.frames[i].payload != b.frames[i].payload)
      return false;
  return true;
}

void check_status(std::string_view json) {
  zlh::Result<shim::ShimStatus> s = zlh::fail(zlh::codes::kInternal, "not run");
  try {
    s = shim::parse_status(json);
  } catch (const std::exception& e) {
    zlh::fuzz::broken("parse_status threw", e.what());
  }
  if (!s) return;
  std::string once = shim::to_json(*s);
  auto again = shim::parse_status(once);
  ZLH_FUZZ_CHECK(again, once);
  ZLH_FUZZ_CHECK(shim::to_json(*again) == once, once);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zlh::fuzz::Input in(data, size);
  std::vector<size_t> cuts;
  for (int i = 0, n = in.back_byte() % 8; i < n; ++i) cuts.push_back(in.back_byte());
  std::string_view stream(reinterpret_cast<const char*>(data), size);

  Decoded whole = decode(stream, {});
  Decoded chunked = decode(stream, cuts);
  Decoded bytes = decode(stream, {1});
  // Byte by byte gets every frame before an error out.
  ZLH_FUZZ_CHECK(same(whole, bytes), "whole and byte-by-byte decodes differ");
  ZLH_FUZZ_CHECK(same(chunked, bytes), "chunked and byte-by-byte decodes differ");

  size_t pos = 0;
  for (const auto& f : bytes.frames) {
    ZLH_FUZZ_CHECK(shim::is_known_type(uint8_t(f.type)));
    auto enc = shim::encode(f.type, f.payload);
    ZLH_FUZZ_CHECK(enc && stream.substr(pos, enc->size()) == *enc, "frame does not encode back");
    pos += enc->size();
    switch (f.type) {
      case shim::FrameType::kResize: {
        auto w = shim::parse_resize(f.payload);
        bool want = f.payload.size() == 4 && (f.payload[0] || f.payload[1]) &&
                    (f.payload[2] || f.payload[3]);
        ZLH_FUZZ_CHECK(bool(w) == want);
        if (w) ZLH_FUZZ_CHECK(shim::resize_payload(w->cols, w->rows) == f.payload);
        break;
      }
      case shim::FrameType::kStatusReply:
      case shim::FrameType::kExit:
        check_status(f.payload);
        break;
      default:
        break;
    }
  }
  // The status parser also straight on the input (the state file is read that way).
  check_status(stream);
  return 0;
}
