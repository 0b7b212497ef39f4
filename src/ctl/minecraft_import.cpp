#include "ctl/minecraft_import.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <memory>
#include <mutex>
#include <optional>

#include "base/crypto.hpp"
#include "base/fs.hpp"
#include "base/remove_tree.hpp"
#include "ctl/catalog_cmd.hpp"
#include "proto/catalog.hpp"
#include "proto/ids.hpp"
#include "version.hpp"

namespace zlh::ctl {

using nlohmann::json;

namespace {

constexpr uint64_t kManifestMax = uint64_t(16) << 20;
constexpr uint64_t kJsonMax = uint64_t(8) << 20;
constexpr std::chrono::seconds kMetaTimeout{60};
constexpr std::chrono::seconds kJarTimeout{1800};
constexpr const char* kGame = "minecraft";

// ---- JSON helpers: a missing or mistyped field reads as empty ----------------

std::string str_at(const json& o, const char* key) {
  if (!o.is_object()) return {};
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json* obj_at(const json& o, const char* key) {
  if (!o.is_object()) return nullptr;
  auto it = o.find(key);
  return it != o.end() && it->is_object() ? &*it : nullptr;
}

bool is_hex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return s;
}

bool is_http_url(std::string_view u) {
  return u.starts_with("http://") || u.starts_with("https://");
}

// A jar name that can become a path segment of the store.
bool safe_file_name(std::string_view s) { return proto::valid_version(s) && s.ends_with(".jar"); }

std::string trim_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

Error upstream(std::string message) { return Error::make(codes::kUpstream, std::move(message)); }

// A build number: digits only (it becomes a URL segment).
bool is_build_number(std::string_view s) {
  if (s.empty() || s.size() > 12) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// ---- digests ------------------------------------------------------------------

// Streaming OpenSSL digest (sha1, md5) for the publishers' hashes.
class EvpHash {
 public:
  explicit EvpHash(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(ctx_.get(), md, nullptr);
  }
  void update(std::string_view d) { EVP_DigestUpdate(ctx_.get(), d.data(), d.size()); }
  std::string hex() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(ctx_.get(), out, &n);
    return crypto::hex_encode(std::string_view(reinterpret_cast<char*>(out), n));
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

std::unique_ptr<EvpHash> hasher_for(const std::string& algo) {
  if (algo == "sha1") return std::make_unique<EvpHash>(EVP_sha1());
  if (algo == "md5") return std::make_unique<EvpHash>(EVP_md5());
  return nullptr;  // sha256 comes from the ArtifactWriter; "" is unchecked
}

// ---- libcurl ------------------------------------------------------------------

struct CurlCtx {
  CURL* handle;
  const ChunkSink* sink;
  uint64_t max;
  uint64_t got = 0;
  long status = 0;
  bool too_large = false;
  std::optional<Error> sink_error;
};

size_t on_curl_data(char* p, size_t size, size_t n, void* user) {
  auto* c = static_cast<CurlCtx*>(user);
  size_t len = size * n;
  // Bodies of redirects are not delivered; this is the final response.
  if (c->status == 0) curl_easy_getinfo(c->handle, CURLINFO_RESPONSE_CODE, &c->status);
  if (c->status != 200) return 0;
  if (c->got + len > c->max) {
    c->too_large = true;
    return 0;
  }
  c->got += len;
  if (auto r = (*c->sink)(std::string_view(p, len)); !r) {
    c->sink_error = r.error();
    return 0;
  }
  return len;
}

void set_curl_options(CURL* h, const std::string& url, CurlCtx& ctx, std::chrono::seconds timeout,
                      const std::string& agent, char* errbuf) {
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  // Never from https down to http: the hashes come over these connections.
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR,
                   url.starts_with("https://") ? "https" : "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_curl_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &ctx);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, long(timeout.count()));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(ctx.max));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, agent.c_str());
}

// ---- fetching metadata --------------------------------------------------------

Result<std::string> get_small(HttpGet& http, const std::string& url, uint64_t max) {
  std::string body;
  auto r = http.get(url, max, kMetaTimeout, [&](std::string_view chunk) -> Result<void> {
    body.append(chunk);
    return {};
  });
  if (!r) return fail(r.error());
  return body;
}

Result<json> parse_body(const std::string& body, const std::string& url) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return fail(upstream(url + ": not JSON"));
  return j;
}

Result<json> get_json(HttpGet& http, const std::string& url, uint64_t max, const ImportLog& log) {
  if (log) log("fetching " + url);
  auto body = get_small(http, url, max);
  if (!body) return fail(body.error());
  return parse_body(*body, url);
}

}  // namespace

// ---- HTTP -----------------------------------------------------------------------

CurlGet::CurlGet(std::string user_agent) : user_agent_(std::move(user_agent)) {
  if (user_agent_.empty()) user_agent_ = "zlhctl/" + std::string(kVersion);
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Result<void> CurlGet::get(const std::string& url, uint64_t max_bytes, std::chrono::seconds timeout,
                          const ChunkSink& sink) {
  if (!is_http_url(url)) return fail(Error::invalid("url", url + ": only http(s) URLs are used"));
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> h(curl_easy_init(), curl_easy_cleanup);
  if (!h) return fail(codes::kInternal, "curl_easy_init failed");
  CurlCtx ctx{h.get(), &sink, max_bytes, 0, 0, false, std::nullopt};
  char errbuf[CURL_ERROR_SIZE] = {0};
  set_curl_options(h.get(), url, ctx, timeout, user_agent_, errbuf);
  CURLcode rc = curl_easy_perform(h.get());
  if (ctx.sink_error) return fail(*ctx.sink_error);
  if (ctx.too_large || rc == CURLE_FILESIZE_EXCEEDED)
    return fail(codes::kTooLarge, url + ": more than " + std::to_string(max_bytes) + " bytes");
  std::string why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  if (rc == CURLE_OPERATION_TIMEDOUT) return fail(codes::kTimeout, url + ": " + why);
  long status = 0;
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status == 404) return fail(codes::kNotFound, url + ": HTTP 404");
  if (status != 0 && status != 200) return fail(upstream(url + ": HTTP " + std::to_string(status)));
  if (rc != CURLE_OK) return fail(upstream(url + ": " + why));
  return {};
}

// ---- parsers --------------------------------------------------------------------

Result<ManifestRef> manifest_version(const json& manifest, const std::string& version) {
  auto vs = manifest.is_object() ? manifest.find("versions") : manifest.end();
  if (!manifest.is_object() || vs == manifest.end() || !vs->is_array())
    return fail(upstream("version manifest: no \"versions\" list"));
  for (const auto& v : *vs) {
    if (str_at(v, "id") != version) continue;
    ManifestRef ref{str_at(v, "url"), lower(str_at(v, "sha1"))};
    if (!is_http_url(ref.url))
      return fail(upstream("version manifest: " + version + ": url is not http(s)"));
    if (!is_hex(ref.sha1, 40))
      return fail(upstream("version manifest: " + version + ": sha1 is not 40 hex digits"));
    return ref;
  }
  return fail(codes::kNotFound,
              "minecraft " + version + " is not in Mojang's version manifest (see its \"id\"s)");
}

Result<MojangVersion> parse_mojang_version(const json& v, const std::string& version) {
  if (!v.is_object()) return fail(upstream("version JSON: not an object"));
  if (auto id = str_at(v, "id"); !id.empty() && id != version)
    return fail(upstream("version JSON: id is \"" + id + "\", not \"" + version + "\""));
  MojangVersion out;
  out.java = "8";  // no javaVersion: the launcher's legacy runtime, Java 8
  if (const json* jv = obj_at(v, "javaVersion")) {
    auto major = jv->find("majorVersion");
    if (major == jv->end() || !major->is_number_integer() || major->get<int64_t>() < 8 ||
        major->get<int64_t>() > 999)
      return fail(upstream("version JSON: javaVersion.majorVersion is not a Java major version"));
    out.java = std::to_string(major->get<int64_t>());
  }
  const json* dl = obj_at(v, "downloads");
  const json* server = dl ? obj_at(*dl, "server") : nullptr;
  if (!server) return out;
  UpstreamJar& s = out.server;
  s.url = str_at(*server, "url");
  s.algo = "sha1";
  s.digest = lower(str_at(*server, "sha1"));
  s.file_name = "minecraft_server." + version + ".jar";
  s.describe = "Mojang";
  auto size = server->find("size");
  if (!is_http_url(s.url) || !is_hex(s.digest, 40) || size == server->end() ||
      !size->is_number_integer() || size->get<int64_t>() < 0)
    return fail(upstream("version JSON: downloads.server needs url, sha1 and size"));
  s.size = size->get<uint64_t>();
  return out;
}

Result<UpstreamJar> pick_paper_build(const json& builds, const std::string& base,
                                     const std::string& version, const std::string& channel) {
  auto list = builds.is_object() ? builds.find("builds") : builds.end();
  if (!builds.is_object() || list == builds.end() || !list->is_array())
    return fail(upstream("paper builds: no \"builds\" list"));
  const json* best = nullptr;
  int64_t best_no = -1;
  for (const auto& b : *list) {
    if (lower(str_at(b, "channel")) != channel) continue;
    auto no = b.is_object() ? b.find("build") : b.end();
    if (!b.is_object() || no == b.end() || !no->is_number_integer()) continue;
    if (no->get<int64_t>() > best_no) {
      best_no = no->get<int64_t>();
      best = &b;
    }
  }
  if (!best)
    return fail(codes::kNotFound,
                "paper " + version + " has no build in the \"" + channel + "\" channel");
  const json* dl = obj_at(*best, "downloads");
  const json* app = dl ? obj_at(*dl, "application") : nullptr;
  UpstreamJar j;
  j.file_name = app ? str_at(*app, "name") : "";
  j.digest = app ? lower(str_at(*app, "sha256")) : "";
  j.algo = "sha256";
  std::string no = std::to_string(best_no);
  if (!safe_file_name(j.file_name) || !is_hex(j.digest, 64))
    return fail(
        upstream("paper build " + no + ": downloads.application needs a jar name and sha256"));
  j.url = trim_slash(base) + "/v2/projects/paper/versions/" + version + "/builds/" + no +
          "/downloads/" + j.file_name;
  j.describe = "PaperMC build " + no + " (" + channel + ")";
  return j;
}

Result<std::string> purpur_latest_build(const json& v) {
  const json* builds = obj_at(v, "builds");
  auto latest = builds ? builds->find("latest") : json::const_iterator();
  std::string b;
  if (builds && latest != builds->end()) {
    if (latest->is_string()) b = latest->get<std::string>();
    if (latest->is_number_integer()) b = std::to_string(latest->get<int64_t>());
  }
  if (!is_build_number(b)) return fail(upstream("purpur version: no builds.latest build number"));
  return b;
}

Result<UpstreamJar> purpur_build_jar(const json& b, const std::string& base,
                                     const std::string& version, const std::string& build) {
  if (!b.is_object()) return fail(upstream("purpur build " + build + ": not an object"));
  if (auto result = str_at(b, "result"); !result.empty() && result != "SUCCESS")
    return fail(codes::kNotFound, "purpur " + version + " build " + build + " is " + result);
  UpstreamJar j;
  j.algo = "md5";
  j.digest = lower(str_at(b, "md5"));
  if (!is_hex(j.digest, 32)) return fail(upstream("purpur build " + build + ": no md5"));
  j.file_name = "purpur-" + version + "-" + build + ".jar";
  j.url = trim_slash(base) + "/v2/purpur/" + version + "/" + build + "/download";
  j.describe = "Purpur build " + build;
  return j;
}

namespace {

// The version of the first stable entry (or of the first entry); `inner`
// names the object holding version/stable ("loader"), or "" for the entry.
std::string first_stable(const json& list, const char* inner) {
  if (!list.is_array()) return {};
  std::string first;
  for (const auto& e : list) {
    const json* o = *inner ? obj_at(e, inner) : (e.is_object() ? &e : nullptr);
    if (!o) continue;
    std::string v = str_at(*o, "version");
    if (v.empty()) continue;
    if (first.empty()) first = v;
    auto st = o->find("stable");
    if (st != o->end() && st->is_boolean() && st->get<bool>()) return v;
  }
  return first;
}

}  // namespace

Result<UpstreamJar> pick_fabric(const json& loaders, const json& installers,
                                const std::string& base, const std::string& version) {
  std::string loader = first_stable(loaders, "loader");
  std::string installer = first_stable(installers, "");
  if (loader.empty()) return fail(codes::kNotFound, "fabric has no loader for " + version);
  if (installer.empty()) return fail(upstream("fabric meta: no installer versions"));
  if (!proto::valid_version(loader) || !proto::valid_version(installer))
    return fail(upstream("fabric meta: odd loader or installer version"));
  UpstreamJar j;
  j.url = trim_slash(base) + "/v2/versions/loader/" + version + "/" + loader + "/" + installer +
          "/server/jar";
  j.file_name =
      "fabric-server-mc." + version + "-loader." + loader + "-launcher." + installer + ".jar";
  if (!safe_file_name(j.file_name)) j.file_name = "fabric-server-launch.jar";
  j.describe = "Fabric loader " + loader + ", installer " + installer;
  return j;
}

nlohmann::ordered_json minecraft_backup_block() {
  nlohmann::ordered_json b = nlohmann::ordered_json::object();
  b["pause"] = {"save-off", "save-all flush"};
  b["saved"] = "Saved the game";
  b["resume"] = {"save-on"};
  b["timeout_s"] = 120;
  return b;
}

// ---- the command ------------------------------------------------------------------

namespace {

Result<void> check_options(const ImportOptions& o) {
  auto invalid = [](const char* flag, const std::string& msg) {
    return fail(Error::invalid(flag, std::string(flag) + ": " + msg));
  };
  if (o.variant != "vanilla" && o.variant != "paper" && o.variant != "purpur" &&
      o.variant != "fabric")
    return invalid("--variant", "must be vanilla, paper, purpur or fabric");
  if (!proto::valid_version(o.version))
    return invalid("--version", "\"" + o.version + "\" is not a version such as 1.21.4");
  if (!catalog::valid_channel(o.channel))
    return invalid("--channel", "unknown channel \"" + o.channel + "\" (dev, beta, stable)");
  if (o.paper_channel != "default" && o.paper_channel != "experimental")
    return invalid("--paper-channel", "must be default or experimental");
  for (const auto* u : {&o.mojang_url, &o.paper_url, &o.purpur_url, &o.fabric_url})
    if (!is_http_url(*u)) return invalid("--*-url", "\"" + *u + "\" is not an http(s) URL");
  if (auto k = crypto::load_secret_key(o.key); !k) return fail(k.error().wrap("--key"));
  return {};
}

// Mojang's statement about V: the version JSON, checked against the sha1 the
// manifest lists for it.
Result<MojangVersion> resolve_mojang(HttpGet& http, const ImportOptions& o, const ImportLog& log) {
  auto manifest = get_json(http, trim_slash(o.mojang_url) + "/mc/game/version_manifest_v2.json",
                           kManifestMax, log);
  if (!manifest) return fail(manifest.error().wrap("mojang"));
  auto ref = manifest_version(*manifest, o.version);
  if (!ref) return fail(ref.error());
  if (log) log("fetching " + ref->url);
  auto body = get_small(http, ref->url, kJsonMax);
  if (!body) return fail(body.error().wrap("mojang"));
  EvpHash sha1(EVP_sha1());
  sha1.update(*body);
  if (auto got = sha1.hex(); got != ref->sha1)
    return fail(codes::kHashMismatch, "minecraft " + o.version + " version JSON: sha1 is " + got +
                                          ", Mojang's manifest lists " + ref->sha1);
  auto v = parse_body(*body, ref->url);
  if (!v) return fail(v.error());
  return parse_mojang_version(*v, o.version);
}

Result<UpstreamJar> resolve_paper(HttpGet& http, const ImportOptions& o, const ImportLog& log) {
  auto builds = get_json(
      http, trim_slash(o.paper_url) + "/v2/projects/paper/versions/" + o.version + "/builds",
      kJsonMax, log);
  if (!builds) return fail(builds.error().wrap("paper"));
  return pick_paper_build(*builds, o.paper_url, o.version, o.paper_channel);
}

Result<UpstreamJar> resolve_purpur(HttpGet& http, const ImportOptions& o, const ImportLog& log) {
  std::string base = trim_slash(o.purpur_url) + "/v2/purpur/" + o.version;
  auto v = get_json(http, base, kJsonMax, log);
  if (!v) return fail(v.error().wrap("purpur"));
  auto build = purpur_latest_build(*v);
  if (!build) return fail(build.error());
  auto b = get_json(http, base + "/" + *build, kJsonMax, log);
  if (!b) return fail(b.error().wrap("purpur"));
  return purpur_build_jar(*b, o.purpur_url, o.version, *build);
}

Result<UpstreamJar> resolve_fabric(HttpGet& http, const ImportOptions& o, const ImportLog& log) {
  std::string base = trim_slash(o.fabric_url);
  auto loaders = get_json(http, base + "/v2/versions/loader/" + o.version, kJsonMax, log);
  if (!loaders) return fail(loaders.error().wrap("fabric"));
  auto installers = get_json(http, base + "/v2/versions/installer", kJsonMax, log);
  if (!installers) return fail(installers.error().wrap("fabric"));
  return pick_fabric(*loaders, *installers, o.fabric_url, o.version);
}

Result<UpstreamJar> resolve_jar(HttpGet& http, const ImportOptions& o, const MojangVersion& mv,
                                const ImportLog& log) {
  if (o.variant == "paper") return resolve_paper(http, o, log);
  if (o.variant == "purpur") return resolve_purpur(http, o, log);
  if (o.variant == "fabric") return resolve_fabric(http, o, log);
  if (mv.server.url.empty())
    return fail(codes::kNotFound, "minecraft " + o.version + " has no server download");
  return mv.server;
}

// A hidden directory in the store for the download, removed on destruction.
struct ImportTemp {
  std::string path;
  ~ImportTemp() {
    if (!path.empty()) (void)fs::remove_tree(path, {.missing_ok = true});
  }
};

// Streams the jar to `path` hashing it (sha256 always, plus the publisher's
// algorithm) and compares size and hash with what the publisher lists.
Result<ArtifactDigest> download_jar(HttpGet& http, const UpstreamJar& jar, const std::string& path,
                                    uint64_t max_bytes) {
  ArtifactWriter out;
  if (auto r = out.open(path); !r) return fail(r.error());
  auto extra = hasher_for(jar.algo);
  // A listed size is the cap: a longer body stops at once.
  bool listed_cap = jar.size != 0 && jar.size <= max_bytes;
  auto got = http.get(jar.url, listed_cap ? jar.size : max_bytes, kJarTimeout,
                      [&](std::string_view chunk) {
                        if (extra) extra->update(chunk);
                        return out.write(chunk);
                      });
  if (!got && listed_cap && got.error().is(codes::kTooLarge))
    return fail(codes::kHashMismatch, jar.file_name + ": more than the " +
                                          std::to_string(jar.size) + " bytes " + jar.describe +
                                          " lists");
  if (!got) return fail(got.error().wrap("download " + jar.file_name));
  auto digest = out.commit();
  if (!digest) return fail(digest.error());
  if (jar.size != 0 && digest->size != jar.size)
    return fail(codes::kHashMismatch, jar.file_name + ": " + std::to_string(digest->size) +
                                          " bytes, " + jar.describe + " lists " +
                                          std::to_string(jar.size));
  std::string actual = extra ? extra->hex() : digest->sha256;
  if (!jar.algo.empty() && actual != jar.digest)
    return fail(codes::kHashMismatch, jar.file_name + ": " + jar.algo + " is " + actual + ", " +
                                          jar.describe + " lists " + jar.digest);
  return digest;
}

// The catalog's entry for minecraft/<variant> <version>, if any.
Result<std::optional<catalog::Entry>> existing_entry(const ImportOptions& o) {
  auto j = load_catalog_json(o.store);
  if (!j) return fail(j.error());
  auto cat = validate_ordered(*j);
  if (!cat) return fail(cat.error());
  const catalog::Game* g = cat->game(kGame);
  const catalog::Variant* var = g ? g->find(o.variant) : nullptr;
  const catalog::Entry* e = var ? var->find(o.version) : nullptr;
  if (!e) return std::optional<catalog::Entry>();
  return std::optional<catalog::Entry>(*e);
}

AddOptions add_options(const ImportOptions& o, const std::string& file, const std::string& java) {
  AddOptions a;
  a.kind = ItemKind::kGame;
  a.id = kGame;
  a.version = o.version;
  a.file = file;
  a.channel = o.channel;
  a.variant = o.variant;
  a.java = java;
  a.ready = "Done \\(";
  a.game_kind = "jar";
  a.stop_command = "stop";
  if (o.variant == "paper" || o.variant == "purpur") a.mods_dir = "plugins";
  if (o.variant == "fabric") a.mods_dir = "mods";
  a.backup = minecraft_backup_block().dump();
  return a;
}

// Adds the downloaded jar through catalog_add, or finds it already there.
Result<void> add_or_match(const ImportOptions& o, const std::string& file,
                          const ArtifactDigest& digest, ImportResult& res) {
  auto existing = existing_entry(o);
  if (!existing) return fail(existing.error());
  std::string what = "minecraft/" + o.variant + " " + o.version;
  if (*existing) {
    const catalog::Entry& e = **existing;
    if (e.sha256 != digest.sha256)
      return fail(codes::kHashMismatch, what + " is already in the catalog with sha256 " +
                                            e.sha256 + "; the download hashes to " + digest.sha256 +
                                            " (refusing to replace it)");
    res.unchanged = true;
    res.artifact = e.artifact;
    res.java = e.java;
    return {};
  }
  auto added = catalog_add(o.store, add_options(o, file, res.java));
  if (!added) return fail(added.error());
  if (added->sha256 != digest.sha256)
    return fail(codes::kHashMismatch, what + ": the copy in the store hashes differently");
  res.artifact = added->artifact;
  return {};
}

}  // namespace

Result<ImportResult> import_minecraft(const ImportOptions& opt, HttpGet& http,
                                      const ImportLog& log) {
  if (auto r = check_options(opt); !r) return fail(r.error());
  if (auto c = load_catalog_json(opt.store); !c) return fail(c.error());
  auto mojang = resolve_mojang(http, opt, log);
  if (!mojang) return fail(mojang.error());
  auto jar = resolve_jar(http, opt, *mojang, log);
  if (!jar) return fail(jar.error());

  ImportTemp tmp;
  std::string dir = fs::join(opt.store, ".import-" + crypto::random_hex(6));
  if (auto r = fs::make_dirs(dir, 0700); !r) return fail(r.error());
  tmp.path = dir;
  if (log) log("downloading " + jar->url);
  std::string file = dir + "/" + jar->file_name;
  auto digest = download_jar(http, *jar, file, opt.max_jar_bytes);
  if (!digest) return fail(digest.error());

  ImportResult res;
  res.java = mojang->java;
  res.sha256 = digest->sha256;
  res.size = digest->size;
  res.verified = !jar->algo.empty();
  res.source = jar->algo.empty() ? "no checksum published (" + jar->describe + ")"
                                 : jar->algo + " " + jar->digest + " from " + jar->describe;
  if (auto r = add_or_match(opt, file, *digest, res); !r) return fail(r.error());
  if (jar->algo.empty())
    res.notes.push_back(
        "Fabric publishes no checksum: the sha256 of this download is what the catalog now "
        "trusts (trust on first use)");
  auto signed_ = catalog_sign(opt.store, opt.key);
  if (!signed_) return fail(signed_.error());
  res.catalog_sha256 = signed_->catalog_sha256;
  return res;
}

}  // namespace zlh::ctl
