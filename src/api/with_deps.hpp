// Route handlers written as plain functions of their feature's deps:
// WithDeps binds each to one shared copy of the deps, which lives as long as
// the longest-lived route that holds it.
// Thread-safety: the copy is const; the handlers run on any thread.
#pragma once

#include <memory>
#include <utility>

#include "http/http.hpp"

namespace zlh::api {

template <class Deps>
class WithDeps {
 public:
  using Handler = http::Response (*)(const Deps&, http::Request&);

  explicit WithDeps(Deps deps) : deps_(std::make_shared<const Deps>(std::move(deps))) {}

  // The route handler that calls f with the deps.
  auto operator()(Handler f) const {
    return [d = deps_, f](http::Request& req) { return f(*d, req); };
  }

  // The shared copy, for handlers of other shapes.
  const std::shared_ptr<const Deps>& shared() const { return deps_; }

 private:
  std::shared_ptr<const Deps> deps_;
};

}  // namespace zlh::api
