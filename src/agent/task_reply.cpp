#include "agent/task_reply.hpp"

namespace zlh::agent {

void run_or_refuse(TaskRunner& tasks, const http::Responder& res,
                   std::function<void(const std::atomic<bool>& cancel)> task) {
  if (!tasks.run(std::move(task)))
    res.send_error(Error::make(codes::kUnavailable, "agent is shutting down"));
}

}  // namespace zlh::agent
