// A request's long work handed to the TaskRunner, answered from its thread.
// Used by the route tables for installs and power actions.
#pragma once

#include <atomic>
#include <functional>

#include "agent/tasks.hpp"
#include "http/http.hpp"

namespace zlh::agent {

// Runs `task` on `tasks`; when the runner refuses (the agent is stopping),
// answers `res` at once with E_UNAVAILABLE "agent is shutting down". The task
// owns answering `res` otherwise. Thread-safe as TaskRunner::run.
void run_or_refuse(TaskRunner& tasks, const http::Responder& res,
                   std::function<void(const std::atomic<bool>& cancel)> task);

}  // namespace zlh::agent
