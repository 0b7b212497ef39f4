#include "api/drivers/lxc/lxc_host.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/fs.hpp"
#include "base/process.hpp"
#include "base/safe_path.hpp"
#include "proto/base_accounts.hpp"

namespace zlh::api::drivers::lxc {

using namespace std::chrono_literals;

namespace {

// A host tool, with a fixed PATH and no shell. E_IO with its output when it fails.
Result<std::string> run_tool(std::vector<std::string> argv,
                             std::chrono::milliseconds timeout = 30s) {
  process::SpawnOptions o;
  o.argv = std::move(argv);
  o.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"};
  auto r = process::run(o, timeout, 256 * 1024);
  if (!r) return fail(r.error());
  std::string out = r->output;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  if (r->timed_out) return fail(codes::kIo, o.argv[0] + ": timed out");
  if (r->exit_code != 0)
    return fail(codes::kIo, o.argv[0] + " " + (o.argv.size() > 1 ? o.argv[1] + " " : "") +
                                "failed (exit " + std::to_string(r->exit_code) +
                                "): " + out.substr(0, 600));
  return out;
}

// Writes into a container's rootfs, which its root controls once it ran: a
// planted symlink (etc -> /, etc/hosts -> /etc/shadow) must never make the
// host's root write, chown or read outside it. Every operation is relative
// to a directory fd of the rootfs and resolved with safe_path (openat2,
// RESOLVE_BENEATH: absolute and escaping links refused); final components
// are replaced by rename or created with O_EXCL/O_NOFOLLOW, and ownership
// and modes are set on the opened fd, never through a path.
struct RootWriter {
  int root = -1;  // O_PATH directory fd of the rootfs (borrowed)
  uint32_t owner = 0;

  Result<void> fix(int fd, mode_t mode, const std::string& rel) const {
    if (::fchown(fd, owner, owner) != 0) return fail(Error::from_errno("chown " + rel, errno));
    if (::fchmod(fd, mode) != 0) return fail(Error::from_errno("chmod " + rel, errno));
    return {};
  }
  Result<void> mkdir(const std::string& rel, mode_t mode) const {
    auto parent = safe_path::open_parent_beneath(root, rel, false);
    if (!parent) return fail(parent.error().wrap("mkdir " + rel));
    safe_path::UniqueFd dir(parent->first);
    if (::mkdirat(dir.get(), parent->second.c_str(), 0700) != 0 && errno != EEXIST)
      return fail(Error::from_errno("mkdir " + rel, errno));
    int fd = ::openat(dir.get(), parent->second.c_str(),
                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
      return fail(Error::from_errno("open " + rel, errno));  // a planted symlink: ELOOP/ENOTDIR
    safe_path::UniqueFd d(fd);
    return fix(d.get(), mode, rel);
  }
  Result<void> write(const std::string& rel, std::string_view data, mode_t mode) const {
    auto parent = safe_path::open_parent_beneath(root, rel, false);
    if (!parent) return fail(parent.error().wrap("write " + rel));
    safe_path::UniqueFd dir(parent->first);
    const std::string tmp = "." + parent->second + ".zlh-tmp";
    ::unlinkat(dir.get(), tmp.c_str(), 0);
    int fd = ::openat(dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      0600);
    if (fd < 0) return fail(Error::from_errno("create " + rel, errno));
    safe_path::UniqueFd f(fd);
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(f.get(), data.data() + off, data.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int e = errno;
        ::unlinkat(dir.get(), tmp.c_str(), 0);
        return fail(Error::from_errno("write " + rel, e));
      }
      off += size_t(n);
    }
    if (auto r = fix(f.get(), mode, rel); !r) {
      ::unlinkat(dir.get(), tmp.c_str(), 0);
      return r;
    }
    // Replaces whatever is there (a symlink included: the link, not its target).
    if (::renameat(dir.get(), tmp.c_str(), dir.get(), parent->second.c_str()) != 0) {
      int e = errno;
      ::unlinkat(dir.get(), tmp.c_str(), 0);
      return fail(Error::from_errno("rename " + rel, e));
    }
    return {};
  }
  Result<void> symlink(const std::string& rel, const std::string& target) const {
    auto parent = safe_path::open_parent_beneath(root, rel, false);
    if (!parent) return fail(parent.error().wrap("symlink " + rel));
    safe_path::UniqueFd dir(parent->first);
    ::unlinkat(dir.get(), parent->second.c_str(), 0);
    if (::symlinkat(target.c_str(), dir.get(), parent->second.c_str()) != 0)
      return fail(Error::from_errno("symlink " + rel, errno));
    if (::fchownat(dir.get(), parent->second.c_str(), owner, owner, AT_SYMLINK_NOFOLLOW) != 0)
      return fail(Error::from_errno("chown " + rel, errno));
    return {};
  }
  bool exists(const std::string& rel) const {
    auto fd = safe_path::open_beneath(root, rel, O_PATH | O_NOFOLLOW);
    if (!fd) return false;
    ::close(*fd);
    return true;
  }

  // Copies host path `src` to `rel` (a file, a symlink as a symlink, a
  // directory recursively), modes kept. Sockets, fifos and devices are
  // skipped; a missing `src` is fine.
  Result<void> copy(const std::string& src, const std::string& rel, int depth = 0) const {
    struct stat st {};
    if (::lstat(src.c_str(), &st) != 0) return {};
    if (depth > 32) return fail(codes::kIo, "copy " + src + ": too deep");
    if (S_ISLNK(st.st_mode)) {
      std::string target(4096, '\0');
      ssize_t n = ::readlink(src.c_str(), target.data(), target.size());
      if (n < 0) return fail(Error::from_errno("readlink " + src, errno));
      target.resize(size_t(n));
      return symlink(rel, target);
    }
    if (S_ISDIR(st.st_mode)) {
      if (auto r = mkdir(rel, st.st_mode & 07777); !r) return r;
      DIR* d = ::opendir(src.c_str());
      if (!d) return fail(Error::from_errno("opendir " + src, errno));
      std::vector<std::string> names;
      while (dirent* e = ::readdir(d))
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
          names.push_back(e->d_name);
      ::closedir(d);
      for (const auto& n : names)
        if (auto r = copy(src + "/" + n, rel + "/" + n, depth + 1); !r) return r;
      return {};
    }
    if (!S_ISREG(st.st_mode)) return {};
    auto data = fs::read_file(src, 64 << 20);
    if (!data) return {};  // unreadable host file (e.g. 0600 of another user): not needed inside
    return write(rel, *data, st.st_mode & 07777);
  }
};

// /etc entries the host's /usr needs inside a container (the Precisions of
// issue 19): copied from the host at create.
const char* const kEtcCopies[] = {"alternatives",
                                  "ssl",
                                  "ca-certificates",
                                  "ca-certificates.conf",
                                  "ld.so.cache",
                                  "ld.so.conf",
                                  "ld.so.conf.d",
                                  "login.defs",
                                  "skel",
                                  "profile",
                                  "profile.d",
                                  "bash.bashrc",
                                  "nsswitch.conf",
                                  "environment",
                                  "shells",
                                  "inputrc",
                                  "adduser.conf",
                                  "deluser.conf",
                                  "default",
                                  "debian_version",
                                  "os-release",
                                  "host.conf",
                                  "gai.conf",
                                  "protocols",
                                  "services",
                                  "networks",
                                  "mime.types",
                                  "localtime",
                                  "timezone",
                                  "terminfo",
                                  "pam.conf",
                                  "pam.d",
                                  "security",
                                  "perl",
                                  "magic",
                                  "magic.mime",
                                  "mke2fs.conf",
                                  "locale.alias",
                                  "issue"};

}  // namespace

// ---- images and mounts ----

Result<void> make_image(const std::string& path, int gb, uint32_t owner) {
  if (::access(path.c_str(), F_OK) == 0) return {};
  if (gb < 1) return fail(codes::kInvalid, "image size must be at least 1 GiB");
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  {
    safe_path::UniqueFd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (f.get() < 0) return fail(Error::from_errno("create " + tmp, errno));
    if (::ftruncate(f.get(), off_t(gb) * 1024 * 1024 * 1024) != 0)
      return fail(Error::from_errno("size " + tmp, errno));
  }
  const std::string ids = std::to_string(owner) + ":" + std::to_string(owner);
  // No reserved blocks (the whole size is the tenant's), no journal
  // discard wait, and the root directory already the container's.
  if (auto r = run_tool(
          {"mkfs.ext4", "-q", "-F", "-m", "0", "-E", "root_owner=" + ids + ",nodiscard", tmp},
          120s);
      !r) {
    ::unlink(tmp.c_str());
    return fail(r.error().wrap("format image"));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return fail(Error::from_errno("rename " + tmp, errno));
  return fs::fsync_dir(path.substr(0, path.rfind('/')));
}

Result<bool> is_mount_point(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return fail(codes::kIo, "cannot read /proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string id, parent, devno, root, mnt;
    ls >> id >> parent >> devno >> root >> mnt;
    // mountinfo escapes spaces as \040; our paths never hold one (checked).
    if (mnt == dir) return true;
  }
  return false;
}

Result<void> mount_image(const std::string& image, const std::string& dir) {
  auto mounted = is_mount_point(dir);
  if (!mounted) return fail(mounted.error());
  if (*mounted) return {};
  safe_path::UniqueFd img(::open(image.c_str(), O_RDWR | O_CLOEXEC));
  if (img.get() < 0) return fail(Error::from_errno("open " + image, errno));
  safe_path::UniqueFd ctl(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (ctl.get() < 0) return fail(Error::from_errno("open /dev/loop-control", errno));
  // Another mount may take the free device between the two calls: retry.
  for (int attempt = 0; attempt < 16; ++attempt) {
    int n = ::ioctl(ctl.get(), LOOP_CTL_GET_FREE);
    if (n < 0) return fail(Error::from_errno("get a free loop device", errno));
    std::string dev = "/dev/loop" + std::to_string(n);
    safe_path::UniqueFd loop(::open(dev.c_str(), O_RDWR | O_CLOEXEC));
    if (loop.get() < 0) return fail(Error::from_errno("open " + dev, errno));
    loop_config cfg{};
    cfg.fd = uint32_t(img.get());
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
    if (::ioctl(loop.get(), LOOP_CONFIGURE, &cfg) != 0) {
      if (errno == EBUSY) continue;
      cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;  // no direct I/O on this filesystem
      if (::ioctl(loop.get(), LOOP_CONFIGURE, &cfg) != 0) {
        if (errno == EBUSY) continue;
        return fail(Error::from_errno("configure " + dev, errno));
      }
    }
    if (::mount(dev.c_str(), dir.c_str(), "ext4", MS_NOSUID | MS_NODEV, "") != 0) {
      int e = errno;
      ::ioctl(loop.get(), LOOP_CLR_FD, 0);
      return fail(Error::from_errno("mount " + image + " on " + dir, e));
    }
    // The loop device now lives as long as the mount (autoclear).
    return {};
  }
  return fail(codes::kIo, "mount " + image + ": no free loop device");
}

Result<void> unmount(const std::string& dir) {
  for (int i = 0; i < 8; ++i) {
    auto m = is_mount_point(dir);
    if (!m) return fail(m.error());
    if (!*m) return {};
    if (::umount2(dir.c_str(), UMOUNT_NOFOLLOW) == 0) continue;
    if (errno == EINVAL || errno == ENOENT) return {};
    if (errno == EBUSY) {
      if (::umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) continue;
    }
    return fail(Error::from_errno("unmount " + dir, errno));
  }
  return fail(codes::kIo, "unmount " + dir + ": still mounted");
}

std::vector<std::string> upstream_resolvers(const std::string& resolv_conf,
                                            const std::string& resolved_conf) {
  auto parse = [](const std::string& path) {
    std::vector<std::string> out;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string k, v;
      ls >> k >> v;
      if (k == "nameserver" && !v.empty()) out.push_back(v);
    }
    return out;
  };
  auto loopback = [](const std::string& a) { return a.rfind("127.", 0) == 0 || a == "::1"; };
  std::vector<std::string> out;
  bool stub = false;
  for (auto& a : parse(resolv_conf)) {
    if (loopback(a))
      stub = true;
    else
      out.push_back(a);
  }
  if (stub)
    for (auto& a : parse(resolved_conf))
      if (!loopback(a)) out.push_back(a);
  return out;
}

Result<void> populate_rootfs(const Skeleton& s) {
  int rfd = ::open(s.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0) return fail(Error::from_errno("open " + s.rootfs, errno));
  safe_path::UniqueFd root(rfd);
  const RootWriter w{root.get(), s.owner};
  if (auto x = w.mkdir("etc", 0755); !x) return x;
  if (auto x = w.mkdir("etc/zlh", 0755); !x) return x;
  if (!w.exists("etc/zlh/.skeleton")) {
    for (const char* d : {"etc/zlh/keys", "home", "opt", "opt/zlh-agent", "opt/zlh-agent/bin",
                          "var", "var/log", "var/lib", "var/cache", "var/spool", "srv", "mnt",
                          "media", "proc", "sys", "dev", "usr", "run"})
      if (auto x = w.mkdir(d, 0755); !x) return x;
    if (auto x = w.mkdir("root", 0700); !x) return x;
    if (auto x = w.mkdir("tmp", 01777); !x) return x;
    if (auto x = w.mkdir("var/tmp", 01777); !x) return x;
    // merged-usr: the host's top-level links into /usr, as they are.
    for (const char* l : {"bin", "sbin", "lib", "lib32", "lib64", "libx32"}) {
      std::string host = std::string("/") + l;
      struct stat st {};
      if (::lstat(host.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
        if (auto x = w.copy(host, l); !x) return x;
    }
    for (const char* e : kEtcCopies)
      if (auto x = w.copy(s.etc + "/" + e, std::string("etc/") + e); !x) return x;
    // java-*, python3*: configuration the host's runtimes read.
    if (DIR* d = ::opendir(s.etc.c_str())) {
      std::vector<std::string> extra;
      while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n.rfind("java-", 0) == 0 || n.rfind("python3", 0) == 0) extra.push_back(n);
      }
      ::closedir(d);
      for (const auto& n : extra)
        if (auto x = w.copy(s.etc + "/" + n, "etc/" + n); !x) return x;
    }
    // Accounts: root only (the agent adds dev), and the groups useradd expects.
    for (const auto& a : proto::kBaseAccountFiles)
      if (auto x = w.write(std::string("etc/") + a.name, a.text, a.mode); !x) return x;
    if (auto x = w.symlink("etc/mtab", "../proc/self/mounts"); !x) return x;
    std::string resolv = "# the host's upstream resolvers, reached through NAT\n";
    for (auto& a : upstream_resolvers()) resolv += "nameserver " + a + "\n";
    if (auto x = w.write("etc/resolv.conf", resolv, 0644); !x) return x;
    for (const auto& t : s.bind_targets)
      if (!w.exists(t))
        if (auto x = w.write(t, "", 0644); !x) return x;
    if (auto x = w.write("etc/zlh/.skeleton", "", 0644); !x) return x;
  }
  if (auto x = w.write("etc/hostname", s.hostname + "\n", 0644); !x) return x;
  if (auto x = w.write(
          "etc/hosts",
          "127.0.0.1\tlocalhost\n127.0.1.1\t" + s.hostname + "\n::1\tlocalhost ip6-localhost\n",
          0644);
      !x)
    return x;
  return w.write("etc/zlh/agent.toml", s.agent_toml, 0644);
}

Result<std::string> read_tail_beneath(const std::string& rootfs, const std::string& rel,
                                      size_t max_bytes) {
  int rfd = ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0) return fail(Error::from_errno("open " + rootfs, errno));
  safe_path::UniqueFd root(rfd);
  auto fd = safe_path::open_beneath(root.get(), rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  if (!fd) return fail(fd.error());
  safe_path::UniqueFd f(*fd);
  struct stat st {};
  if (::fstat(f.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return fail(codes::kBadPath, rel + ": not a file");
  off_t from = st.st_size > off_t(max_bytes) ? st.st_size - off_t(max_bytes) : 0;
  std::string out(size_t(st.st_size - from), '\0');
  ssize_t n = ::pread(f.get(), out.data(), out.size(), from);
  if (n < 0) return fail(Error::from_errno("read " + rel, errno));
  out.resize(size_t(n));
  return out;
}

// ---- network ----

bool link_exists(const std::string& name) {
  return ::access(("/sys/class/net/" + name).c_str(), F_OK) == 0;
}

Result<void> ensure_bridge(const std::string& name, const std::string& address) {
  if (!link_exists(name))
    if (auto r = run_tool({"ip", "link", "add", "name", name, "type", "bridge"});
        !r && !link_exists(name))
      return fail(r.error().wrap("create bridge " + name));
  auto addrs = run_tool({"ip", "-o", "-4", "addr", "show", "dev", name});
  if (!addrs) return fail(addrs.error());
  if (addrs->find(" " + address + " ") == std::string::npos)
    if (auto r = run_tool({"ip", "addr", "replace", address, "dev", name}); !r)
      return fail(r.error());
  if (auto r = run_tool({"ip", "link", "set", "dev", name, "up"}); !r) return fail(r.error());
  return {};
}

Result<void> delete_bridge(const std::string& name) {
  if (!link_exists(name)) return {};
  if (auto r = run_tool({"ip", "link", "del", "dev", name}); !r && link_exists(name))
    return fail(r.error());
  return {};
}

Result<void> nft_apply(const std::string& script) {
  char tmpl[] = "/tmp/zlh-nft-XXXXXX";
  int fd = ::mkstemp(tmpl);
  if (fd < 0) return fail(Error::from_errno("nft script", errno));
  bool ok = ::write(fd, script.data(), script.size()) == ssize_t(script.size());
  ::close(fd);
  Result<std::string> r = ok ? run_tool({"nft", "-f", tmpl}) : fail(codes::kIo, "write nft script");
  ::unlink(tmpl);
  if (!r) return fail(r.error().wrap("nftables"));
  return {};
}

Result<std::string> nft_list(const std::string& table) {
  auto r = run_tool({"nft", "list", "table", "inet", table});
  if (!r) return fail(codes::kNotFound, "nft table inet " + table + " missing");
  return r;
}

Result<void> nft_delete(const std::string& table) {
  if (!nft_list(table)) return {};
  if (auto r = run_tool({"nft", "delete", "table", "inet", table}); !r) return fail(r.error());
  return {};
}

Result<bool> enable_ip_forward() {
  const char* p = "/proc/sys/net/ipv4/ip_forward";
  auto cur = fs::read_file(p, 16);
  if (cur && !cur->empty() && (*cur)[0] == '1') return false;
  safe_path::UniqueFd f(::open(p, O_WRONLY | O_CLOEXEC));
  if (f.get() < 0 || ::write(f.get(), "1", 1) != 1)
    return fail(Error::from_errno("enable ip_forward", errno));
  return true;
}

std::vector<std::string> foreign_forward_drops(const std::string& own_table) {
  std::vector<std::string> out;
  auto r = run_tool({"nft", "list", "ruleset"});
  if (!r) return out;
  std::istringstream in(*r);
  std::string line, table;
  while (std::getline(in, line)) {
    auto t = line.find("table ");
    if (t == 0) table = line.substr(6, line.find(" {") - 6);
    if (line.find("hook forward") != std::string::npos &&
        line.find("policy drop") != std::string::npos && table != "inet " + own_table)
      out.push_back(table);
  }
  return out;
}

// ---- subordinate ids ----

std::vector<SubidRange> read_subids(const std::string& path) {
  std::vector<SubidRange> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto a = line.find(':'), b = line.find(':', a == line.npos ? 0 : a + 1);
    if (a == line.npos || b == line.npos) continue;
    try {
      out.push_back({line.substr(0, a), std::stoull(line.substr(a + 1, b - a - 1)),
                     std::stoull(line.substr(b + 1))});
    } catch (...) {
    }
  }
  return out;
}

Result<void> check_subids(const std::vector<SubidRange>& ranges, const std::string& user,
                          uint64_t base, uint64_t count, const std::string& file) {
  const uint64_t end = base + count;
  bool covered = false;
  for (const auto& r : ranges) {
    bool mine = r.owner == user || r.owner == "0";
    if (mine && r.start <= base && end <= r.start + r.count) covered = true;
    if (!mine && r.start < end && base < r.start + r.count)
      return fail(codes::kInvalid, file + ": the range of " + r.owner + " (" +
                                       std::to_string(r.start) + ":" + std::to_string(r.count) +
                                       ") overlaps the containers' ids " + std::to_string(base) +
                                       "-" + std::to_string(end - 1));
  }
  if (!covered)
    return fail(codes::kInvalid, file + ": no subordinate id range for " + user +
                                     " covers the containers' ids; add \"" + user + ":" +
                                     std::to_string(base) + ":" + std::to_string(count) +
                                     "\" (scripts/install-deps.sh does)");
  return {};
}

// ---- cgroups ----

bool cgroup_v1() { return ::access("/sys/fs/cgroup/memory/cgroup.procs", F_OK) == 0; }

Result<void> check_cgroup_controllers() {
  if (cgroup_v1()) {
    for (const char* c : {"memory", "cpu", "pids"})
      if (::access((std::string("/sys/fs/cgroup/") + c + "/cgroup.procs").c_str(), F_OK) != 0)
        return fail(codes::kInvalid, std::string("cgroup controller ") + c +
                                         " is not mounted (/sys/fs/cgroup/" + c + ")");
    return {};
  }
  auto ctl = fs::read_file("/sys/fs/cgroup/cgroup.controllers", 4096);
  if (!ctl)
    return fail(codes::kInvalid,
                "no cgroup v1 memory hierarchy and no cgroup v2 at /sys/fs/cgroup");
  for (const char* c : {"memory", "cpu", "pids"})
    if (ctl->find(c) == std::string::npos)
      return fail(codes::kInvalid,
                  std::string("cgroup controller ") + c + " is not available (cgroup v2)");
  return {};
}

namespace {

uint64_t read_u64(const std::string& path) {
  auto d = fs::read_file(path, 4096);
  if (!d) return 0;
  try {
    if (d->rfind("max", 0) == 0) return 0;
    return std::stoull(*d);
  } catch (...) {
    return 0;
  }
}
uint64_t read_key(const std::string& path, const std::string& key) {
  auto d = fs::read_file(path, 64 * 1024);
  if (!d) return 0;
  std::istringstream in(*d);
  std::string k;
  uint64_t v = 0;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

}  // namespace

Result<Counters> read_counters(const std::string& name) {
  const std::string cg = "lxc.payload." + name;
  Counters c;
  if (cgroup_v1()) {
    // liblxc makes the payload cgroup below the cgroup its caller was in:
    // find it in each hierarchy.
    auto find = [&](const std::string& ctl) -> std::string {
      std::string direct = "/sys/fs/cgroup/" + ctl + "/" + cg;
      if (::access(direct.c_str(), F_OK) == 0) return direct;
      auto self = fs::read_file("/proc/self/cgroup", 64 * 1024);
      if (!self) return "";
      std::istringstream in(*self);
      std::string line;
      while (std::getline(in, line)) {
        auto a = line.find(':'), b = line.find(':', a + 1);
        if (a == line.npos || b == line.npos) continue;
        std::string ctls = line.substr(a + 1, b - a - 1);
        if (("," + ctls + ",").find("," + ctl + ",") == std::string::npos) continue;
        std::string p = "/sys/fs/cgroup/" + ctl + line.substr(b + 1) + "/" + cg;
        if (::access(p.c_str(), F_OK) == 0) return p;
      }
      return "";
    };
    std::string mem = find("memory");
    if (mem.empty()) return fail(codes::kNotFound, "no cgroup for " + name);
    c.memory_bytes = read_u64(mem + "/memory.usage_in_bytes");
    c.memory_max = read_u64(mem + "/memory.limit_in_bytes");
    c.oom_kills = read_key(mem + "/memory.oom_control", "oom_kill");
    if (auto cpu = find("cpuacct"); !cpu.empty()) c.cpu_ns = read_u64(cpu + "/cpuacct.usage");
    if (auto p = find("pids"); !p.empty()) c.pids = read_u64(p + "/pids.current");
    return c;
  }
  std::string dir = "/sys/fs/cgroup/" + cg;
  if (::access(dir.c_str(), F_OK) != 0) return fail(codes::kNotFound, "no cgroup for " + name);
  c.memory_bytes = read_u64(dir + "/memory.current");
  c.memory_max = read_u64(dir + "/memory.max");
  c.cpu_ns = read_key(dir + "/cpu.stat", "usage_usec") * 1000;
  c.pids = read_u64(dir + "/pids.current");
  c.oom_kills = read_key(dir + "/memory.events", "oom_kill");
  return c;
}

Result<std::pair<uint64_t, uint64_t>> disk_usage(const std::string& dir) {
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return fail(Error::from_errno("statvfs " + dir, errno));
  uint64_t total = uint64_t(v.f_blocks) * v.f_frsize;
  uint64_t used = total - uint64_t(v.f_bfree) * v.f_frsize;
  return std::make_pair(used, total);
}

namespace {
Result<uint64_t> read_counter(const std::string& path) {
  auto d = fs::read_file(path, 64);
  if (!d) return fail(d.error());
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(d->data(), d->data() + d->size(), v);
  if (ec != std::errc() || end == d->data()) return fail(codes::kIo, "not a counter: " + path);
  return v;
}
}  // namespace

Result<NetBytes> veth_bytes(const std::string& net_dir, const std::string& veth) {
  const std::string stats = net_dir + "/" + veth + "/statistics/";
  if (::access((net_dir + "/" + veth).c_str(), F_OK) != 0)
    return fail(codes::kNotFound, "no interface " + veth);
  auto host_rx = read_counter(stats + "rx_bytes");
  if (!host_rx) return fail(host_rx.error().wrap("veth " + veth));
  auto host_tx = read_counter(stats + "tx_bytes");
  if (!host_tx) return fail(host_tx.error().wrap("veth " + veth));
  return NetBytes{.rx = *host_tx, .tx = *host_rx};
}

}  // namespace zlh::api::drivers::lxc
