// bench/backup.sh: the agent's backup archiver (files/tar_stream.hpp, the
// engine behind GET /backups/archive) over one tree, read to the end the way
// the HTTP layer pulls it. Prints one JSON line: bytes out, seconds, MB/s of
// input, and the process's peak RSS, so the script can put it next to
// `tar | zstd` of the same tree.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "agent/files/tar_stream.hpp"

using namespace zlh;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: zlh-backup-bench DIR INPUT_BYTES\n";
    return 2;
  }
  safe_path::UniqueFd dir(::open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    std::perror(argv[1]);
    return 1;
  }
  const double input = std::stod(argv[2]);
  const auto t0 = std::chrono::steady_clock::now();
  auto s = agent::files::TarStream::open_flat(dir.get(), "", std::nullopt,
                                              agent::files::Compression::kZstd);
  if (!s) {
    std::cerr << s.error().to_string() << "\n";
    return 1;
  }
  std::vector<char> buf(64 * 1024);  // what the HTTP layer asks for at a time
  uint64_t out = 0;
  for (;;) {
    auto n = (*s)->read(buf.data(), buf.size());
    if (!n) {
      std::cerr << n.error().to_string() << "\n";
      return 1;
    }
    if (*n == 0) break;
    out += *n;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  std::cout << nlohmann::json{{"bytes_out", out},
                              {"seconds", secs},
                              {"mb_per_s", input / secs / 1e6},
                              {"max_rss_kib", ru.ru_maxrss}}
                   .dump()
            << "\n";
  return 0;
}
