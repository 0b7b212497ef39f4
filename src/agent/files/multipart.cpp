#include "agent/files/multipart.hpp"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "base/strings.hpp"

namespace zlh::agent::files {

namespace {

constexpr size_t kMaxBoundary = 70;  // RFC 2046 §5.1.1

std::unexpected<Error> invalid(std::string message) {
  return fail(codes::kInvalid, "multipart: " + std::move(message));
}

bool is_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// RFC 9110 tchar.
bool is_tchar(char c) { return is_alnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr; }

// RFC 2046 bchars.
bool valid_boundary(std::string_view b) {
  if (b.empty() || b.size() > kMaxBoundary || b.back() == ' ') return false;
  return std::all_of(b.begin(), b.end(), [](char c) {
    return c != '\0' && (is_alnum(c) || std::strchr("'()+_,-./:=? ", c) != nullptr);
  });
}

struct Param {
  std::string name;  // lowercased
  std::string value;
};

// `s` is what follows the media type or disposition type:
// *( OWS ";" OWS name OWS "=" OWS ( quoted-string / value ) ). Unquoted values
// run to the next ';' (trimmed), which tolerates the unquoted spaces some
// clients send.
Result<std::vector<Param>> parse_params(std::string_view s) {
  std::vector<Param> out;
  size_t i = 0;
  auto skip_ows = [&] {
    while (i < s.size() && strings::is_ows(s[i])) ++i;
  };
  for (;;) {
    skip_ows();
    if (i == s.size()) return out;
    if (s[i] != ';') return invalid("expected ';' before a parameter");
    ++i;
    skip_ows();
    if (i == s.size()) return out;  // a trailing ';'
    size_t n0 = i;
    while (i < s.size() && is_tchar(s[i])) ++i;
    if (i == n0) return invalid("bad parameter name");
    Param p{strings::to_lower(s.substr(n0, i - n0)), {}};
    skip_ows();
    if (i == s.size() || s[i] != '=') return invalid("parameter " + p.name + " has no value");
    ++i;
    skip_ows();
    if (i < s.size() && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char c = s[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        // Only \" and \\ are escapes: browsers send Windows paths unescaped.
        if (c == '\\' && i < s.size() && (s[i] == '"' || s[i] == '\\')) c = s[i++];
        p.value += c;
      }
      if (!closed) return invalid("unterminated quoted string in parameter " + p.name);
    } else {
      size_t v0 = i;
      while (i < s.size() && s[i] != ';') ++i;
      p.value = std::string(strings::trim_ows(s.substr(v0, i - v0)));
      if (p.value.empty()) return invalid("parameter " + p.name + " has no value");
    }
    for (const auto& q : out)
      if (q.name == p.name) return invalid("duplicate parameter " + p.name);
    out.push_back(std::move(p));
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = strings::ascii_lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// RFC 5987 ext-value: charset "'" [language] "'" value-chars, decoded to UTF-8.
Result<std::string> decode_ext_value(std::string_view v) {
  size_t q1 = v.find('\'');
  size_t q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) return invalid("filename* is not charset'lang'value");
  std::string_view charset = v.substr(0, q1);
  bool latin1 = strings::iequals(charset, "iso-8859-1");
  if (!latin1 && !strings::iequals(charset, "utf-8"))
    return invalid("filename* charset is not utf-8");
  std::string_view enc = v.substr(q2 + 1);
  std::string out;
  for (size_t i = 0; i < enc.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(enc[i]);
    if (c == '%') {
      int hi = i + 2 < enc.size() ? hex_value(enc[i + 1]) : -1;
      int lo = i + 2 < enc.size() ? hex_value(enc[i + 2]) : -1;
      if (hi < 0 || lo < 0) return invalid("bad percent-encoding in filename*");
      c = static_cast<unsigned char>(hi * 16 + lo);
      i += 2;
    }
    if (latin1 && c >= 0x80) {
      out += char(0xC0 | (c >> 6));
      out += char(0x80 | (c & 0x3F));
    } else {
      out += char(c);
    }
  }
  return out;
}

Result<PartHeaders> parse_part_headers(std::string_view block) {
  PartHeaders h;
  h.content_type = "text/plain";
  bool have_disposition = false;
  bool have_type = false;
  while (!block.empty()) {
    size_t eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 2);
    if (line.empty()) return invalid("empty header line");
    if (strings::is_ows(line.front())) return invalid("folded header line");
    if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
      return invalid("control character in header line");
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return invalid("header line without ':'");
    std::string_view name = line.substr(0, colon);
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_tchar))
      return invalid("bad header name");
    std::string_view value = strings::trim_ows(line.substr(colon + 1));
    if (strings::iequals(name, "content-disposition")) {
      if (have_disposition) return invalid("duplicate content-disposition");
      have_disposition = true;
      size_t t = 0;
      while (t < value.size() && is_tchar(value[t])) ++t;
      if (!strings::iequals(value.substr(0, t), "form-data"))
        return invalid("content-disposition is not form-data");
      auto params = parse_params(value.substr(t));
      if (!params) return fail(std::move(params.error()));
      bool have_name = false;
      std::optional<std::string> ext_filename;
      for (auto& p : *params) {
        if (p.name == "name") {
          h.name = std::move(p.value);
          have_name = true;
        } else if (p.name == "filename") {
          h.filename = std::move(p.value);
        } else if (p.name == "filename*") {
          auto v = decode_ext_value(p.value);
          if (!v) return fail(std::move(v.error()));
          ext_filename = std::move(*v);
        }
      }
      if (!have_name) return invalid("content-disposition without name");
      if (ext_filename) h.filename = std::move(ext_filename);
    } else if (strings::iequals(name, "content-type")) {
      if (have_type) return invalid("duplicate content-type");
      have_type = true;
      if (!value.empty()) h.content_type = std::string(value);
    }
  }
  if (!have_disposition) return invalid("part without content-disposition");
  return h;
}

}  // namespace

Result<std::string> boundary_from_content_type(std::string_view content_type) {
  std::string_view v = strings::trim_ows(content_type);
  size_t t = 0;
  while (t < v.size() && (is_tchar(v[t]) || v[t] == '/')) ++t;
  if (!strings::iequals(v.substr(0, t), "multipart/form-data"))
    return invalid("content type is not multipart/form-data");
  auto params = parse_params(v.substr(t));
  if (!params) return fail(std::move(params.error()));
  for (auto& p : *params) {
    if (p.name != "boundary") continue;
    if (!valid_boundary(p.value)) return invalid("bad boundary");
    return std::move(p.value);
  }
  return invalid("content type has no boundary");
}

MultipartParser::MultipartParser(std::string boundary, Callbacks cb, size_t max_header_bytes,
                                 size_t max_parts)
    : delim_("\r\n--" + boundary),
      cb_(std::move(cb)),
      max_header_bytes_(max_header_bytes),
      max_parts_(max_parts),
      boundary_ok_(valid_boundary(boundary)) {
  // The body is parsed as if it began with CRLF, so a delimiter at the very
  // start needs no special case; the preamble is discarded anyway.
  pending_ = "\r\n";
  if (!boundary_ok_) return;
  const size_t m = delim_.size();  // <= 74, fits the table
  skip_.fill(static_cast<uint8_t>(m));
  for (size_t i = 0; i + 1 < m; ++i) skip_[static_cast<uint8_t>(delim_[i])] = uint8_t(m - 1 - i);
}

size_t MultipartParser::find_delim(std::string_view hay) const {
  const size_t m = delim_.size();
  const char* h = hay.data();
  const char* p = delim_.data();
  const char last = p[m - 1];
  size_t i = 0;
  while (i + m <= hay.size()) {
    char c = h[i + m - 1];
    if (c == last && std::memcmp(h + i, p, m - 1) == 0) return i;
    i += skip_[static_cast<uint8_t>(c)];
  }
  return std::string_view::npos;
}

Result<void> MultipartParser::stop(Error e) {
  state_ = State::kFailed;
  in_part_ = false;
  error_ = e;
  pending_.clear();
  pending_.shrink_to_fit();
  header_buf_.clear();
  header_buf_.shrink_to_fit();
  return fail(std::move(e));
}

Result<void> MultipartParser::feed(std::string_view chunk) {
  if (state_ == State::kFailed) return fail(error_);
  if (!boundary_ok_) return stop(Error::make(codes::kInvalid, "multipart: bad boundary"));
  return run(chunk);
}

Result<void> MultipartParser::finish() {
  if (state_ == State::kFailed) return fail(error_);
  if (!boundary_ok_) return stop(Error::make(codes::kInvalid, "multipart: bad boundary"));
  if (state_ != State::kEpilogue)
    return stop(Error::make(codes::kInvalid, "multipart: truncated body (no closing boundary)"));
  return {};
}

Result<void> MultipartParser::emit(std::string_view data) {
  if (!in_part_ || data.empty() || !cb_.on_part_data) return {};
  if (auto r = cb_.on_part_data(data); !r) return stop(std::move(r.error()));
  return {};
}

Result<void> MultipartParser::not_a_delimiter(std::string_view extra) {
  // The matched text was data after all. No delimiter can start inside it:
  // the only CR of delim_ is its first byte.
  state_ = State::kScan;
  if (auto r = emit(delim_); !r) return r;
  return emit(extra);
}

Result<void> MultipartParser::delimiter_line_done() {
  if (in_part_) {
    in_part_ = false;
    if (cb_.on_part_end)
      if (auto r = cb_.on_part_end(); !r) return stop(std::move(r.error()));
  }
  if (parts_ >= max_parts_)
    return stop(Error::make(codes::kInvalid,
                            "multipart: more than " + std::to_string(max_parts_) + " parts"));
  ++parts_;
  header_buf_.clear();
  state_ = State::kHeaders;
  return {};
}

Result<void> MultipartParser::close_delimiter() {
  state_ = State::kEpilogue;
  pending_.clear();
  pending_.shrink_to_fit();
  header_buf_.shrink_to_fit();
  if (in_part_) {
    in_part_ = false;
    if (cb_.on_part_end)
      if (auto r = cb_.on_part_end(); !r) return stop(std::move(r.error()));
  }
  return {};
}

Result<void> MultipartParser::run(std::string_view& in) {
  while (!in.empty()) {
    Result<void> r;
    const char c = in.front();
    switch (state_) {
      case State::kScan:
        r = scan(in);
        break;
      case State::kAfterBoundary:
        if (c == '-' || c == '\r' || strings::is_ows(c)) {
          in.remove_prefix(1);
          state_ = c == '-' ? State::kAfterDash : c == '\r' ? State::kExpectLf : State::kPadding;
          padded_ = strings::is_ows(c);
        } else {
          r = not_a_delimiter({});
        }
        break;
      case State::kAfterDash:
        if (c == '-') {
          in.remove_prefix(1);
          r = close_delimiter();
        } else {
          r = not_a_delimiter("-");
        }
        break;
      case State::kPadding: {
        size_t n = 0;
        while (n < in.size() && strings::is_ows(in[n])) ++n;
        in.remove_prefix(n);
        if (in.empty()) break;
        if (in.front() != '\r')
          return stop(Error::make(codes::kInvalid, "multipart: junk after boundary"));
        in.remove_prefix(1);
        state_ = State::kExpectLf;
        break;
      }
      case State::kExpectLf:
        if (c == '\n') {
          in.remove_prefix(1);
          r = delimiter_line_done();
        } else if (padded_) {
          return stop(Error::make(codes::kInvalid, "multipart: junk after boundary"));
        } else {
          r = not_a_delimiter("\r");
        }
        break;
      case State::kHeaders:
        r = headers(in);
        break;
      case State::kEpilogue:
        in = {};
        break;
      case State::kFailed:
        return fail(error_);
    }
    if (!r) return r;
  }
  return {};
}

Result<void> MultipartParser::scan(std::string_view& in) {
  const size_t m = delim_.size();
  if (!pending_.empty()) {
    const size_t have = pending_.size();
    const size_t n = std::min(m - have, in.size());
    if (std::memcmp(in.data(), delim_.data() + have, n) == 0) {
      in.remove_prefix(n);
      if (have + n == m) {
        pending_.clear();
        state_ = State::kAfterBoundary;
      } else {
        pending_.append(delim_, have, n);
      }
      return {};
    }
    // Only delim_[0] is a CR, so no delimiter starts inside pending_.
    std::string data = std::move(pending_);
    pending_.clear();
    if (auto r = emit(data); !r) return r;
  }
  if (size_t pos = find_delim(in); pos != std::string_view::npos) {
    if (auto r = emit(in.substr(0, pos)); !r) return r;
    in.remove_prefix(pos + m);
    state_ = State::kAfterBoundary;
    return {};
  }
  // Hold back a tail that may be the start of a delimiter; it can only begin
  // at the last CR of the final m-1 bytes.
  size_t keep = in.size();
  const size_t from = in.size() > m - 1 ? in.size() - (m - 1) : 0;
  if (const void* cr = ::memrchr(in.data() + from, '\r', in.size() - from)) {
    size_t i = static_cast<size_t>(static_cast<const char*>(cr) - in.data());
    if (std::memcmp(in.data() + i, delim_.data(), in.size() - i) == 0) keep = i;
  }
  if (auto r = emit(in.substr(0, keep)); !r) return r;
  pending_.assign(in.substr(keep));
  in = {};
  return {};
}

Result<void> MultipartParser::headers(std::string_view& in) {
  const size_t old = header_buf_.size();
  const size_t take = std::min(in.size(), max_header_bytes_ + 4 - old);
  header_buf_.append(in.data(), take);
  if (header_buf_.size() < 2) {
    in.remove_prefix(take);
    return {};
  }
  // The block ends at the first empty line: a CRLF right away (no headers)
  // or CRLFCRLF.
  size_t block_len = 0;
  size_t end = 2;
  if (header_buf_[0] != '\r' || header_buf_[1] != '\n') {
    size_t p = header_buf_.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
    if (p == std::string::npos) {
      if (header_buf_.size() >= max_header_bytes_ + 4)
        return stop(Error::make(codes::kInvalid, "multipart: part headers longer than " +
                                                     std::to_string(max_header_bytes_) + " bytes"));
      in.remove_prefix(take);
      return {};
    }
    block_len = p;
    end = p + 4;
  }
  in.remove_prefix(end - old);
  auto h = parse_part_headers(std::string_view(header_buf_).substr(0, block_len));
  header_buf_.clear();
  if (!h) return stop(std::move(h.error()));
  in_part_ = true;
  state_ = State::kScan;
  if (cb_.on_part_begin)
    if (auto r = cb_.on_part_begin(*h); !r) return stop(std::move(r.error()));
  return {};
}

}  // namespace zlh::agent::files
