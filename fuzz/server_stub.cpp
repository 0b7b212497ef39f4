// The fuzz build compiles http/http.cpp without http/server.cpp
// (fuzz/CMakeLists.txt says why), but http.cpp's Router::add_sync refers to
// Responder::send, which lives there. No harness answers a request, so
// this stands in for it and aborts if it is ever reached.
#include <cstdio>
#include <cstdlib>

#include "http/http.hpp"

namespace zlh::http {

void Responder::send(Response) const {
  std::fprintf(stderr, "fuzz: Responder::send reached in the fuzz build\n");
  std::abort();
}

}  // namespace zlh::http
