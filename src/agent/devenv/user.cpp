#include "agent/devenv/user.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <optional>
#include <vector>

#include "agent/devenv/profile.hpp"
#include "base/fs.hpp"
#include "base/process.hpp"
#include "proto/base_accounts.hpp"

namespace zlh::agent::devenv {
namespace {

constexpr std::string_view kShell = "/bin/bash";
constexpr uid_t kPreferredUid = 1000;

struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

bool valid_user_name(std::string_view n) {
  if (n.empty() || n.size() > 32) return false;
  if (!(n[0] == '_' || (n[0] >= 'a' && n[0] <= 'z'))) return false;
  for (char c : n)
    if (!(c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    size_t j = s.find(sep);
    out.push_back(s.substr(0, j));
    if (j == std::string_view::npos) return out;
    s.remove_prefix(j + 1);
  }
}

std::optional<unsigned> parse_id(std::string_view s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// Entries of a passwd(5)/group(5) file under a prefix root: name, id, and
// (passwd only) gid. A missing file has no entries.
Result<std::vector<Account>> read_db(const std::string& path, bool passwd) {
  auto text = fs::read_file(path);
  if (!text) {
    if (text.error().is(codes::kNotFound)) return std::vector<Account>{};
    return fail(std::move(text.error()));
  }
  std::vector<Account> out;
  for (auto line : split(*text, '\n')) {
    auto f = split(line, ':');
    if (f.size() < (passwd ? 4u : 3u) || f[0].empty()) continue;
    auto id = parse_id(f[2]);
    auto gid = passwd ? parse_id(f[3]) : id;
    if (!id || !gid) continue;
    out.push_back(Account{std::string(f[0]), uid_t(*id), gid_t(*gid)});
  }
  return out;
}

// User lookup in the right database: the host's for root "/", the
// container's <root>/etc/passwd otherwise.
Result<std::optional<Account>> find_user(const std::string& root, const std::string& name) {
  if (root == "/") {
    struct passwd pw {
    }, *res = nullptr;
    std::vector<char> buf(16384);
    int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &res);
    if (rc != 0) return fail(Error::from_errno("getpwnam " + name, rc));
    if (!res) return std::optional<Account>{};
    return std::optional<Account>{Account{name, pw.pw_uid, pw.pw_gid}};
  }
  auto db = read_db(fs::join(root, "etc/passwd"), true);
  if (!db) return fail(std::move(db.error()));
  for (auto& a : *db)
    if (a.name == name) return std::optional<Account>{a};
  return std::optional<Account>{};
}

// Whether the host's account database (NSS) has the entry `lookup` asks for:
// a getpwuid_r/getgrnam_r call bound to its key; `what` names it in errors.
template <class Entry, class Lookup>
Result<bool> nss_has(Lookup lookup, const std::string& what) {
  Entry e{};
  Entry* res = nullptr;
  std::vector<char> buf(16384);
  int rc = lookup(&e, buf.data(), buf.size(), &res);
  if (rc != 0) return fail(Error::from_errno(what, rc));
  return res != nullptr;
}

// Whether <root>/etc/passwd (passwd) or <root>/etc/group has an entry that
// matches.
template <class Match>
Result<bool> db_has(const std::string& root, bool passwd, Match match) {
  auto db = read_db(fs::join(root, passwd ? "etc/passwd" : "etc/group"), passwd);
  if (!db) return fail(std::move(db.error()));
  for (auto& a : *db)
    if (match(a)) return true;
  return false;
}

Result<bool> uid_taken(const std::string& root, uid_t uid) {
  if (root == "/")
    return nss_has<struct passwd>(
        [uid](struct passwd* e, char* b, size_t n, struct passwd** r) {
          return ::getpwuid_r(uid, e, b, n, r);
        },
        "getpwuid " + std::to_string(uid));
  return db_has(root, true, [uid](const Account& a) { return a.uid == uid; });
}

Result<bool> group_exists(const std::string& root, const std::string& name) {
  if (root == "/")
    return nss_has<struct group>(
        [&name](struct group* e, char* b, size_t n, struct group** r) {
          return ::getgrnam_r(name.c_str(), e, b, n, r);
        },
        "getgrnam " + name);
  return db_has(root, false, [&name](const Account& a) { return a.name == name; });
}

// A fresh container root may have no account files at all. useradd would
// then create passwd/group holding only the new user; a root and nobody
// entry keep the files sane for tools that expect them. Fixed Debian
// defaults: nothing is copied from the host.
Result<void> seed_account_files(const std::string& root) {
  std::string etc = fs::join(root, "etc");
  struct stat st {};
  if (::lstat(fs::join(etc, "passwd").c_str(), &st) == 0) return {};
  if (auto r = fs::make_dirs(etc, 0755); !r) return r;
  for (const auto& f : proto::kBaseAccountFiles) {
    std::string path = fs::join(etc, f.name);
    if (::lstat(path.c_str(), &st) == 0) continue;  // keep whatever exists
    if (auto r = fs::write_file_atomic(path, f.text, f.mode); !r) return r;
  }
  return {};
}

Result<void> useradd(const std::string& root, const std::string& name) {
  auto taken = uid_taken(root, kPreferredUid);
  if (!taken) return fail(std::move(taken.error()));
  auto has_group = group_exists(root, name);
  if (!has_group) return fail(std::move(has_group.error()));

  process::SpawnOptions o;
  o.argv = {"/usr/sbin/useradd"};
  if (root != "/") o.argv.insert(o.argv.end(), {"--prefix", root});
  o.argv.insert(o.argv.end(), {"-m", "-d", "/home/dev", "-s", std::string(kShell)});
  // -U fails when a group of that name exists; join it instead.
  if (*has_group)
    o.argv.insert(o.argv.end(), {"-g", name});
  else
    o.argv.push_back("-U");
  if (!*taken) o.argv.insert(o.argv.end(), {"-u", std::to_string(kPreferredUid)});
  o.argv.push_back(name);
  o.env = {"PATH=" + std::string(kSystemPath), "LANG=C"};
  auto r = process::run(o, std::chrono::seconds(60));
  if (!r) return fail(std::move(r.error()));
  if (r->timed_out) return fail(codes::kTimeout, "useradd " + name + ": timed out");
  if (r->exit_code != 0) {
    std::string out = r->output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return fail(codes::kInternal,
                "useradd " + name + ": exit " + std::to_string(r->exit_code) + ": " + out);
  }
  return {};
}

// mkdir -p, then insist on a real directory (not a symlink) and set owner.
Result<void> ensure_dir(const std::string& path, std::optional<std::pair<uid_t, gid_t>> owner) {
  if (auto r = fs::make_dirs(path, 0755); !r) return r;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return fail(Error::from_errno("stat " + path, errno));
  if (!S_ISDIR(st.st_mode)) return fail(codes::kIo, path + ": not a directory");
  if (owner && (st.st_uid != owner->first || st.st_gid != owner->second) &&
      ::lchown(path.c_str(), owner->first, owner->second) != 0)
    return fail(Error::from_errno("chown " + path, errno));
  return {};
}

// Appends the zlh block to an rc file unless it is there. `create` makes a
// missing file; otherwise a missing file stays missing. `owner` (real dev
// user) gets the file we wrote.
Result<void> ensure_rc(const std::string& path, const std::string& block, bool create,
                       std::optional<std::pair<uid_t, gid_t>> owner) {
  struct stat st {};
  std::string content;
  mode_t mode = 0644;
  if (::lstat(path.c_str(), &st) == 0) {
    // Never write through a link or into something that is not a file.
    if (!S_ISREG(st.st_mode)) return {};
    auto text = fs::read_file(path);
    if (!text) return fail(std::move(text.error()));
    if (text->find(kRcMarker) != std::string::npos) return {};
    content = std::move(*text);
    mode = st.st_mode & 07777;
    // The rewrite is a new inode owned by us: hand it to the dev user, or
    // (current-user mode) back to whoever owned the old one.
    if (!owner && ::geteuid() == 0) owner = std::pair{st.st_uid, st.st_gid};
    if (!content.empty() && content.back() != '\n') content += '\n';
    if (!content.empty()) content += '\n';
  } else if (errno != ENOENT) {
    return fail(Error::from_errno("stat " + path, errno));
  } else if (!create) {
    return {};
  }
  content += block;
  if (auto r = fs::write_file_atomic(path, content, mode); !r) return r;
  if (owner && ::lchown(path.c_str(), owner->first, owner->second) != 0)
    return fail(Error::from_errno("chown " + path, errno));
  return {};
}

std::string current_user_name(uid_t uid) {
  struct passwd pw {
  }, *res = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &res) == 0 && res) return pw.pw_name;
  return std::to_string(uid);
}

}  // namespace

std::string rc_block(const std::string& root) {
  std::string zlh_sh = shell_quote(fs::join(root, "etc/profile.d/zlh.sh"));
  return std::string(kRcMarker) +
         "\n"
         "# Added by zlh-agent: the container's one environment (runtimes on PATH).\n"
         "if [ -r " +
         zlh_sh + " ]; then . " + zlh_sh +
         "; fi\n"
         "# <<< zlh environment <<<\n";
}

Result<DevUser> ensure_dev_user(const std::string& root, const std::string& name) {
  DevUser u;
  u.home = fs::join(root, "home/dev");
  u.workspace = fs::join(u.home, "workspace");
  u.shell = std::string(kShell);
  std::optional<std::pair<uid_t, gid_t>> owner;

  if (name == "-") {
    u.is_current_user = true;
    u.uid = ::geteuid();
    u.gid = ::getegid();
    u.name = current_user_name(u.uid);
  } else {
    if (!valid_user_name(name))
      return fail(Error::invalid("dev_user", "invalid user name \"" + name + "\""));
    if (root.empty() || root[0] != '/')
      return fail(Error::invalid("root", "root must be an absolute path"));
    if (::geteuid() != 0)
      return fail(codes::kForbidden,
                  "dev user " + name + ": creating accounts needs root (use --dev-user -)");
    auto found = find_user(root, name);
    if (!found) return fail(std::move(found.error()).wrap("dev user " + name));
    if (!*found) {
      if (root != "/") {
        if (auto r = seed_account_files(root); !r)
          return fail(std::move(r.error()).wrap("dev user " + name));
      }
      // Parent of home must exist for useradd -m under a prefix.
      if (auto r = fs::make_dirs(fs::join(root, "home"), 0755); !r)
        return fail(std::move(r.error()));
      auto added = useradd(root, name);
      found = find_user(root, name);
      if (!found) return fail(std::move(found.error()).wrap("dev user " + name));
      // A concurrent creator may have won the race; only a still-missing user is an error.
      if (!*found) {
        if (!added) return fail(std::move(added.error()));
        return fail(codes::kInternal, "dev user " + name + ": missing after useradd");
      }
    }
    u.name = name;
    u.uid = (*found)->uid;
    u.gid = (*found)->gid;
    owner = std::pair{u.uid, u.gid};
  }

  if (auto r = ensure_dir(u.home, owner); !r) return fail(std::move(r.error()).wrap("dev home"));
  // L2: the user's files are the user's: home and workspace 0750 (dev and
  // its group; the agent reaches them as dev), never world-readable.
  if (::chmod(u.home.c_str(), 0750) != 0) return fail(Error::from_errno("chmod " + u.home, errno));
  if (auto r = ensure_dir(u.workspace, owner); !r)
    return fail(std::move(r.error()).wrap("dev workspace"));
  if (::chmod(u.workspace.c_str(), 0750) != 0)
    return fail(Error::from_errno("chmod " + u.workspace, errno));

  std::string block = rc_block(root);
  // .bash_profile, when the user has one, shadows .profile for bash login
  // shells, so it gets the block too (but is never created).
  struct Rc {
    const char* name;
    bool create;
  };
  for (const Rc& rc : {Rc{".bashrc", true}, Rc{".profile", true}, Rc{".bash_profile", false}}) {
    if (auto r = ensure_rc(fs::join(u.home, rc.name), block, rc.create, owner); !r)
      return fail(std::move(r.error()).wrap("dev rc files"));
  }
  return u;
}

}  // namespace zlh::agent::devenv
