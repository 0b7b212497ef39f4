// Internal to the proxy: its per-thread memory. Request and tunnel
// buffers, the fields Beast keeps of upstream responses, and each request's
// larger state are taken from per-thread free lists, so a warm proxied
// request calls no malloc (bench/ide.sh: CPU per request).
#pragma once

#include <array>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

namespace zlh::http::detail {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

constexpr size_t kChunk = 64 * 1024;        // one per request in flight
constexpr size_t kTunnelChunk = 16 * 1024;  // leased per burst, none while idle

// Buffers from a per-thread free list, so a request or a tunnel burst does
// not go to malloc for its 16 or 64 KiB (a coroutine may give one back on
// another io thread: it then joins that thread's list). Taken lazily, so an
// idle tunnel or a bodiless request holds none.
template <size_t N>
class Lease {
 public:
  Lease() = default;
  ~Lease() { release(); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  char* data() {
    if (!buf_) {
      auto& fl = freelist();
      if (!fl.empty()) {
        buf_ = std::move(fl.back());
        fl.pop_back();
      } else {
        buf_.reset(new char[N]);
      }
    }
    return buf_.get();
  }
  bool held() const { return bool(buf_); }
  void release() {
    if (!buf_) return;
    auto& fl = freelist();
    if (fl.size() < 32) fl.push_back(std::move(buf_));
    buf_.reset();
  }

 private:
  static std::vector<std::unique_ptr<char[]>>& freelist() {
    thread_local std::vector<std::unique_ptr<char[]>> fl;
    return fl;
  }
  std::unique_ptr<char[]> buf_;
};
using ChunkLease = Lease<kTunnelChunk>;
using BodyChunk = Lease<kChunk>;

// Memory for the header fields Beast keeps of an upstream response (one
// small block per field, about six per response): per-thread free lists by
// size class, so a response's fields cost no malloc once warm. Larger
// blocks, and blocks past a list's cap, go to the heap as usual.
class FieldBlocks {
 public:
  static void* get(size_t n) {
    if (size_t c = size_class(n); c < kClasses.size()) {
      auto& l = lists()[c];
      if (!l.empty()) {
        void* p = l.back();
        l.pop_back();
        return p;
      }
      return ::operator new(kClasses[c]);
    }
    return ::operator new(n);
  }
  static void put(void* p, size_t n) noexcept {
    if (size_t c = size_class(n); c < kClasses.size()) {
      auto& l = lists()[c];
      if (l.size() < kKeep) {
        l.push_back(p);
        return;
      }
      ::operator delete(p, kClasses[c]);
      return;
    }
    ::operator delete(p, n);
  }

 private:
  static constexpr std::array<size_t, 4> kClasses{64, 128, 256, 512};
  static constexpr size_t kKeep = 256;
  static size_t size_class(size_t n) {
    size_t c = 0;
    while (c < kClasses.size() && n > kClasses[c]) ++c;
    return c;
  }
  struct Lists {
    std::array<std::vector<void*>, 4> l;
    ~Lists() {
      for (size_t c = 0; c < l.size(); ++c)
        for (void* p : l[c]) ::operator delete(p, kClasses[c]);
    }
  };
  static std::array<std::vector<void*>, 4>& lists() {
    thread_local Lists ls;
    return ls.l;
  }
};

template <typename T>
struct FieldAllocator {
  using value_type = T;
  FieldAllocator() = default;
  template <typename U>
  FieldAllocator(const FieldAllocator<U>&) noexcept {}
  T* allocate(size_t n) { return static_cast<T*>(FieldBlocks::get(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { FieldBlocks::put(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const FieldAllocator<U>&) const noexcept {
    return true;
  }
  template <typename U>
  bool operator!=(const FieldAllocator<U>&) const noexcept {
    return false;
  }
};
static_assert(alignof(std::max_align_t) >= 16);

// A proxied request's larger state, kept off run_proxy's coroutine frame.
// Asio recycles coroutine frames only up to about 1 KiB; a bigger frame
// goes to malloc each time and, on its way, pushes the small frames of
// read_head() and of the handlers out of Asio's per-thread cache (IDE
// bench: four aligned_alloc/free pairs per request with a 3.8 KiB frame).
// Taken from a per-thread free list and given back cleared, so the head
// strings and the read buffer keep their capacity from one request to the
// next. One whose buffers grew past kKeepBytes is freed instead.
// The parser of an upstream's response: the body goes into a caller's
// buffer (BodyChunk), the fields into the per-thread FieldAllocator.
using ResponseParser = bhttp::parser<false, bhttp::buffer_body, FieldAllocator<char>>;

struct ProxyScratch {
  std::string uhead;        // the request head sent upstream
  std::string chead;        // the response head sent to the client
  beast::flat_buffer ubuf;  // bytes read from the upstream
  std::optional<ResponseParser> rp;
};

class ScratchLease {
 public:
  static constexpr size_t kKeepBytes = 16 * 1024;
  ScratchLease() {
    auto& l = list();
    if (l.empty()) {
      p_ = std::make_unique<ProxyScratch>();
    } else {
      p_ = std::move(l.back());
      l.pop_back();
    }
  }
  ~ScratchLease() {
    auto& l = list();
    if (l.size() < 32 && p_->uhead.capacity() <= kKeepBytes && p_->chead.capacity() <= kKeepBytes &&
        p_->ubuf.capacity() <= kKeepBytes) {
      p_->uhead.clear();
      p_->chead.clear();
      p_->ubuf.clear();
      p_->rp.reset();
      l.push_back(std::move(p_));
    }
  }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  ProxyScratch& operator*() { return *p_; }

 private:
  static std::vector<std::unique_ptr<ProxyScratch>>& list() {
    thread_local std::vector<std::unique_ptr<ProxyScratch>> l;
    return l;
  }
  std::unique_ptr<ProxyScratch> p_;
};

}  // namespace zlh::http::detail
