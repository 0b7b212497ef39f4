// What the harnesses that work on a real temporary tree share: listing a
// directory, and the canary outside the tree a harness works in (outside/
// holding one file "secret", 0644, one link, content "secret") that must
// come through every input untouched.
// Thread-safety: plain functions; libFuzzer calls a harness on one thread.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"

namespace zlh::fuzz {

inline std::set<std::string> names(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.insert(e.path().filename());
  return out;
}

// Breaks an invariant unless `outside` holds exactly the untouched secret.
inline void check_secret_untouched(const std::string& outside) {
  ZLH_FUZZ_CHECK((names(outside) == std::set<std::string>{"secret"}), "outside/ changed");
  struct stat st {};
  ZLH_FUZZ_CHECK(::lstat((outside + "/secret").c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
                     st.st_nlink == 1 && st.st_size == 6 && (st.st_mode & 07777) == 0644,
                 "outside/secret changed");
  int fd = ::open((outside + "/secret").c_str(), O_RDONLY | O_CLOEXEC);
  char buf[8] = {};
  ZLH_FUZZ_CHECK(
      fd >= 0 && ::read(fd, buf, sizeof buf) == 6 && std::string_view(buf, 6) == "secret",
      "outside/secret's content changed");
  ::close(fd);
}

}  // namespace zlh::fuzz
