#include "ctl/store_migrate.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

#include "api/store/pg_url.hpp"
#include "base/fs.hpp"

namespace zlh::ctl {
namespace {

Result<std::string> password_from_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail(codes::kNotFound, path + ": no such file");
  if ((st.st_mode & 077) != 0)
    return fail(codes::kInvalid, path + ": readable by others; chmod 600 it");
  auto text = fs::read_file(path, 4096);
  if (!text) return fail(text.error());
  std::string pw = text->substr(0, text->find('\n'));
  if (!pw.empty() && pw.back() == '\r') pw.pop_back();
  if (pw.empty()) return fail(codes::kInvalid, path + ": empty password");
  return pw;
}

}  // namespace

Result<std::string> sqlite_source_path(std::string_view from) {
  std::string_view path = from;
  if (from.starts_with("sqlite:"))
    path = from.substr(7);
  else if (from.find("://") != std::string_view::npos)
    return fail(codes::kInvalid, "--from must be sqlite:<path>");
  if (path.empty()) return fail(codes::kInvalid, "--from: empty path");
  return std::string(path);
}

Result<std::string> store_target_conninfo(std::string_view url, const std::string& password_file,
                                          const std::function<const char*(const char*)>& getenv) {
  auto parsed = api::store::pg_conninfo_from_url(url);
  if (!parsed) return fail(parsed.error());
  if (parsed->pool != 0)
    return fail(codes::kInvalid, "--to: pool= is for zlh-api, not for store migrate");
  if (!password_file.empty()) {
    auto pw = password_from_file(password_file);
    if (!pw) return fail(pw.error());
    return api::store::pg_conninfo_with_password(parsed->conninfo, *pw);
  }
  for (const char* var : {"ZLH_STORE_PASSWORD", "PGPASSWORD"})
    if (const char* pw = getenv(var); pw != nullptr && *pw != '\0')
      return api::store::pg_conninfo_with_password(parsed->conninfo, pw);
  return parsed->conninfo;
}

Result<api::store::CopyReport> store_migrate(const StoreMigrateOptions& o, int64_t now_ms) {
  auto from = sqlite_source_path(o.from);
  if (!from) return fail(from.error());
  auto to = store_target_conninfo(o.to, o.to_password_file);
  if (!to) return fail(to.error());
  return api::store::copy_sqlite_to_postgres(*from, *to, now_ms);
}

std::string format_report(const api::store::CopyReport& r, std::string_view to) {
  std::string out;
  int64_t total = 0;
  char line[128];
  for (const auto& t : r.tables) {
    std::snprintf(line, sizeof line, "%-20s %10lld\n", t.name.c_str(),
                  static_cast<long long>(t.rows));
    out += line;
    total += t.rows;
  }
  out += "copied " + std::to_string(total) + " rows in " + std::to_string(r.tables.size()) +
         " tables to " + std::string(to) + " at schema version " + std::to_string(r.version);
  if (r.target_migrations > 0)
    out += " (the target was empty: " + std::to_string(r.target_migrations) +
           " migrations applied first)";
  return out + "\n";
}

}  // namespace zlh::ctl
