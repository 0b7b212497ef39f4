#include "api/schedules/cron.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <array>
#include <cctype>
#include <charconv>
#include <optional>
#include <vector>

namespace zlh::api::schedules {
namespace {

using namespace std::chrono;

// One cron field: its name in messages, its bounds and its names.
struct Field {
  const char* name;
  int lo, hi;
  const char* const* names = nullptr;  // names[i] is value lo_name + i
  int names_first = 0;
  int names_count = 0;
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr const char* kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

// Day-of-week takes 0..7 (7 = Sunday) and is folded onto 0..6 afterwards.
const std::array<Field, 5> kFields = {{
    {"minute", 0, 59},
    {"hour", 0, 23},
    {"day-of-month", 1, 31},
    {"month", 1, 12, kMonthNames, 1, 12},
    {"day-of-week", 0, 7, kDayNames, 0, 7},
}};

Error field_error(const Field& f, const std::string& what) {
  return Error::invalid("cron", "cron " + std::string(f.name) + ": " + what);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A number or (where the field has them) a name.
Result<int> parse_value(const Field& f, std::string_view s) {
  if (s.empty()) return fail(field_error(f, "a value is missing"));
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc() && p == s.data() + s.size()) {
    if (v < f.lo || v > f.hi)
      return fail(field_error(
          f, std::string(s) + " is outside " + std::to_string(f.lo) + "-" + std::to_string(f.hi)));
    return v;
  }
  const std::string name = lower(s);
  for (int i = 0; i < f.names_count; ++i)
    if (name == f.names[i]) return f.names_first + i;
  if (s.size() > 16) s = s.substr(0, 16);
  std::string what = "\"";  // built in steps: GCC 12's -Wrestrict misfires on "x" + string
  what.append(s).append("\" is not a number");
  if (f.names) what += " or a name";
  return fail(field_error(f, what));
}

// One item of a list: `*`, `a`, `a-b`, each with an optional `/step`.
Result<void> parse_item(const Field& f, std::string_view item, std::vector<bool>& set) {
  int step = 1;
  bool has_step = false;
  if (auto slash = item.find('/'); slash != std::string_view::npos) {
    std::string_view s = item.substr(slash + 1);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size() || step < 1 ||
        step > f.hi - f.lo + 1)
      return fail(field_error(f, "step \"" + std::string(s.substr(0, 16)) + "\" is not 1-" +
                                     std::to_string(f.hi - f.lo + 1)));
    item = item.substr(0, slash);
    has_step = true;
  }
  int lo = f.lo, hi = f.hi;
  if (item != "*") {
    auto dash = item.find('-');
    auto a = parse_value(f, item.substr(0, dash));
    if (!a) return fail(a.error());
    lo = *a;
    hi = has_step ? f.hi : lo;  // "a/s": a through the maximum
    if (dash != std::string_view::npos) {
      auto b = parse_value(f, item.substr(dash + 1));
      if (!b) return fail(b.error());
      hi = *b;
      if (hi < lo)
        return fail(field_error(
            f, "range " + std::to_string(lo) + "-" + std::to_string(hi) + " is reversed"));
    }
  }
  for (int v = lo; v <= hi; v += step) set[size_t(v - f.lo)] = true;
  return {};
}

// A field's list of items as the set of values it allows.
Result<std::vector<bool>> parse_field(const Field& f, std::string_view text) {
  std::vector<bool> set(size_t(f.hi - f.lo + 1), false);
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view item =
        text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    if (item.empty()) return fail(field_error(f, "an empty item in the list"));
    if (auto r = parse_item(f, item, set); !r) return fail(r.error());
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return set;
}

template <size_t N>
void copy_into(std::bitset<N>& bits, const std::vector<bool>& set, int lo) {
  for (size_t i = 0; i < set.size(); ++i)
    if (set[i]) bits.set(size_t(lo) + i);
}

std::vector<std::string_view> split_fields(std::string_view expr) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < expr.size()) {
    while (i < expr.size() && (expr[i] == ' ' || expr[i] == '\t')) ++i;
    size_t j = i;
    while (j < expr.size() && expr[j] != ' ' && expr[j] != '\t') ++j;
    if (j > i) out.push_back(expr.substr(i, j - i));
    i = j;
  }
  return out;
}

bool day_matches(const CronSpec& s, date::year_month_day ymd) {
  if (!s.months.test(unsigned(ymd.month()))) return false;
  const bool dom = s.days.test(unsigned(ymd.day()));
  const bool dow = s.weekdays.test(date::weekday(date::sys_days(ymd)).c_encoding());
  if (s.days_star || s.weekdays_star) return dom && dow;
  return dom || dow;  // Vixie: both restricted, either matches
}

// The first fire on local day `day` strictly after `after`, if any.
std::optional<sys_seconds> first_fire_on(const CronSpec& s, date::local_days day, sys_seconds after,
                                         const date::time_zone* zone) {
  for (int h = 0; h < 24; ++h) {
    if (!s.hours.test(size_t(h))) continue;
    for (int m = 0; m < 60; ++m) {
      if (!s.minutes.test(size_t(m))) continue;
      const date::local_seconds lt = day + hours(h) + minutes(m);
      const date::local_info info = zone->get_info(lt);
      if (info.result == date::local_info::nonexistent) continue;  // a DST gap: skipped
      // Unique, or ambiguous (the autumn overlap): the first occurrence.
      const sys_seconds t{lt.time_since_epoch() - info.first.offset};
      if (t > after) return t;
    }
  }
  return std::nullopt;
}

}  // namespace

Result<CronSpec> parse_cron(std::string_view expr) {
  if (expr.size() > 256) return fail(Error::invalid("cron", "cron: longer than 256 characters"));
  const auto parts = split_fields(expr);
  if (parts.size() != 5)
    return fail(Error::invalid("cron",
                               "cron: expected 5 fields (minute hour day-of-month month "
                               "day-of-week), got " +
                                   std::to_string(parts.size())));
  std::array<std::vector<bool>, 5> sets;
  for (size_t i = 0; i < 5; ++i) {
    auto set = parse_field(kFields[i], parts[i]);
    if (!set) return fail(set.error());
    sets[i] = std::move(*set);
  }
  CronSpec s;
  copy_into(s.minutes, sets[0], 0);
  copy_into(s.hours, sets[1], 0);
  copy_into(s.days, sets[2], 1);
  copy_into(s.months, sets[3], 1);
  for (size_t d = 0; d < 8; ++d)
    if (sets[4][d]) s.weekdays.set(d % 7);  // 7 is Sunday
  s.days_star = parts[2].front() == '*';
  s.weekdays_star = parts[4].front() == '*';
  return s;
}

Result<const date::time_zone*> find_zone(std::string_view name) {
  if (name.empty() || name.size() > 64)
    return fail(Error::invalid("timezone", "timezone: empty or longer than 64 characters"));
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    return fail(Error::invalid(
        "timezone", "timezone: \"" + std::string(name) + "\" is not in the tz database"));
  }
}

Result<sys_seconds> next_fire(const CronSpec& spec, sys_seconds after,
                              const date::time_zone* zone) {
  // Local days from the one holding `after`; a fire on the day before cannot
  // come later than `after` (offsets move by at most a day's fraction).
  const auto start = date::floor<date::days>(zone->to_local(after)) - date::days(1);
  constexpr int kDays = 28 * 366;  // every weekday/leap-year combination
  for (int i = 0; i <= kDays; ++i) {
    const date::local_days day = start + date::days(i);
    if (!day_matches(spec, date::year_month_day(date::sys_days(day.time_since_epoch())))) continue;
    if (auto t = first_fire_on(spec, day, after, zone)) return *t;
  }
  return fail(Error::invalid("cron", "cron: never fires (no such day in the calendar)"));
}

}  // namespace zlh::api::schedules
