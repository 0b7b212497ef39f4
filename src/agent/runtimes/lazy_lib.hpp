// Libraries the agent needs only while installing (libcurl, libarchive) are
// loaded on first use with dlopen, not at start: their load-time
// dependencies (gnutls, p11-kit, icu, krb5, ...) would otherwise cost an idle
// agent several MiB of resident memory in every container.
//
// ZLH_LAZY(lib, fn) defines lz::fn, a forwarder with the library's own
// signature that resolves `fn` in `lib` (an soname) on its first call. Call
// sites use lz::fn(...) (qualified, so argument-dependent lookup cannot pick
// the real symbol). available(lib) tells whether the library can be loaded,
// so callers answer E_UNAVAILABLE instead of failing inside a call.
// Thread-safety: loading and resolution are thread-safe (function-local statics).
#pragma once

namespace zlh::agent::runtimes::lazy {

// dlopen(soname) once; nullptr when it cannot be loaded.
void* library(const char* soname);
bool available(const char* soname);
// dlsym in the library; aborts with a message when missing (a broken install).
void* symbol(const char* soname, const char* name);

}  // namespace zlh::agent::runtimes::lazy

#define ZLH_LAZY(lib, fn)                                                                  \
  template <typename... A>                                                                 \
  inline auto fn(A... a) {                                                                 \
    static auto f =                                                                        \
        reinterpret_cast<decltype(&::fn)>(::zlh::agent::runtimes::lazy::symbol(lib, #fn)); \
    return f(a...);                                                                        \
  }
