// The one path resolver (base/safe_path.hpp) and the /files operations on
// top of it (agent/files/file_store.hpp), on a real tree with symlinks that
// lead inside and outside the root, absolute and relative, dangling and
// looping.
//
// Input: an operation byte, a flag byte, then one path (or two, separated
// by a newline, for rename and delete) as a client would send it.
//
// Invariants: every descriptor a call returns refers to the root or
// something beneath it (/proc/self/fd); nothing next to the root changes
// (the tree's base holds only root/ and outside/, outside/ only its secret,
// with one link, its size and content); errors carry the codes the
// headers list; normalize_relative gives a clean path that normalizes to
// itself, and user_path agrees with it; check_file_name passes only plain
// names. Operations that change the tree are followed by a rebuild, so each
// input starts from the same tree.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <vector>

#include "agent/files/file_store.hpp"
#include "base/safe_path.hpp"
#include "fuzz_input.hpp"
#include "fuzz_tree.hpp"

namespace fs = std::filesystem;
namespace files = zlh::agent::files;
namespace sp = zlh::safe_path;

namespace {

std::string g_base, g_root, g_outside;
sp::UniqueFd g_root_fd;
std::optional<files::FileStore> g_store;

void write_file(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || ::write(fd, data.data(), data.size()) != ssize_t(data.size()))
    zlh::fuzz::broken("setup write", path);
  ::close(fd);
}

void link(const std::string& target, const std::string& at) {
  if (::symlink(target.c_str(), (g_root + "/" + at).c_str()) != 0)
    zlh::fuzz::broken("setup symlink", at);
}

// root/ as every input finds it.
void build_root() {
  std::error_code ec;
  fs::remove_all(g_root, ec);
  fs::create_directories(g_root + "/dir/sub");
  write_file(g_root + "/file.txt", "hello");
  write_file(g_root + "/dir/sub/deep.txt", "deep");
  link("../file.txt", "dir/in_link");     // inside, relative
  link("sub", "dir/sub_link");            // inside, a directory
  link("..", "dir/parent");               // inside: the root itself
  link("../..", "dir/up");                // outside: the base
  link("../../outside", "dir/up_out");    // outside, through a second level
  link("../outside", "out");              // outside, relative
  link("../outside/secret", "out_file");  // outside, a file
  link(g_outside, "abs");                 // outside, absolute
  link(g_root + "/dir", "abs_in");        // absolute, though it names the inside
  link("/proc/self/root", "magic");       // a magic link
  link("loop", "loop");
  link("nowhere/x", "dangling");
  link(".", "dot");
  g_root_fd.reset(::open(g_root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!g_root_fd.valid()) zlh::fuzz::broken("setup open root");
  g_store.reset();
  auto s = files::FileStore::open(g_root, std::nullopt);
  if (!s) zlh::fuzz::broken("setup FileStore::open", s.error().to_string());
  g_store.emplace(std::move(*s));
}

void check_outside_untouched() {
  ZLH_FUZZ_CHECK((zlh::fuzz::names(g_base) == std::set<std::string>{"outside", "root"}),
                 "the base changed");
  zlh::fuzz::check_secret_untouched(g_outside);
}

// The descriptor names the root or something beneath it.
void check_beneath(int fd, std::string_view what) {
  char buf[4096];
  ssize_t n = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), buf, sizeof buf - 1);
  ZLH_FUZZ_CHECK(n > 0, std::string(what));
  std::string_view p(buf, size_t(n));
  ZLH_FUZZ_CHECK(p == g_root || (p.starts_with(g_root) && p[g_root.size()] == '/'),
                 std::string(what) + " resolved to " + std::string(p));
}

void check_error(const zlh::Error& e) {
  ZLH_FUZZ_CHECK(e.is(zlh::codes::kBadPath) || e.is(zlh::codes::kNotFound) ||
                     e.is(zlh::codes::kIo) || e.is(zlh::codes::kConflict) ||
                     e.is(zlh::codes::kInvalid),
                 e.to_string());
}

bool clean(std::string_view p) {
  if (p.empty()) return true;
  if (p.front() == '/' || p.back() == '/' || p.find('\0') != std::string_view::npos ||
      p.find('\\') != std::string_view::npos || p.find("//") != std::string_view::npos)
    return false;
  for (size_t i = 0; i <= p.size();) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    auto seg = p.substr(i, j - i);
    if (seg == "." || seg == "..") return false;
    i = j + 1;
  }
  return true;
}

constexpr int kFlags[] = {O_RDONLY,
                          O_PATH,
                          O_RDONLY | O_DIRECTORY,
                          O_PATH | O_NOFOLLOW,
                          O_RDONLY | O_NOFOLLOW,
                          O_WRONLY | O_CREAT,
                          O_RDWR | O_CREAT | O_EXCL,
                          O_WRONLY | O_TRUNC};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_base = zlh::fuzz::scratch_dir("safepath");
  g_root = g_base + "/root";
  g_outside = g_base + "/outside";
  fs::create_directories(g_outside);
  write_file(g_outside + "/secret", "secret");
  build_root();
  std::atexit([] {
    g_store.reset();
    g_root_fd.reset();
    std::error_code ec;
    fs::remove_all(g_base, ec);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zlh::fuzz::Input in(data, size);
  const uint8_t op = in.front_byte();
  const uint8_t flag = in.front_byte();
  std::string p1(in.until("\n"));
  std::string p2(in.rest());
  const bool allow_empty = flag & 1;
  bool mutates = false;

  switch (op % 11) {
    case 0: {
      auto n = sp::normalize_relative(p1, allow_empty);
      if (!n) {
        ZLH_FUZZ_CHECK(n.error().is(zlh::codes::kBadPath), n.error().to_string());
        break;
      }
      ZLH_FUZZ_CHECK(clean(*n) && (allow_empty || !n->empty()), *n);
      auto again = sp::normalize_relative(*n, allow_empty);
      ZLH_FUZZ_CHECK(again && *again == *n, *n);
      break;
    }
    case 1: {
      auto u = files::user_path(p1, allow_empty);
      auto n = sp::normalize_relative(p1, allow_empty);
      if (u) ZLH_FUZZ_CHECK(n && *n == *u, *u);
      if (!n) ZLH_FUZZ_CHECK(!u);
      if (!u) ZLH_FUZZ_CHECK(u.error().is(zlh::codes::kBadPath), u.error().to_string());
      break;
    }
    case 2: {
      const int flags = kFlags[flag % std::size(kFlags)];
      mutates = (flags & (O_CREAT | O_TRUNC)) != 0;
      auto fd = sp::open_beneath(g_root_fd.get(), p1, flags, 0644);
      if (!fd) {
        check_error(fd.error());
        break;
      }
      sp::UniqueFd owned(*fd);
      check_beneath(owned.get(), "open_beneath " + p1);
      break;
    }
    case 3: {
      const bool create = flag & 2;
      mutates = create;
      auto r = sp::open_parent_beneath(g_root_fd.get(), p1, create);
      if (!r) {
        check_error(r.error());
        break;
      }
      sp::UniqueFd dir(r->first);
      check_beneath(dir.get(), "open_parent_beneath " + p1);
      ZLH_FUZZ_CHECK(!r->second.empty() && r->second.find('/') == std::string::npos, r->second);
      break;
    }
    case 4: {
      mutates = true;
      if (auto r = sp::mkdirs_beneath(g_root_fd.get(), p1); !r) check_error(r.error());
      break;
    }
    case 5: {
      if (auto r = g_store->list(p1); !r) check_error(r.error());
      break;
    }
    case 6: {
      auto r = g_store->open_read(p1);
      if (!r) {
        check_error(r.error());
        break;
      }
      check_beneath(r->fd.get(), "open_read " + p1);
      break;
    }
    case 7: {
      mutates = true;
      if (auto r = g_store->mkdir(p1); !r) check_error(r.error());
      break;
    }
    case 8: {
      mutates = true;
      if (auto r = g_store->rename(p1, p2); !r) check_error(r.error());
      break;
    }
    case 9: {
      mutates = true;
      std::vector<std::string> rels{p1};
      if (!p2.empty()) rels.push_back(p2);
      if (auto r = g_store->remove(rels); !r) check_error(r.error());
      break;
    }
    case 10: {
      auto r = files::check_file_name(p1);
      if (r)
        ZLH_FUZZ_CHECK(!p1.empty() && p1 != "." && p1 != ".." && p1.size() <= 255 &&
                           p1.find_first_of(std::string_view("/\\\0", 3)) == std::string::npos,
                       p1);
      break;
    }
  }
  check_outside_untouched();
  if (mutates) build_root();
  return 0;
}
