// Prometheus text-format metrics (docs/design.md §13).
//
// Counters and gauges are identified by name + a label string already in
// Prometheus syntax (`route="/health",code="200"`, or empty). Collectors are
// callbacks that append dynamic samples at render time (RSS, state, ...).
//
// Thread-safety: all methods may be called from any thread. add() (every
// request) goes to a shard of the calling thread, so io threads never wait
// on each other's lock (a thread preempted while holding a shared lock
// would stall every request of the others); render() sums the shards. A
// series is either set() or add()ed, not both.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zlh::metrics {

class Registry {
 public:
  void describe(std::string name, std::string type, std::string help);
  void add(std::string_view name, std::string_view labels, double v = 1);
  // Several adds under one lock (the per-request counters).
  struct Sample {
    std::string_view name;
    std::string_view labels;
    double v;
  };
  void add(std::initializer_list<Sample> samples);
  // Series looked up once in the calling thread's shard, then added to
  // with no lookup (per-request counters whose labels repeat): `out[i]` is
  // the value of `series[i]`, guarded by the returned lock. For the calling
  // thread only; valid as long as the registry (see id()).
  std::mutex& cells(std::span<const std::pair<std::string_view, std::string_view>> series,
                    std::span<double*> out);
  uint64_t id() const { return id_; }  // never reused, unlike an address
  void set(std::string_view name, std::string_view labels, double v);
  // Called during render(); appends complete sample lines ("name{..} value\n").
  void add_collector(std::function<void(std::string& out)> c);
  std::string render() const;

 private:
  using Series = std::map<std::string, std::map<std::string, double, std::less<>>,
                          std::less<>>;  // name → labels → value
  struct Shard {
    std::mutex mu;  // taken by its thread per add, and by render()
    Series values;
  };
  Shard& shard();  // the calling thread's

  mutable std::mutex mu_;
  std::map<std::string, std::pair<std::string, std::string>> meta_;  // name → type, help
  Series values_;                                                    // set()
  std::vector<std::function<void(std::string&)>> collectors_;
  mutable std::mutex shards_mu_;
  std::vector<std::unique_ptr<Shard>> shards_;  // add(), one per thread that added
  const uint64_t id_ = next_id();               // never reused, unlike an address
  static uint64_t next_id();
};

// Escapes a label value for the text format.
std::string label_escape(std::string_view v);
// Resident set size of this process in bytes (from /proc/self/statm), 0 if unknown.
long resident_bytes();

}  // namespace zlh::metrics
