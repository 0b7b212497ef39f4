#include "agent/supervisor/backoff.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace zlh::agent::supervisor {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

namespace {

int64_t unix_ms(WallTime w) { return duration_cast<milliseconds>(w.time_since_epoch()).count(); }
WallTime from_unix_ms(int64_t ms) { return WallTime{milliseconds(ms)}; }

}  // namespace

SteadyTime SystemClock::now() const { return std::chrono::steady_clock::now(); }
WallTime SystemClock::wall() const { return std::chrono::system_clock::now(); }

CrashPolicy::CrashPolicy(CrashPolicyConfig cfg, const Clock& clock, uint64_t seed)
    : cfg_(cfg), clock_(&clock), rng_(seed) {
  cfg_.jitter = std::clamp(cfg_.jitter, 0.0, 1.0);
}

void CrashPolicy::on_start() { started_ = clock_->now(); }

CrashPolicy::Decision CrashPolicy::on_crash(int exit_code, int signal, std::string reason) {
  const SteadyTime now = clock_->now();
  ++crash_count_;
  last_crash_at_ = clock_->wall();
  last_exit_ = signal != 0 ? Exit{std::nullopt, signal, std::move(reason)}
                           : Exit{exit_code, std::nullopt, std::move(reason)};
  const bool stable = started_ && now - *started_ >= cfg_.stable_after;
  started_.reset();

  window_.push_back(now);
  while (!window_.empty() && now - window_.front() >= cfg_.crash_window) window_.pop_front();
  if (gave_up_ || static_cast<int>(window_.size()) > cfg_.max_crashes) {
    gave_up_ = true;
    return {false, milliseconds(0)};
  }

  if (stable || backoff_ == milliseconds(0)) {
    backoff_ = cfg_.initial_backoff;
  } else {
    backoff_ = std::min(backoff_ * 2, cfg_.max_backoff);
  }
  return {true, jittered(backoff_)};
}

void CrashPolicy::on_manual_start() {
  gave_up_ = false;
  window_.clear();
  backoff_ = milliseconds(0);
}

void CrashPolicy::on_clean_stop() { started_.reset(); }

int CrashPolicy::crash_count() const { return crash_count_; }
std::optional<WallTime> CrashPolicy::last_crash_at() const { return last_crash_at_; }
std::optional<CrashPolicy::Exit> CrashPolicy::last_exit() const { return last_exit_; }
bool CrashPolicy::gave_up() const { return gave_up_; }
milliseconds CrashPolicy::current_backoff() const { return backoff_; }

milliseconds CrashPolicy::jittered(milliseconds base) {
  // Uniform [0,1) from the top 53 bits: unlike std::uniform_real_distribution
  // this is the same on every standard library, so seeds reproduce anywhere.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  const double factor = 1.0 + cfg_.jitter * (2.0 * u - 1.0);
  return milliseconds(static_cast<int64_t>(static_cast<double>(base.count()) * factor + 0.5));
}

// The steady clock restarts with the machine, so persisted times go through
// the wall clock: a time is stored as "wall now minus its age".
WallTime CrashPolicy::to_wall(SteadyTime t) const {
  return clock_->wall() - duration_cast<WallTime::duration>(clock_->now() - t);
}

SteadyTime CrashPolicy::to_steady(WallTime w) const {
  const auto age = std::max(clock_->wall() - w, WallTime::duration::zero());
  return clock_->now() - duration_cast<SteadyTime::duration>(age);
}

nlohmann::json CrashPolicy::to_json() const {
  const SteadyTime now = clock_->now();
  nlohmann::json times = nlohmann::json::array();
  for (SteadyTime t : window_) {
    if (now - t < cfg_.crash_window) times.push_back(unix_ms(to_wall(t)));
  }
  nlohmann::json j = {
      {"crash_count", crash_count_},    {"crash_times_ms", times},
      {"backoff_ms", backoff_.count()}, {"gave_up", gave_up_},
      {"last_crash_at_ms", nullptr},    {"last_exit", nullptr},
      {"started_at_ms", nullptr},
  };
  if (last_crash_at_) j["last_crash_at_ms"] = unix_ms(*last_crash_at_);
  if (last_exit_) {
    j["last_exit"] = {{"code", nullptr}, {"signal", nullptr}};
    if (last_exit_->code) j["last_exit"]["code"] = *last_exit_->code;
    if (last_exit_->signal) j["last_exit"]["signal"] = *last_exit_->signal;
    if (!last_exit_->reason.empty()) j["last_exit"]["reason"] = last_exit_->reason;
  }
  if (started_) j["started_at_ms"] = unix_ms(to_wall(*started_));
  return j;
}

Result<CrashPolicy> CrashPolicy::from_json(const nlohmann::json& j, CrashPolicyConfig cfg,
                                           const Clock& clock, uint64_t seed) {
  CrashPolicy p(cfg, clock, seed);
  try {
    p.crash_count_ = j.at("crash_count").get<int>();
    p.backoff_ = milliseconds(j.at("backoff_ms").get<int64_t>());
    p.gave_up_ = j.at("gave_up").get<bool>();
    if (p.crash_count_ < 0 || p.backoff_ < milliseconds(0)) {
      return fail(codes::kInvalid, "crash policy state: negative counter");
    }
    std::vector<int64_t> times = j.at("crash_times_ms").get<std::vector<int64_t>>();
    std::sort(times.begin(), times.end());
    for (int64_t ms : times) p.window_.push_back(p.to_steady(from_unix_ms(ms)));
    if (const auto& v = j.at("last_crash_at_ms"); !v.is_null()) {
      p.last_crash_at_ = from_unix_ms(v.get<int64_t>());
    }
    if (const auto& v = j.at("last_exit"); !v.is_null()) {
      Exit e;
      if (!v.at("code").is_null()) e.code = v.at("code").get<int>();
      if (!v.at("signal").is_null()) e.signal = v.at("signal").get<int>();
      e.reason = v.value("reason", "");
      p.last_exit_ = e;
    }
    if (const auto& v = j.at("started_at_ms"); !v.is_null()) {
      p.started_ = p.to_steady(from_unix_ms(v.get<int64_t>()));
    }
  } catch (const nlohmann::json::exception& e) {
    return std::unexpected(Error{codes::kInvalid, "crash policy state: malformed", {}, e.what()});
  }
  return p;
}

}  // namespace zlh::agent::supervisor
