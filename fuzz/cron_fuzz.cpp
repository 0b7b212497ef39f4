// Schedules' cron expressions (api/schedules/cron.hpp): parse_cron on the
// text users send, and next_fire of what parses in UTC and Europe/Berlin.
//
// Input: the expression text.
//
// Invariants: no exception escapes; every refusal is E_INVALID with field
// "cron" and a message starting "cron"; a parsed spec has at least one
// value in every field; next_fire is strictly after its start, on a whole
// minute, and its local minute, hour and month are allowed by the spec;
// a refusal of next_fire says "never fires".
#include <date/date.h>
#include <date/tz.h>

#include "api/schedules/cron.hpp"
#include "fuzz_input.hpp"

namespace sch = zlh::api::schedules;
using namespace std::chrono;

namespace {

void check_next(const sch::CronSpec& spec, const date::time_zone* zone) {
  const sys_seconds after{seconds(1'800'000'000)};
  auto t = sch::next_fire(spec, after, zone);
  if (!t) {
    ZLH_FUZZ_CHECK(t.error().is(zlh::codes::kInvalid), t.error().to_string());
    ZLH_FUZZ_CHECK(t.error().message.find("never fires") != std::string::npos, t.error().message);
    return;
  }
  ZLH_FUZZ_CHECK(*t > after);
  ZLH_FUZZ_CHECK(t->time_since_epoch().count() % 60 == 0);
  const auto local = zone->to_local(*t);
  const auto day = date::floor<date::days>(local);
  const date::hh_mm_ss hms{local - day};
  const date::year_month_day ymd{day};
  ZLH_FUZZ_CHECK(spec.minutes.test(size_t(hms.minutes().count())));
  ZLH_FUZZ_CHECK(spec.hours.test(size_t(hms.hours().count())));
  ZLH_FUZZ_CHECK(spec.months.test(unsigned(ymd.month())));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  zlh::Result<sch::CronSpec> spec;
  try {
    spec = sch::parse_cron(text);
  } catch (const std::exception& e) {
    zlh::fuzz::broken("parse_cron threw", e.what());
  }
  if (!spec) {
    ZLH_FUZZ_CHECK(spec.error().is(zlh::codes::kInvalid) && spec.error().field == "cron",
                   spec.error().to_string());
    ZLH_FUZZ_CHECK(spec.error().message.rfind("cron", 0) == 0, spec.error().message);
    return 0;
  }
  ZLH_FUZZ_CHECK(spec->minutes.any() && spec->hours.any() && spec->days.any() &&
                 spec->months.any() && spec->weekdays.any());
  static const auto* utc = *sch::find_zone("UTC");
  static const auto* berlin = *sch::find_zone("Europe/Berlin");
  try {
    check_next(*spec, utc);
    check_next(*spec, berlin);
  } catch (const std::exception& e) {
    zlh::fuzz::broken("next_fire threw", e.what());
  }
  return 0;
}
