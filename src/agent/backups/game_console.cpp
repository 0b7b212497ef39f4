#include "agent/backups/game_console.hpp"

namespace zlh::agent::backups {

using namespace std::chrono_literals;

Result<void> ShimConsole::connect() {
  if (client_.connected()) return {};
  auto c = shim::ShimClient::connect(sock_, 2s);
  if (!c) return fail(std::move(c.error()).wrap("game console"));
  client_ = std::move(*c);
  return {};
}

Result<void> ShimConsole::attach() {
  client_.close();
  if (auto r = connect(); !r) return r;
  // No kAttachScrollback: output printed before this moment is not seen.
  if (auto r = client_.send(shim::FrameType::kAttach, std::string(1, '\0')); !r)
    return fail(std::move(r.error()).wrap("game console: attach"));
  return {};
}

Result<void> ShimConsole::send_line(std::string_view line) {
  if (auto r = connect(); !r) return r;
  std::string payload(line);
  payload += '\n';
  if (auto r = client_.send(shim::FrameType::kInput, payload); !r) {
    client_.close();
    return fail(std::move(r.error()).wrap("game console: send"));
  }
  return {};
}

Result<std::string> ShimConsole::read_output(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left < 0ms) left = 0ms;
    auto f = client_.read_frame(left);
    if (!f) return fail(f.error());
    if (f->type == shim::FrameType::kOutput) return std::move(f->payload);
    if (f->type == shim::FrameType::kExit)
      return fail(codes::kUnavailable, "game console: the server exited");
  }
}

}  // namespace zlh::agent::backups
