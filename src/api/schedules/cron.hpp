// Cron expressions of schedules (docs/schedules.md): the five fields
// "minute hour day-of-month month day-of-week" of Vixie cron, and the next
// time one fires in a time zone (Howard Hinnant's date/tz over tzdata).
//
// Fields: numbers, `*`, ranges `a-b`, steps `*/s`, `a-b/s` and `a/s` (a
// through the field's maximum), comma lists of those; months jan..dec and
// days sun..sat by name (any case, also inside ranges); day-of-week 0 and 7
// are both Sunday. Vixie's rule: when day-of-month and day-of-week are both
// restricted (neither field starts with `*`), a day matching either fires;
// otherwise both must match.
//
// Time zones: next_fire walks the zone's local calendar. A local time that
// does not exist that day (a spring-forward gap) is skipped, not moved; a
// local time that happens twice (the autumn overlap) fires once, at its
// first occurrence.
//
// Thread-safety: pure functions; a CronSpec is a plain value. find_zone
// reads the tz database, loaded once per process (thread-safe).
#pragma once

#include <bitset>
#include <chrono>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace date {
class time_zone;
}

namespace zlh::api::schedules {

struct CronSpec {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days;        // 1..31
  std::bitset<13> months;      // 1..12
  std::bitset<7> weekdays;     // 0 = Sunday .. 6
  bool days_star = false;      // the day-of-month field starts with `*`
  bool weekdays_star = false;  // the day-of-week field starts with `*`
};

// The expression's fields. E_INVALID (field "cron") with a message naming
// the cron field and what is wrong in it ("cron hour: 24 is outside 0-23").
Result<CronSpec> parse_cron(std::string_view expr);

// The tz database's zone of that name ("UTC", "Europe/Berlin").
// E_INVALID (field "timezone") for a name it does not know.
Result<const date::time_zone*> find_zone(std::string_view name);

// The first time strictly after `after` at which `spec` fires in `zone`,
// whole minutes. E_INVALID (field "cron", "never fires") when no day in the
// next 28 years matches (February 30th, or the 31st of a 30-day month).
Result<std::chrono::sys_seconds> next_fire(const CronSpec& spec, std::chrono::sys_seconds after,
                                           const date::time_zone* zone);

}  // namespace zlh::api::schedules
