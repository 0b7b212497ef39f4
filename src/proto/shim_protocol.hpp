// Wire protocol between zlh-shim (the holder of one service's PTY/pipes,
// docs/design.md §6) and its clients (the agent, tests), plus the status record
// both sides share.
//
// Transport: a unix stream socket. Every message is a frame
//   [u8 type][u32 big-endian payload length][payload]
// with a payload of at most kMaxPayload bytes.
//
// Client -> shim:
//   ATTACH  u8 flags (bit0 kAttachScrollback: send the scrollback first).
//           From then on the client receives every OUTPUT. Output goes to a
//           bounded per-client queue: a client that reads too slowly loses
//           its oldest queued OUTPUT frames; it never blocks the service or
//           the other clients. STATUS/EXIT replies are never dropped.
//   INPUT   raw bytes for the service's PTY (or stdin pipe).
//   RESIZE  u16 cols, u16 rows (big-endian). Ignored in pipe mode.
//   SIGNAL  u8 signal number, sent to the service's process group.
//   STATUS  empty; answered with one STATUS frame.
//   STOP    empty; runs the stop policy (repeating it while stopping is a
//           no-op; after the exit it lets the shim quit now).
// Shim -> client:
//   OUTPUT  raw bytes produced by the service.
//   STATUS  ShimStatus as JSON.
//   EXIT    ShimStatus as JSON, sent to every client when the service exits.
// A malformed frame (unknown type, oversize, bad payload) closes the
// connection.
//
// Thread-safety: Decoder and ShimClient are plain objects, one thread at a
// time each. Free functions are reentrant.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/enum_names.hpp"
#include "base/error.hpp"

namespace zlh::shim {

enum class FrameType : uint8_t {
  kAttach = 0x01,
  kInput = 0x02,
  kResize = 0x03,
  kSignal = 0x04,
  kStatus = 0x05,
  kStop = 0x06,
  kOutput = 0x81,
  kStatusReply = 0x82,
  kExit = 0x83,
};

inline constexpr size_t kHeaderSize = 5;
inline constexpr size_t kMaxPayload = 1 << 20;
inline constexpr uint8_t kAttachScrollback = 0x01;

bool is_known_type(uint8_t type);
std::string_view type_name(FrameType t);  // "ATTACH", "OUTPUT", ... ("?" if unknown)

struct Frame {
  FrameType type{};
  std::string payload;
};

// Header + payload. E_TOO_LARGE when payload exceeds kMaxPayload.
Result<std::string> encode(FrameType type, std::string_view payload);
// Appends the frame to `out`; the caller guarantees payload <= kMaxPayload
// (checked with an assert).
void encode_into(std::string& out, FrameType type, std::string_view payload);

std::string resize_payload(uint16_t cols, uint16_t rows);
struct WindowSize {
  uint16_t cols = 0;
  uint16_t rows = 0;
};
// E_INVALID unless exactly 4 bytes with non-zero cols and rows.
Result<WindowSize> parse_resize(std::string_view payload);

// Incremental frame decoder. feed() buffers partial frames across calls and
// returns the frames completed by `data` (possibly none), in order. An
// unknown type or an announced length over kMaxPayload is E_INVALID /
// E_TOO_LARGE as soon as the header is seen; the decoder then stays failed
// and returns the same error for every later feed().
class Decoder {
 public:
  Result<std::vector<Frame>> feed(std::string_view data);
  // Bytes of an incomplete frame currently buffered.
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  std::string buf_;
  size_t pos_ = 0;
  std::optional<Error> failed_;
};

// What the shim knows about its service: the STATUS/EXIT payload and the
// content of the state file (--state). Times are RFC 3339; *_start_time are
// field 22 of /proc/<pid>/stat (clock ticks after boot), which together with
// the pid identifies a process across pid reuse.
// Where the shim's service is. The wire names are "running", "stopping",
// "exited".
enum class ShimState { kRunning, kStopping, kExited };
inline constexpr EnumNames<ShimState, 3> kShimStateNames{{"running", "stopping", "exited"}};
static_assert(kShimStateNames.covers(ShimState::kExited));
constexpr std::string_view to_string(ShimState s) { return kShimStateNames.name(s); }

struct ShimStatus {
  std::string name;
  pid_t shim_pid = 0;
  uint64_t shim_start_time = 0;
  pid_t pid = 0;  // the service (and its process group); 0 if never started
  uint64_t pid_start_time = 0;
  std::string socket;
  ShimState state = ShimState::kRunning;
  std::optional<int> exit_code;  // set when it exited normally
  std::optional<int> signal;     // set when a signal killed it
  std::string started_at;
  std::string exited_at;                    // empty until exited
  std::optional<bool> graceful;             // set when it exited during a stop
  std::optional<int64_t> stop_duration_ms;  // idem: stop request to exit
  std::string error;                        // set when the shim could not start the service
};

std::string to_json(const ShimStatus& s);
// E_INVALID when `json` is not an object with at least name, pid, state.
Result<ShimStatus> parse_status(std::string_view json);

// Field 22 of /proc/<pid>/stat. E_NOT_FOUND when the process does not exist.
Result<uint64_t> proc_start_time(pid_t pid);

// A blocking client for one shim socket. Owns its fd; closes it on
// destruction. Movable, not copyable.
class ShimClient {
 public:
  ShimClient() = default;
  ~ShimClient();
  ShimClient(ShimClient&& o) noexcept;
  ShimClient& operator=(ShimClient&& o) noexcept;
  ShimClient(const ShimClient&) = delete;
  ShimClient& operator=(const ShimClient&) = delete;

  // Connects to the socket at `path`, retrying while it does not exist or
  // refuses connections (a shim still starting) until `timeout` passes.
  // Then: E_NOT_FOUND (no socket file), E_UNAVAILABLE (refused: no shim
  // behind it), E_INVALID (path too long), E_IO otherwise.
  static Result<ShimClient> connect(const std::string& path, std::chrono::milliseconds timeout);

  // Writes one whole frame. E_TIMEOUT when the shim does not take it within
  // `timeout` (the connection is then unusable: part of a frame may be
  // sent), E_UNAVAILABLE when the shim closed the connection.
  Result<void> send(FrameType type, std::string_view payload = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Next frame. E_TIMEOUT when none completes within `timeout` (partial data
  // is kept; calling again continues), E_UNAVAILABLE on end of stream,
  // E_INVALID/E_TOO_LARGE on a malformed stream, E_IO on socket errors.
  Result<Frame> read_frame(std::chrono::milliseconds timeout);

  // Sends STATUS and returns the reply, skipping (discarding) any OUTPUT
  // frames that arrive first; an EXIT frame is returned as well.
  Result<ShimStatus> status(std::chrono::milliseconds timeout = std::chrono::seconds(5));

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void close();

 private:
  explicit ShimClient(int fd) : fd_(fd) {}
  int fd_ = -1;
  Decoder decoder_;
  std::vector<Frame> pending_;  // decoded but not yet returned, in order
  size_t pending_pos_ = 0;
};

}  // namespace zlh::shim
