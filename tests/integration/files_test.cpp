// The /files API through the real agent (docs/design.md §8): round trips, the
// traversal suite (every operation × every attack, with the outside
// untouched), streamed multi-file uploads, a 2 GiB upload with the agent's
// memory bounded, interrupted uploads and writes that leave the old file
// and no temp files, Range reads and directory downloads as .tar.gz.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "archive_builder.hpp"
#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "harness.hpp"

namespace zlh::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// Files in a directory tree (relative names), for "nothing changed" checks.
void walk(const std::string& base, const std::string& rel, std::vector<std::string>& out) {
  DIR* d = opendir((base + "/" + rel).c_str());
  if (!d) return;
  while (auto* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    std::string r = rel.empty() ? n : rel + "/" + n;
    struct stat st {};
    lstat((base + "/" + r).c_str(), &st);
    out.push_back(r + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_nsec));
    if (S_ISDIR(st.st_mode)) walk(base, r, out);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
}
std::vector<std::string> tree(const std::string& base) {
  std::vector<std::string> out;
  walk(base, "", out);
  return out;
}

// A raw connection, for bodies sent piece by piece.
class RawConn {
 public:
  RawConn(const std::string& host, uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawConn() { close_now(); }
  bool ok() const { return ok_; }
  bool send_all(std::string_view d) {
    while (!d.empty()) {
      ssize_t n = ::send(fd_, d.data(), d.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      d.remove_prefix(size_t(n));
    }
    return true;
  }
  std::string read_all() {
    std::string out;
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, size_t(n));
    }
    return out;
  }
  void close_now() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir("files");
    keys_ = dir_ + "/keys";
    store_ = dir_ + "/store";
    root_ = dir_ + "/root";
    outside_ = dir_ + "/outside";
    ASSERT_TRUE(fs::make_dirs(root_));
    ASSERT_TRUE(fs::make_dirs(outside_ + "/sub"));
    ASSERT_TRUE(fs::write_file_atomic(outside_ + "/secret.txt", "do not touch\n"));
    ASSERT_TRUE(fs::write_file_atomic(outside_ + "/sub/deep.txt", "deep\n"));
    make_tool_store(dir_, store_, keys_);
    ASSERT_FALSE(HasFatalFailure());
  }
  void TearDown() override {
    agent_.reset();
    kill_services(root_);
    remove_unless_failed(dir_);
  }
  void start(std::vector<std::string> extra = {}, const std::string& dev_user = "-") {
    std::vector<std::string> args{
        "--vmid", "6001",        "--api-key",        keys_ + "/api.pub", "--dev-user",
        dev_user, "--artifacts", "file://" + store_, "--catalog-key",    keys_ + "/catalog.pub"};
    args.insert(args.end(), extra.begin(), extra.end());
    agent_ = std::make_unique<AgentProcess>(root_, args);
    ASSERT_TRUE(agent_->wait_healthy());
    json payload = {
        {"vmid", 6001}, {"container_type", "dev"}, {"runtime", "tool"}, {"version", "1.0.0"}};
    ASSERT_EQ(http::request("POST", agent_->url("/config"), auth("POST", "/config"), payload.dump())
                  ->status,
              202);
    ASSERT_TRUE(eventually([&] { return status()["state"] == "running"; }, 60s)) << status().dump();
    ws_ = root_ + "/home/dev/workspace";
  }
  http::Headers auth(const std::string& m, const std::string& t) {
    return bearer_from(keys_, 6001, m, t);
  }
  json status() {
    return json::parse(http::request("GET", agent_->url("/status"), auth("GET", "/status"))->body);
  }
  http::ClientResponse call(const std::string& method, const std::string& target,
                            std::string body = {}, http::Headers extra = {}) {
    http::Headers h = auth(method, target);
    for (auto& [k, v] : extra.items()) h.add(k, v);
    auto r = http::request(method, agent_->url(target), h, std::move(body), 120s);
    EXPECT_TRUE(r) << method << " " << target << ": " << (r ? "" : r.error().message);
    return r ? *r : http::ClientResponse{};
  }
  std::string host() {
    std::string u = agent_->url("");
    u = u.substr(7);
    return u.substr(0, u.find(':'));
  }
  std::string raw_head(const std::string& method, const std::string& target, uint64_t length,
                       const std::string& content_type) {
    std::string tok(auth(method, target).get("Authorization").value());
    return method + " " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + tok +
           "\r\nContent-Type: " + content_type + "\r\nContent-Length: " + std::to_string(length) +
           "\r\n\r\n";
  }
  // No temp file anywhere below the workspace.
  bool no_temp_files() {
    for (auto& e : tree(ws_))
      if (e.find(".zlh-tmp-") != std::string::npos) return false;
    return true;
  }

  std::string dir_, keys_, store_, root_, outside_, ws_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(FilesTest, RoundTrips) {
  start();
  EXPECT_EQ(call("PUT", "/files/write?path=src/app.js", "console.log(1)\n").status, 200);
  EXPECT_EQ(fs::read_file(ws_ + "/src/app.js", 1 << 20).value_or(""), "console.log(1)\n");
  auto r = call("GET", "/files/read?path=src/app.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "console.log(1)\n");

  // Overwrite keeps it one file, atomically replaced.
  EXPECT_EQ(call("PUT", "/files/write?path=src/app.js", "v2").status, 200);
  EXPECT_EQ(call("GET", "/files/read?path=src/app.js").body, "v2");

  EXPECT_EQ(call("POST", "/files/mkdir", json{{"path", "a/b/c"}}.dump()).status, 200);
  struct stat st {};
  EXPECT_EQ(stat((ws_ + "/a/b/c").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));

  auto l = call("GET", "/files/list?path=");
  ASSERT_EQ(l.status, 200) << l.body;
  auto entries = json::parse(l.body);
  ASSERT_EQ(entries.size(), 2u) << l.body;
  EXPECT_EQ(entries[0]["name"], "a");  // dirs first
  EXPECT_EQ(entries[0]["type"], "dir");
  EXPECT_EQ(entries[1]["name"], "src");
  auto ls = json::parse(call("GET", "/files/list?path=src").body);
  ASSERT_EQ(ls.size(), 1u);
  EXPECT_EQ(ls[0]["name"], "app.js");
  EXPECT_EQ(ls[0]["type"], "file");
  EXPECT_EQ(ls[0]["size"], 2);
  EXPECT_EQ(ls[0]["mode"], "0644");
  EXPECT_TRUE(ls[0]["mtime"].is_number_integer());

  EXPECT_EQ(
      call("POST", "/files/rename", json{{"from", "src/app.js"}, {"to", "lib/main.js"}}.dump())
          .status,
      200);
  EXPECT_EQ(call("GET", "/files/read?path=lib/main.js").body, "v2");
  EXPECT_EQ(call("GET", "/files/read?path=src/app.js").status, 404);
  // Rename never replaces.
  EXPECT_EQ(call("PUT", "/files/write?path=other.js", "o").status, 200);
  auto c = call("POST", "/files/rename", json{{"from", "other.js"}, {"to", "lib/main.js"}}.dump());
  EXPECT_EQ(c.status, 409) << c.body;
  EXPECT_EQ(call("GET", "/files/read?path=lib/main.js").body, "v2");

  EXPECT_EQ(call("POST", "/files/delete", json{{"paths", {"a", "other.js"}}}.dump()).status, 200);
  EXPECT_NE(stat((ws_ + "/a").c_str(), &st), 0);
  EXPECT_NE(stat((ws_ + "/other.js").c_str(), &st), 0);
  // A list with one missing path deletes nothing.
  auto d = call("POST", "/files/delete", json{{"paths", {"lib/main.js", "missing"}}}.dump());
  EXPECT_EQ(d.status, 404);
  EXPECT_EQ(stat((ws_ + "/lib/main.js").c_str(), &st), 0);

  // Errors are the contract's shape.
  auto e = call("GET", "/files/read?path=nope");
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(json::parse(e.body)["error"]["code"], "E_NOT_FOUND");
  EXPECT_EQ(call("GET", "/files/read?path=lib").status, 400);  // a directory
  EXPECT_EQ(call("POST", "/files/mkdir", R"({"path":"x","extra":1})").status, 400);
  // Without a token: 401, nothing written.
  auto u = http::request("PUT", agent_->url("/files/write?path=evil"), {}, "x");
  EXPECT_EQ(u->status, 401);
  EXPECT_NE(stat((ws_ + "/evil").c_str(), &st), 0);
  EXPECT_TRUE(no_temp_files());
}

TEST_F(FilesTest, RangeReadsAndDirectoryDownload) {
  start();
  std::string data;
  for (int i = 0; i < 100000; ++i) data += char('a' + i % 26);
  ASSERT_EQ(call("PUT", "/files/write?path=big.txt", data).status, 200);
  http::Headers range;
  range.add("Range", "bytes=10-19");
  auto r = call("GET", "/files/read?path=big.txt", {}, range);
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, data.substr(10, 10));
  EXPECT_EQ(r.headers.get("Content-Range"), std::optional<std::string_view>("bytes 10-19/100000"));
  http::Headers suffix;
  suffix.add("Range", "bytes=-5");
  EXPECT_EQ(call("GET", "/files/read?path=big.txt", {}, suffix).body, data.substr(data.size() - 5));
  http::Headers bad;
  bad.add("Range", "bytes=200000-");
  auto u = call("GET", "/files/read?path=big.txt", {}, bad);
  EXPECT_EQ(u.status, 416);
  EXPECT_EQ(u.headers.get("Content-Range"), std::optional<std::string_view>("bytes */100000"));

  auto f = call("GET", "/files/download?path=big.txt");
  EXPECT_EQ(f.status, 200);
  EXPECT_EQ(f.body, data);
  EXPECT_NE(std::string(f.headers.get("Content-Disposition").value_or("")).find("big.txt"),
            std::string::npos);

  ASSERT_EQ(call("PUT", "/files/write?path=proj/src/x.txt", "xx").status, 200);
  ASSERT_EQ(symlink("/etc/passwd", (ws_ + "/proj/passwd-link").c_str()), 0);
  auto t = call("GET", "/files/download?path=proj");
  ASSERT_EQ(t.status, 200);
  EXPECT_EQ(t.headers.get("Content-Type"), std::optional<std::string_view>("application/gzip"));
  ASSERT_TRUE(fs::write_file_atomic(dir_ + "/proj.tar.gz", t.body));
  auto list = run_command({"/bin/tar", "-tvzf", dir_ + "/proj.tar.gz"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("proj/src/x.txt"), std::string::npos) << list.out;
  // The link is archived as a link, never as the content of its target.
  EXPECT_NE(list.out.find("proj/passwd-link -> /etc/passwd"), std::string::npos) << list.out;
  auto whole = call("GET", "/files/download");
  EXPECT_EQ(whole.status, 200);
  ASSERT_TRUE(fs::write_file_atomic(dir_ + "/ws.tar.gz", whole.body));
  auto wl = run_command({"/bin/tar", "-tzf", dir_ + "/ws.tar.gz"});
  EXPECT_NE(wl.out.find("workspace/big.txt"), std::string::npos) << wl.out;
}

TEST_F(FilesTest, TraversalSuiteTouchesNothingOutside) {
  start();
  ASSERT_TRUE(fs::make_dirs(ws_ + "/a/b/c"));
  // Symlinks that lead out: at depth, relative and absolute.
  ASSERT_EQ(symlink(outside_.c_str(), (ws_ + "/a/b/c/out").c_str()), 0);
  ASSERT_EQ(symlink("../../../../../outside", (ws_ + "/a/b/rel").c_str()), 0);
  ASSERT_EQ(symlink((outside_ + "/secret.txt").c_str(), (ws_ + "/a/secret-link").c_str()), 0);
  ASSERT_TRUE(fs::write_file_atomic(ws_ + "/keep.txt", "keep"));
  auto before_out = tree(outside_);
  auto before_ws = tree(ws_);

  const std::vector<std::string> attacks = {
      "../outside/secret.txt",       // ..
      "a/../../outside/secret.txt",  // .. after a real dir
      outside_ + "/secret.txt",      // absolute
      "/etc/passwd",                 // absolute
      "a/b/c/out/secret.txt",        // symlink out at depth
      "a/b/c/out/sub/deep.txt",      // deeper through it
      "a/b/rel/secret.txt",          // relative symlink out
      "a/secret-link",               // a file symlink out
      "a/b/c/out",                   // the link itself to a dir outside
      "a/b/c/out/newdir/x",          // a path that does not exist yet, via the link
  };
  // Attacks only expressible in a query string: encoded forms and NUL.
  const std::vector<std::string> raw_query_attacks = {
      "%2e%2e%2foutside%2fsecret.txt",
      "..%2Foutside%2Fsecret.txt",
      "%2E%2E/%2E%2E/outside",
      "a%00b",
      "keep.txt%00.png",
      "%252e%252e%252foutside",
  };
  auto expect_badpath = [&](const http::ClientResponse& r, const std::string& what) {
    // Not found is also refusal, but the contract wants 400 E_BADPATH for
    // paths that leave the root.
    EXPECT_EQ(r.status, 400) << what << " → " << r.status << " " << r.body;
    auto j = json::parse(r.body, nullptr, false);
    EXPECT_EQ(j.is_object() ? j["error"]["code"] : json(), "E_BADPATH") << what << " → " << r.body;
  };
  std::string boundary = "zlhTEST";
  std::string ct = "multipart/form-data; boundary=" + boundary;
  http::Headers mp;
  mp.add("Content-Type", ct);
  auto query_ops = [&](const std::string& q, const std::string& shown) {
    expect_badpath(call("GET", "/files/list?path=" + q), "list " + shown);
    expect_badpath(call("GET", "/files/read?path=" + q), "read " + shown);
    expect_badpath(call("GET", "/files/download?path=" + q), "download " + shown);
    expect_badpath(call("PUT", "/files/write?path=" + q, "pwned"), "write " + shown);
    expect_badpath(
        call("POST", "/files/upload?path=" + q, multipart_body(boundary, {{"x.txt", "pwned"}}), mp),
        "upload " + shown);
  };
  for (const auto& a : attacks) {
    std::string q = http::url_encode(a);
    // Some attacks through symlinks only fail at the last step (the link
    // itself is inside); what matters is that the answer is a refusal.
    query_ops(q, a);
    expect_badpath(call("POST", "/files/mkdir", json{{"path", a + "/d"}}.dump()), "mkdir " + a);
    // A link that leads out is itself inside: moving or deleting the link is
    // allowed (it is the way to clean up); going through it is not.
    std::string through = (a == "a/b/c/out" || a == "a/secret-link") ? a + "/x" : a;
    expect_badpath(call("POST", "/files/rename", json{{"from", through}, {"to", "stolen"}}.dump()),
                   "rename from " + through);
    expect_badpath(
        call("POST", "/files/rename", json{{"from", "keep.txt"}, {"to", a + "/k"}}.dump()),
        "rename to " + a);
    expect_badpath(call("POST", "/files/delete", json{{"paths", {"keep.txt", a + "/x"}}}.dump()),
                   "delete " + a);
  }
  for (const auto& q : raw_query_attacks) query_ops(q, q);
  // NUL and encoded traversal in JSON bodies.
  for (std::string a :
       {std::string("a\0b", 3), std::string("%2e%2e/outside"), std::string("..%2foutside")}) {
    expect_badpath(call("POST", "/files/mkdir", json{{"path", a}}.dump()), "mkdir json");
    expect_badpath(call("POST", "/files/rename", json{{"from", "keep.txt"}, {"to", a}}.dump()),
                   "rename json");
    expect_badpath(call("POST", "/files/delete", json{{"paths", {a}}}.dump()), "delete json");
  }
  // Upload file names with '/' or '..' are refused.
  for (std::string name : {"../escape.txt", "a/b.txt", "..", "%2e%2e%2fescape.txt"}) {
    auto r = call("POST", "/files/upload?path=", multipart_body(boundary, {{name, "pwned"}}), mp);
    expect_badpath(r, "upload name " + name);
  }
  EXPECT_EQ(tree(outside_), before_out);
  EXPECT_EQ(tree(ws_), before_ws);
  EXPECT_EQ(fs::read_file(outside_ + "/secret.txt", 100).value_or(""), "do not touch\n");
  // Symlinks that stay inside still work.
  ASSERT_EQ(symlink("keep.txt", (ws_ + "/inner-link").c_str()), 0);
  EXPECT_EQ(call("GET", "/files/read?path=inner-link").body, "keep");
}

TEST_F(FilesTest, UploadSeveralFilesStreamedAndAtomic) {
  start({"--max-upload-bytes", "1048576"});
  std::string big(900 * 1024, 'B');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = char('0' + (i / 4096) % 10);
  std::string boundary = "----zlhBoundary7MA4YWxkTrZu0gW";
  std::string body =
      multipart_body(boundary, {{"one.txt", "first file\n"},
                                {"two.bin", std::string("\0\r\n--not-a-boundary\r\n", 22)},
                                {"big.dat", big}});
  http::Headers h;
  h.add("Content-Type", "multipart/form-data; boundary=" + boundary);
  auto r = call("POST", "/files/upload?path=up/loads", body, h);
  ASSERT_EQ(r.status, 200) << r.body;
  auto files = json::parse(r.body)["files"];
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[2]["size"], big.size());
  EXPECT_EQ(fs::read_file(ws_ + "/up/loads/one.txt", 1 << 20).value_or(""), "first file\n");
  EXPECT_EQ(fs::read_file(ws_ + "/up/loads/two.bin", 1 << 20).value_or(""),
            std::string("\0\r\n--not-a-boundary\r\n", 22));
  EXPECT_EQ(crypto::sha256_hex(fs::read_file(ws_ + "/up/loads/big.dat", 2 << 20).value_or("")),
            crypto::sha256_hex(big));

  // Over the per-file limit: 413, and the old file is still there.
  std::string huge(1048577, 'H');
  auto t =
      call("POST", "/files/upload?path=up/loads", multipart_body(boundary, {{"big.dat", huge}}), h);
  EXPECT_EQ(t.status, 413) << t.body;
  EXPECT_EQ(json::parse(t.body)["error"]["code"], "E_TOO_LARGE");
  EXPECT_EQ(crypto::sha256_hex(fs::read_file(ws_ + "/up/loads/big.dat", 2 << 20).value_or("")),
            crypto::sha256_hex(big));
  auto w = call("PUT", "/files/write?path=up/loads/one.txt", huge);
  EXPECT_EQ(w.status, 413);
  EXPECT_EQ(fs::read_file(ws_ + "/up/loads/one.txt", 1 << 20).value_or(""), "first file\n");
  // Not multipart: 400.
  EXPECT_EQ(call("POST", "/files/upload?path=x", "plain").status, 400);
  EXPECT_TRUE(no_temp_files());
}

TEST_F(FilesTest, InterruptedUploadAndWriteLeaveTheOldFile) {
  start();
  ASSERT_EQ(call("PUT", "/files/write?path=data/save.dat", "old contents").status, 200);
  std::string boundary = "cutcutcut";
  std::string head =
      "--" + boundary +
      "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"save.dat\"\r\n\r\n";
  auto port = uint16_t(18888);
  {
    RawConn c(host(), port);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send_all(raw_head("POST", "/files/upload?path=data", 50'000'000,
                                    "multipart/form-data; boundary=" + boundary)));
    ASSERT_TRUE(c.send_all(head));
    std::string chunk(1 << 20, 'N');
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(c.send_all(chunk));
    c.close_now();  // the browser tab went away
  }
  {
    RawConn c(host(), port);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send_all(raw_head("PUT", "/files/write?path=data/save.dat", 50'000'000,
                                    "application/octet-stream")));
    std::string chunk(1 << 20, 'W');
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(c.send_all(chunk));
    c.close_now();
  }
  // The agent notices the cut; then nothing is left behind.
  EXPECT_TRUE(eventually([&] { return no_temp_files(); }, 10s));
  // The agent is still healthy, and the old file is whole.
  EXPECT_EQ(call("GET", "/files/read?path=data/save.dat").body, "old contents");
  EXPECT_TRUE(no_temp_files());
  auto l = json::parse(call("GET", "/files/list?path=data").body);
  EXPECT_EQ(l.size(), 1u) << l.dump();

  // A kill -9 of the agent in the middle of an upload leaves no temp file
  // either (the data goes to an unnamed inode until it is complete).
  {
    RawConn c(host(), port);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send_all(raw_head("POST", "/files/upload?path=data", 50'000'000,
                                    "multipart/form-data; boundary=" + boundary)));
    ASSERT_TRUE(c.send_all(head));
    ASSERT_TRUE(c.send_all(std::string(4 << 20, 'K')));
    agent_->kill9();
  }
  EXPECT_TRUE(no_temp_files());
  EXPECT_EQ(fs::read_file(ws_ + "/data/save.dat", 100).value_or(""), "old contents");
}

// The must-show figure: a 2 GiB upload streams to disk with the agent's
// resident memory staying under 64 MiB the whole time (VmHWM is the peak).
TEST_F(FilesTest, TwoGiBUploadKeepsAgentMemoryBounded) {
  start({"--max-upload-bytes", std::to_string(3ull << 30)});
  const uint64_t kSize = 2ull << 30;
  std::string boundary = "bigboundary0123456789";
  std::string head =
      "--" + boundary +
      "\r\nContent-Disposition: form-data; name=\"f\"; filename=\"world.tar\"\r\n\r\n";
  std::string tail = "\r\n--" + boundary + "--\r\n";
  RawConn c(host(), 18888);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(
      c.send_all(raw_head("POST", "/files/upload?path=backups", head.size() + kSize + tail.size(),
                          "multipart/form-data; boundary=" + boundary)));
  ASSERT_TRUE(c.send_all(head));
  std::string chunk(1 << 20, 0);
  for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = char(i * 31 % 251);
  uint64_t peak_rss = 0;
  for (uint64_t sent = 0; sent < kSize; sent += chunk.size()) {
    chunk[0] = char(sent >> 20);  // every MiB differs a little
    ASSERT_TRUE(c.send_all(chunk));
    if ((sent >> 20) % 64 == 0)
      peak_rss = std::max(peak_rss, proc_status_kib(agent_->pid(), "VmRSS"));
  }
  ASSERT_TRUE(c.send_all(tail));
  std::string resp = c.read_all();
  EXPECT_NE(resp.find("HTTP/1.1 200"), std::string::npos) << resp.substr(0, 300);
  uint64_t hwm = proc_status_kib(agent_->pid(), "VmHWM");
  std::printf("2 GiB upload: agent VmHWM %.1f MiB, sampled VmRSS peak %.1f MiB\n", hwm / 1024.0,
              peak_rss / 1024.0);
#ifndef ZLH_SANITIZED
  EXPECT_LT(hwm, 64u * 1024) << "agent peak RSS during the upload";
#endif
  struct stat st {};
  ASSERT_EQ(stat((ws_ + "/backups/world.tar").c_str(), &st), 0);
  EXPECT_EQ(uint64_t(st.st_size), kSize);
  // Spot-check content at MiB boundaries.
  int fd = open((ws_ + "/backups/world.tar").c_str(), O_RDONLY);
  for (uint64_t mib : {0ull, 1ull, 777ull, 2047ull}) {
    char b[2];
    ASSERT_EQ(pread(fd, b, 2, off_t(mib << 20)), 2);
    EXPECT_EQ(b[0], char(mib));
    EXPECT_EQ(b[1], char(31 % 251));
  }
  close(fd);
  unlink((ws_ + "/backups/world.tar").c_str());
}

// New files, directories and uploads belong to the dev user, not to the
// (root) agent (docs/design.md §5, §8).
// H2: the user swaps the workspace for a symlink (mv ~/workspace w && ln -s
// <elsewhere> ~/workspace). The agent re-opens the root for every request
// and never follows its last component: every file operation is refused
// until it is a directory again, and nothing outside is read or written.
TEST_F(FilesTest, SymlinkedWorkspaceIsRefusedNotFollowed) {
  start();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(call("PUT", "/files/write?path=mine.txt", "mine").status, 200);
  ASSERT_EQ(::rename(ws_.c_str(), (ws_ + ".real").c_str()), 0);
  ASSERT_EQ(::symlink(outside_.c_str(), ws_.c_str()), 0);
  auto r = call("GET", "/files/read?path=secret.txt");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.body.find("do not touch"), std::string::npos);
  EXPECT_EQ(call("GET", "/files/list").status, 400);
  EXPECT_EQ(call("GET", "/files/download").status, 400);
  EXPECT_EQ(call("PUT", "/files/write?path=planted.txt", "x").status, 400);
  EXPECT_EQ(call("POST", "/files/delete", json{{"paths", {"secret.txt"}}}.dump()).status, 400);
  EXPECT_FALSE(fs::read_file(outside_ + "/planted.txt", 100));
  EXPECT_EQ(fs::read_file(outside_ + "/secret.txt", 100).value_or(""), "do not touch\n");
  // Back to a directory: back to work, on the real workspace.
  ASSERT_EQ(::unlink(ws_.c_str()), 0);
  ASSERT_EQ(::rename((ws_ + ".real").c_str(), ws_.c_str()), 0);
  r = call("GET", "/files/read?path=mine.txt");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "mine");
}

// M3: reading a FIFO neither blocks the agent nor waits for a writer.
TEST_F(FilesTest, FifoIsRefusedAtOnceAndTheAgentStaysResponsive) {
  start();
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(::mkfifo((ws_ + "/pipe").c_str(), 0644), 0);
  for (int i = 0; i < 3; ++i) {
    auto r = http::request("GET", agent_->url("/files/read?path=pipe"),
                           auth("GET", "/files/read?path=pipe"), {}, 10s);
    ASSERT_TRUE(r) << "the read of a FIFO hung: " << r.error().message;
    EXPECT_EQ(r->status, 400) << r->body;
  }
  auto l = http::request("GET", agent_->url("/files/list"), auth("GET", "/files/list"), {}, 10s);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->status, 200);
}

// H2: a root agent acts on the workspace with the dev user's rights: a file
// only root may read (here put there by root; in a container, anything the
// user can make the agent look at) is not read for the user, and a
// directory only root may write is not written.
TEST_F(FilesTest, RootAgentUsesTheDevUsersRights) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (the agent creates the dev account)";
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  start({}, "dev");
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(fs::write_file_atomic(ws_ + "/root-only.txt", "root secret\n", 0600));
  ASSERT_EQ(::chown((ws_ + "/root-only.txt").c_str(), 0, 0), 0);
  auto r = call("GET", "/files/read?path=root-only.txt");
  EXPECT_NE(r.status, 200);
  EXPECT_EQ(r.body.find("root secret"), std::string::npos) << r.body;
  ASSERT_TRUE(fs::make_dirs(ws_ + "/locked", 0755));
  ASSERT_EQ(::chown((ws_ + "/locked").c_str(), 0, 0), 0);
  EXPECT_NE(call("PUT", "/files/write?path=locked/x.txt", "x").status, 200);
  EXPECT_FALSE(fs::read_file(ws_ + "/locked/x.txt", 10));
  ASSERT_TRUE(fs::write_file_atomic(ws_ + "/locked/keep.txt", "keep\n"));
  EXPECT_NE(call("POST", "/files/delete", json{{"paths", {"locked/keep.txt"}}}.dump()).status, 200);
  EXPECT_TRUE(fs::read_file(ws_ + "/locked/keep.txt", 100));
  // The user's own files work as before.
  EXPECT_EQ(call("PUT", "/files/write?path=own.txt", "own").status, 200);
  EXPECT_EQ(call("GET", "/files/read?path=own.txt").body, "own");
}

TEST_F(FilesTest, NewFilesBelongToTheDevUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (the agent creates the dev account)";
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  start({}, "dev");
  ASSERT_FALSE(HasFatalFailure());
  struct stat home {};
  ASSERT_EQ(::stat((root_ + "/home/dev").c_str(), &home), 0);
  ASSERT_NE(home.st_uid, 0u);
  ASSERT_EQ(call("PUT", "/files/write?path=new/dir/a.txt", "a").status, 200);
  ASSERT_EQ(call("POST", "/files/mkdir", json{{"path", "made/here"}}.dump()).status, 200);
  http::Headers h;
  h.add("Content-Type", "multipart/form-data; boundary=XyZ");
  ASSERT_EQ(
      call("POST", "/files/upload?path=up", multipart_body("XyZ", {{"u.bin", "u"}}), h).status,
      200);
  // A hard link to a root-owned file outside (what a dev user could make
  // where fs.protected_hardlinks=0) is not read for them.
  ASSERT_EQ(::link((outside_ + "/secret.txt").c_str(), (ws_ + "/hl.txt").c_str()), 0);
  auto hl = call("GET", "/files/read?path=hl.txt");
  EXPECT_EQ(hl.status, 403) << hl.body;
  EXPECT_EQ(hl.body.find("do not touch"), std::string::npos);
  auto tgz = call("GET", "/files/download");
  ASSERT_EQ(tgz.status, 200);
  ASSERT_TRUE(fs::write_file_atomic(dir_ + "/dl.tar.gz", tgz.body));
  auto listing = run_command({"/bin/tar", "-tzf", dir_ + "/dl.tar.gz"});
  EXPECT_NE(listing.out.find("workspace/up/u.bin"), std::string::npos) << listing.out;
  EXPECT_EQ(listing.out.find("hl.txt"), std::string::npos) << listing.out;
  for (const char* f :
       {"/new", "/new/dir", "/new/dir/a.txt", "/made", "/made/here", "/up", "/up/u.bin"}) {
    struct stat st {};
    ASSERT_EQ(::lstat((ws_ + f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_uid, home.st_uid) << f;
    EXPECT_EQ(st.st_gid, home.st_gid) << f;
  }
}

}  // namespace
}  // namespace zlh::testing
