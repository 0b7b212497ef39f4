#include "proto/shim_protocol.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <climits>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <utility>

#include "base/fs.hpp"

namespace zlh::shim {
namespace {

using Clock = std::chrono::steady_clock;

void put_u32(std::string& out, uint32_t v) {
  out.push_back(char(v >> 24));
  out.push_back(char(v >> 16));
  out.push_back(char(v >> 8));
  out.push_back(char(v));
}

uint32_t get_u32(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | uint32_t(b[3]);
}

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return int(std::clamp<long long>(left, 0, INT_MAX));
}

// poll() one fd until `events` or the deadline; false on timeout.
Result<bool> wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, ms_left(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return fail(Error::from_errno("poll", errno));
    return r > 0;
  }
}

template <typename T>
std::optional<T> opt_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  return it->get<T>();
}

// An integer member as T; nullopt when absent or null. A float, or an
// integer outside T's range, is std::out_of_range: get<T>() would convert
// the first with undefined behaviour and wrap the second.
template <typename T>
std::optional<T> int_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (it->is_number_unsigned() && std::in_range<T>(it->get<uint64_t>()))
    return T(it->get<uint64_t>());
  if (it->is_number_integer() && !it->is_number_unsigned() && std::in_range<T>(it->get<int64_t>()))
    return T(it->get<int64_t>());
  throw std::out_of_range(std::string(key) + ": not an integer in range");
}

}  // namespace

bool is_known_type(uint8_t t) { return (t >= 0x01 && t <= 0x06) || (t >= 0x81 && t <= 0x83); }

std::string_view type_name(FrameType t) {
  switch (t) {
    case FrameType::kAttach:
      return "ATTACH";
    case FrameType::kInput:
      return "INPUT";
    case FrameType::kResize:
      return "RESIZE";
    case FrameType::kSignal:
      return "SIGNAL";
    case FrameType::kStatus:
      return "STATUS";
    case FrameType::kStop:
      return "STOP";
    case FrameType::kOutput:
      return "OUTPUT";
    case FrameType::kStatusReply:
      return "STATUS_REPLY";
    case FrameType::kExit:
      return "EXIT";
  }
  return "?";
}

void encode_into(std::string& out, FrameType type, std::string_view payload) {
  assert(payload.size() <= kMaxPayload);
  out.push_back(char(type));
  put_u32(out, uint32_t(payload.size()));
  out.append(payload);
}

Result<std::string> encode(FrameType type, std::string_view payload) {
  if (payload.size() > kMaxPayload)
    return fail(codes::kTooLarge, "frame payload of " + std::to_string(payload.size()) +
                                      " bytes exceeds " + std::to_string(kMaxPayload));
  std::string out;
  out.reserve(kHeaderSize + payload.size());
  encode_into(out, type, payload);
  return out;
}

std::string resize_payload(uint16_t cols, uint16_t rows) {
  return {char(cols >> 8), char(cols & 0xff), char(rows >> 8), char(rows & 0xff)};
}

Result<WindowSize> parse_resize(std::string_view p) {
  if (p.size() != 4) return fail(Error::invalid("payload", "resize payload must be 4 bytes"));
  auto b = reinterpret_cast<const unsigned char*>(p.data());
  WindowSize w{uint16_t(b[0] << 8 | b[1]), uint16_t(b[2] << 8 | b[3])};
  if (w.cols == 0 || w.rows == 0)
    return fail(Error::invalid("payload", "resize to zero columns or rows"));
  return w;
}

Result<std::vector<Frame>> Decoder::feed(std::string_view data) {
  if (failed_) return fail(*failed_);
  buf_.append(data);
  std::vector<Frame> out;
  while (buf_.size() - pos_ >= kHeaderSize) {
    const char* h = buf_.data() + pos_;
    uint8_t type = uint8_t(h[0]);
    uint32_t len = get_u32(h + 1);
    if (!is_known_type(type)) {
      failed_ = Error::invalid("type", "unknown frame type " + std::to_string(type));
      return fail(*failed_);
    }
    if (len > kMaxPayload) {
      failed_ = Error::make(codes::kTooLarge, "frame payload of " + std::to_string(len) +
                                                  " bytes exceeds " + std::to_string(kMaxPayload));
      return fail(*failed_);
    }
    if (buf_.size() - pos_ < kHeaderSize + len) break;
    out.push_back(Frame{FrameType(type), buf_.substr(pos_ + kHeaderSize, len)});
    pos_ += kHeaderSize + len;
  }
  // Compact once the consumed prefix dominates, so the buffer stays O(frame).
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 64 * 1024 && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return out;
}

std::string to_json(const ShimStatus& s) {
  auto opt = [](const auto& o) -> nlohmann::json {
    if (o) return *o;
    return nullptr;
  };
  nlohmann::json j = {
      {"name", s.name},
      {"shim_pid", s.shim_pid},
      {"shim_start_time", s.shim_start_time},
      {"pid", s.pid},
      {"pid_start_time", s.pid_start_time},
      {"socket", s.socket},
      {"state", to_string(s.state)},
      {"exit_code", opt(s.exit_code)},
      {"signal", opt(s.signal)},
      {"started_at", s.started_at},
      {"exited_at", s.exited_at.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.exited_at)},
      {"graceful", opt(s.graceful)},
      {"stop_duration_ms", opt(s.stop_duration_ms)},
  };
  if (!s.error.empty()) j["error"] = s.error;
  return j.dump();
}

Result<ShimStatus> parse_status(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail(Error::invalid("status", "shim status is not a json object"));
  try {
    ShimStatus s;
    s.name = j.at("name").get<std::string>();
    auto pid = int_field<pid_t>(j, "pid");
    if (!pid) throw std::out_of_range("pid: missing");
    s.pid = *pid;
    auto state = kShimStateNames.parse(j.at("state").get<std::string>());
    if (!state) throw std::out_of_range("state: unknown");
    s.state = *state;
    s.shim_pid = int_field<pid_t>(j, "shim_pid").value_or(0);
    s.shim_start_time = int_field<uint64_t>(j, "shim_start_time").value_or(0);
    s.pid_start_time = int_field<uint64_t>(j, "pid_start_time").value_or(0);
    s.socket = j.value("socket", std::string());
    s.exit_code = int_field<int>(j, "exit_code");
    s.signal = int_field<int>(j, "signal");
    s.started_at = opt_field<std::string>(j, "started_at").value_or("");
    s.exited_at = opt_field<std::string>(j, "exited_at").value_or("");
    s.graceful = opt_field<bool>(j, "graceful");
    s.stop_duration_ms = int_field<int64_t>(j, "stop_duration_ms");
    s.error = opt_field<std::string>(j, "error").value_or("");
    return s;
  } catch (const std::exception& e) {  // nlohmann::json::exception or int_field's out_of_range
    auto err = Error::invalid("status", "malformed shim status");
    err.cause = e.what();
    return fail(std::move(err));
  }
}

Result<uint64_t> proc_start_time(pid_t pid) {
  auto text = fs::read_file("/proc/" + std::to_string(pid) + "/stat", 64 * 1024);
  if (!text) return fail(std::move(text.error()));
  // comm (field 2) may contain spaces and parentheses: fields resume after
  // the last ')'; field 3 is the first one after it.
  size_t close = text->rfind(')');
  if (close == std::string::npos) return fail(codes::kIo, "malformed /proc stat");
  size_t i = close + 1;
  for (int field = 3; field <= 22; ++field) {
    while (i < text->size() && (*text)[i] == ' ') ++i;
    size_t end = text->find(' ', i);
    if (end == std::string::npos) end = text->size();
    if (field == 22) {
      try {
        return uint64_t(std::stoull(text->substr(i, end - i)));
      } catch (...) {
        break;
      }
    }
    i = end;
  }
  return fail(codes::kIo, "malformed /proc stat");
}

ShimClient::~ShimClient() { close(); }

ShimClient::ShimClient(ShimClient&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      decoder_(std::move(o.decoder_)),
      pending_(std::move(o.pending_)),
      pending_pos_(std::exchange(o.pending_pos_, 0)) {}

ShimClient& ShimClient::operator=(ShimClient&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    decoder_ = std::move(o.decoder_);
    pending_ = std::move(o.pending_);
    pending_pos_ = std::exchange(o.pending_pos_, 0);
  }
  return *this;
}

void ShimClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<ShimClient> ShimClient::connect(const std::string& path, std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return fail(Error::invalid("socket", "socket path is empty or too long: " + path));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  auto deadline = Clock::now() + timeout;
  for (;;) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return fail(Error::from_errno("socket", errno));
    int r;
    do {
      r = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    } while (r < 0 && errno == EINTR);
    if (r == 0) return ShimClient(fd);
    int err = errno;
    ::close(fd);
    bool retry = err == ENOENT || err == ECONNREFUSED || err == EAGAIN;
    if (!retry || Clock::now() >= deadline) {
      std::string what = "connect " + path;
      if (err == ENOENT) return fail(codes::kNotFound, what + ": no such socket");
      if (err == ECONNREFUSED) return fail(codes::kUnavailable, what + ": connection refused");
      return fail(Error::from_errno(what, err));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Result<void> ShimClient::send(FrameType type, std::string_view payload,
                              std::chrono::milliseconds timeout) {
  if (fd_ < 0) return fail(codes::kUnavailable, "shim client is not connected");
  auto frame = encode(type, payload);
  if (!frame) return fail(std::move(frame.error()));
  auto deadline = Clock::now() + timeout;
  size_t off = 0;
  while (off < frame->size()) {
    ssize_t n = ::send(fd_, frame->data() + off, frame->size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += size_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      auto ready = wait_fd(fd_, POLLOUT, deadline);
      if (!ready) return fail(std::move(ready.error()));
      if (!*ready) return fail(codes::kTimeout, "send to shim: timed out");
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET)
      return fail(codes::kUnavailable, "send to shim: connection closed");
    return fail(Error::from_errno("send to shim", errno));
  }
  return {};
}

Result<Frame> ShimClient::read_frame(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    if (pending_pos_ < pending_.size()) {
      Frame f = std::move(pending_[pending_pos_++]);
      if (pending_pos_ == pending_.size()) {
        pending_.clear();
        pending_pos_ = 0;
      }
      return f;
    }
    if (fd_ < 0) return fail(codes::kUnavailable, "shim client is not connected");
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      auto ready = wait_fd(fd_, POLLIN, deadline);
      if (!ready) return fail(std::move(ready.error()));
      if (!*ready) return fail(codes::kTimeout, "read from shim: timed out");
      continue;
    }
    if (n < 0 && errno == ECONNRESET)
      return fail(codes::kUnavailable, "shim closed the connection");
    if (n < 0) return fail(Error::from_errno("read from shim", errno));
    if (n == 0) return fail(codes::kUnavailable, "shim closed the connection");
    auto frames = decoder_.feed(std::string_view(buf, size_t(n)));
    if (!frames) return fail(std::move(frames.error()).wrap("read from shim"));
    pending_ = std::move(*frames);
    pending_pos_ = 0;
  }
}

Result<ShimStatus> ShimClient::status(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (auto r = send(FrameType::kStatus, {}, timeout); !r) return fail(std::move(r.error()));
  for (;;) {
    auto f = read_frame(std::chrono::milliseconds(ms_left(deadline)));
    if (!f) return fail(std::move(f.error()));
    if (f->type == FrameType::kStatusReply || f->type == FrameType::kExit)
      return parse_status(f->payload);
  }
}

}  // namespace zlh::shim
