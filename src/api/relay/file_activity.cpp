#include "api/relay/file_activity.hpp"

#include <vector>

namespace zlh::api::relay {
namespace {

constexpr size_t kMaxString = 1024;
constexpr size_t kMaxPaths = 20;

std::string cut(std::string s) {
  if (s.size() <= kMaxString) return s;
  size_t n = kMaxString;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s;
}

nlohmann::json string_of(const nlohmann::json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_string()) return nullptr;
  return cut(it->get<std::string>());
}

std::vector<std::string_view> segments(std::string_view p) {
  std::vector<std::string_view> out;
  while (!p.empty()) {
    size_t slash = p.find('/');
    std::string_view seg = p.substr(0, slash);
    if (!seg.empty()) out.push_back(seg);
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash + 1);
  }
  return out;
}

std::optional<FileChange> mods_change(std::string_view method,
                                      const std::vector<std::string_view>& seg) {
  if (method == "POST" && seg.size() == 2 && seg[1] == "install")
    return FileChange{"mods.install", nlohmann::json::object()};
  if (method == "POST" && seg.size() == 3 && (seg[2] == "enable" || seg[2] == "disable"))
    return FileChange{"mods." + std::string(seg[2]), {{"id", cut(std::string(seg[1]))}}};
  if (method == "DELETE" && seg.size() == 2)
    return FileChange{"mods.delete", {{"id", cut(std::string(seg[1]))}}};
  return std::nullopt;
}

}  // namespace

std::optional<FileChange> streamed_change(std::string_view method, std::string_view rest,
                                          std::optional<std::string> path_param) {
  auto seg = segments(rest);
  if (seg.empty()) return std::nullopt;
  if (seg[0] == "mods") return mods_change(method, seg);
  if (seg[0] != "files" || seg.size() != 2) return std::nullopt;
  nlohmann::json detail = {{"path", path_param ? nlohmann::json(cut(*path_param)) : nullptr}};
  if (method == "PUT" && seg[1] == "write") return FileChange{"files.write", std::move(detail)};
  if (method == "POST" && seg[1] == "upload") return FileChange{"files.upload", std::move(detail)};
  return std::nullopt;
}

FileChange json_op_change(std::string_view op, std::string_view body) {
  FileChange c{"files." + std::string(op), nlohmann::json::object()};
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return c;
  if (op == "mkdir") {
    c.detail["path"] = string_of(j, "path");
  } else if (op == "rename") {
    c.detail["path"] = string_of(j, "from");
    c.detail["to"] = string_of(j, "to");
  } else if (op == "delete") {
    nlohmann::json paths = nlohmann::json::array();
    size_t count = 0;
    if (auto it = j.find("paths"); it != j.end() && it->is_array()) {
      count = it->size();
      for (const auto& p : *it) {
        if (paths.size() == kMaxPaths) break;
        if (p.is_string()) paths.push_back(cut(p.get<std::string>()));
      }
    }
    c.detail["paths"] = std::move(paths);
    c.detail["count"] = count;
  }
  return c;
}

}  // namespace zlh::api::relay
