#include "base/metrics.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>

namespace zlh::metrics {

void Registry::describe(std::string name, std::string type, std::string help) {
  std::lock_guard lk(mu_);
  meta_[std::move(name)] = {std::move(type), std::move(help)};
}

void Registry::add(std::string_view name, std::string_view labels, double v) {
  add({{name, labels, v}});
}

uint64_t Registry::next_id() {
  static std::atomic<uint64_t> n{0};
  return ++n;
}

Registry::Shard& Registry::shard() {
  // This thread's shards, by registry id (a handful of registries at most).
  thread_local std::vector<std::pair<uint64_t, Shard*>> mine;
  for (const auto& [id, sh] : mine)
    if (id == id_) return *sh;
  std::lock_guard lk(shards_mu_);
  shards_.push_back(std::make_unique<Shard>());
  mine.emplace_back(id_, shards_.back().get());
  return *shards_.back();
}

void Registry::add(std::initializer_list<Sample> samples) {
  // Hot (every request): this thread's shard, looked up without building strings.
  Shard& sh = shard();
  std::lock_guard lk(sh.mu);
  for (const auto& s : samples) {
    auto n = sh.values.find(s.name);
    if (n == sh.values.end())
      n = sh.values.emplace(std::string(s.name), std::map<std::string, double, std::less<>>{})
              .first;
    auto l = n->second.find(s.labels);
    if (l == n->second.end()) l = n->second.emplace(std::string(s.labels), 0.0).first;
    l->second += s.v;
  }
}

std::mutex& Registry::cells(std::span<const std::pair<std::string_view, std::string_view>> series,
                            std::span<double*> out) {
  Shard& sh = shard();
  std::lock_guard lk(sh.mu);
  for (size_t i = 0; i < series.size() && i < out.size(); ++i) {
    auto n = sh.values.find(series[i].first);
    if (n == sh.values.end())
      n = sh.values
              .emplace(std::string(series[i].first), std::map<std::string, double, std::less<>>{})
              .first;
    auto l = n->second.find(series[i].second);
    if (l == n->second.end()) l = n->second.emplace(std::string(series[i].second), 0.0).first;
    out[i] = &l->second;  // map nodes stay put
  }
  return sh.mu;
}

void Registry::set(std::string_view name, std::string_view labels, double v) {
  std::lock_guard lk(mu_);
  values_[std::string(name)][std::string(labels)] = v;
}

void Registry::add_collector(std::function<void(std::string&)> c) {
  std::lock_guard lk(mu_);
  collectors_.push_back(std::move(c));
}

std::string Registry::render() const {
  std::string out;
  std::vector<std::function<void(std::string&)>> collectors;
  Series all;
  {
    std::lock_guard lk(shards_mu_);
    for (const auto& sh : shards_) {
      std::lock_guard slk(sh->mu);
      for (const auto& [name, series] : sh->values)
        for (const auto& [labels, v] : series) all[name][labels] += v;
    }
  }
  {
    std::lock_guard lk(mu_);
    for (const auto& [name, series] : values_)
      for (const auto& [labels, v] : series) all[name][labels] = v;
    for (const auto& [name, series] : all) {
      auto m = meta_.find(name);
      if (m != meta_.end()) {
        out += "# HELP " + name + " " + m->second.second + "\n";
        out += "# TYPE " + name + " " + m->second.first + "\n";
      }
      for (const auto& [labels, v] : series) {
        char num[64];
        std::snprintf(num, sizeof num, "%.17g", v);
        out += name;
        if (!labels.empty()) out += "{" + labels + "}";
        out += " ";
        out += num;
        out += "\n";
      }
    }
    collectors = collectors_;
  }
  for (const auto& c : collectors) c(out);
  return out;
}

std::string label_escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

long resident_bytes() {
  std::ifstream in("/proc/self/statm");
  long size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace zlh::metrics
