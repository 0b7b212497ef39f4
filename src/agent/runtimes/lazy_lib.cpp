#include "agent/runtimes/lazy_lib.hpp"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace zlh::agent::runtimes::lazy {

void* library(const char* soname) {
  static std::mutex mu;
  static std::map<std::string, void*> loaded;
  std::lock_guard lk(mu);
  auto it = loaded.find(soname);
  if (it != loaded.end()) return it->second;
  void* h = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  loaded[soname] = h;
  return h;
}

bool available(const char* soname) { return library(soname) != nullptr; }

void* symbol(const char* soname, const char* name) {
  void* h = library(soname);
  void* s = h ? ::dlsym(h, name) : nullptr;
  if (!s) {
    std::fprintf(stderr, "zlh-agent: cannot resolve %s in %s: %s\n", name, soname,
                 h ? "missing symbol" : ::dlerror());
    std::abort();
  }
  return s;
}

}  // namespace zlh::agent::runtimes::lazy
