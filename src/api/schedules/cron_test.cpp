#include "api/schedules/cron.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <gtest/gtest.h>

namespace zlh::api::schedules {
namespace {

using namespace std::chrono;
using date::operator""_y;
using date::operator""_d;

// A UTC instant from its calendar fields.
sys_seconds utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0) {
  return sys_seconds{
      date::sys_days{date::year{y} / date::month{mo} / date::day{d}}.time_since_epoch() + hours(h) +
      minutes(mi)};
}

std::string iso(sys_seconds t) { return date::format("%F %R", t); }

// The next `n` fires of `expr` in `tz` after `after`, as "YYYY-MM-DD HH:MM" UTC.
std::vector<std::string> fires(const std::string& expr, const std::string& tz, sys_seconds after,
                               int n) {
  auto spec = parse_cron(expr);
  EXPECT_TRUE(spec) << expr << ": " << spec.error().message;
  auto zone = find_zone(tz);
  EXPECT_TRUE(zone);
  std::vector<std::string> out;
  for (int i = 0; i < n && spec && zone; ++i) {
    auto t = next_fire(*spec, after, *zone);
    if (!t) {
      out.push_back("error: " + t.error().message);
      break;
    }
    out.push_back(iso(*t));
    after = *t;
  }
  return out;
}

std::string parse_error(const std::string& expr) {
  auto r = parse_cron(expr);
  if (r) return "parsed";
  EXPECT_EQ(r.error().code, codes::kInvalid);
  EXPECT_EQ(r.error().field, "cron");
  return r.error().message;
}

TEST(Cron, EveryMinuteIsStrictlyAfter) {
  EXPECT_EQ(fires("* * * * *", "UTC", utc(2026, 12, 31, 23, 59), 2),
            (std::vector<std::string>{"2027-01-01 00:00", "2027-01-01 00:01"}));
  // Seconds into a minute: the next whole minute.
  EXPECT_EQ(fires("* * * * *", "UTC", utc(2026, 5, 1, 10, 0) + seconds(1), 1),
            (std::vector<std::string>{"2026-05-01 10:01"}));
}

TEST(Cron, StepsRangesAndLists) {
  EXPECT_EQ(fires("*/20 * * * *", "UTC", utc(2026, 5, 1, 10, 0), 3),
            (std::vector<std::string>{"2026-05-01 10:20", "2026-05-01 10:40", "2026-05-01 11:00"}));
  EXPECT_EQ(fires("1-10/4 3 * * *", "UTC", utc(2026, 5, 1), 4),
            (std::vector<std::string>{"2026-05-01 03:01", "2026-05-01 03:05", "2026-05-01 03:09",
                                      "2026-05-02 03:01"}));
  EXPECT_EQ(fires("0 6,18 * * *", "UTC", utc(2026, 5, 1, 7), 2),
            (std::vector<std::string>{"2026-05-01 18:00", "2026-05-02 06:00"}));
  // "a/s": a through the maximum.
  EXPECT_EQ(fires("50/5 0 * * *", "UTC", utc(2026, 5, 1), 3),
            (std::vector<std::string>{"2026-05-01 00:50", "2026-05-01 00:55", "2026-05-02 00:50"}));
}

TEST(Cron, NamesAnyCaseAndSundayTwice) {
  auto a = parse_cron("0 12 * * 0"), b = parse_cron("0 12 * * 7"), c = parse_cron("0 12 * * SUN");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->weekdays, b->weekdays);
  EXPECT_EQ(a->weekdays, c->weekdays);
  EXPECT_EQ(a->weekdays.count(), 1u);
  auto weekend = parse_cron("0 0 * * 6-7");
  ASSERT_TRUE(weekend);
  EXPECT_TRUE(weekend->weekdays.test(0) && weekend->weekdays.test(6));
  EXPECT_EQ(weekend->weekdays.count(), 2u);
  // 2026-05-01 is a Friday.
  EXPECT_EQ(fires("30 9 * * mon-Fri", "UTC", utc(2026, 5, 1, 10), 2),
            (std::vector<std::string>{"2026-05-04 09:30", "2026-05-05 09:30"}));
  EXPECT_EQ(fires("0 0 1 jan,JUL *", "UTC", utc(2026, 5, 1), 2),
            (std::vector<std::string>{"2026-07-01 00:00", "2027-01-01 00:00"}));
}

TEST(Cron, DayOfMonthOrDayOfWeekWhenBothRestricted) {
  // The 13th or a Monday (2026-02-13 is a Friday; Mondays 2, 9, 16).
  EXPECT_EQ(fires("0 0 13 * 1", "UTC", utc(2026, 2, 1), 4),
            (std::vector<std::string>{"2026-02-02 00:00", "2026-02-09 00:00", "2026-02-13 00:00",
                                      "2026-02-16 00:00"}));
  // A field starting with `*` is not restricted: both must match (odd days
  // that are Mondays: the 9th and the 23rd).
  EXPECT_EQ(fires("0 0 */2 * 1", "UTC", utc(2026, 2, 1), 2),
            (std::vector<std::string>{"2026-02-09 00:00", "2026-02-23 00:00"}));
  EXPECT_EQ(fires("0 0 13 * *", "UTC", utc(2026, 2, 1), 1),
            (std::vector<std::string>{"2026-02-13 00:00"}));
}

TEST(Cron, MonthEndsAndLeapDays) {
  EXPECT_EQ(fires("0 0 31 * *", "UTC", utc(2026, 4, 1), 3),
            (std::vector<std::string>{"2026-05-31 00:00", "2026-07-31 00:00", "2026-08-31 00:00"}));
  EXPECT_EQ(fires("0 12 29 2 *", "UTC", utc(2026, 3, 1), 3),
            (std::vector<std::string>{"2028-02-29 12:00", "2032-02-29 12:00", "2036-02-29 12:00"}));
  // 2100 is not a leap year.
  EXPECT_EQ(fires("0 0 29 2 *", "UTC", utc(2096, 3, 1), 1),
            (std::vector<std::string>{"2104-02-29 00:00"}));
  EXPECT_EQ(fires("59 23 31 12 *", "UTC", utc(2026, 12, 31, 23, 59), 1),
            (std::vector<std::string>{"2027-12-31 23:59"}));
}

TEST(Cron, ImpossibleDaysNeverFire) {
  for (const char* expr : {"0 0 30 2 *", "0 0 31 4,6,9,11 *"}) {
    auto spec = parse_cron(expr);
    ASSERT_TRUE(spec) << expr;
    auto t = next_fire(*spec, utc(2026, 1, 1), *find_zone("UTC"));
    ASSERT_FALSE(t) << expr;
    EXPECT_EQ(t.error().field, "cron");
    EXPECT_NE(t.error().message.find("never fires"), std::string::npos);
  }
  // Restricted day-of-week rescues an impossible day (either matches).
  EXPECT_EQ(fires("0 0 30 2 1", "UTC", utc(2026, 2, 1), 1),
            (std::vector<std::string>{"2026-02-02 00:00"}));
}

// Europe/Berlin 2026: 2026-03-29 02:00 CET → 03:00 CEST (01:00 UTC);
// 2026-10-25 03:00 CEST → 02:00 CET (01:00 UTC).
TEST(Cron, BerlinSpringForwardSkipsTheMissingTime) {
  // 02:30 does not exist on the 29th: that day has no fire.
  EXPECT_EQ(fires("30 2 * * *", "Europe/Berlin", utc(2026, 3, 27, 12), 3),
            (std::vector<std::string>{"2026-03-28 01:30", "2026-03-30 00:30", "2026-03-31 00:30"}));
  // Hourly: 01:00 CET, then 03:00 CEST; nothing at the missing 02:00.
  EXPECT_EQ(fires("0 * * * *", "Europe/Berlin", utc(2026, 3, 28, 23, 30), 3),
            (std::vector<std::string>{"2026-03-29 00:00", "2026-03-29 01:00", "2026-03-29 02:00"}));
  // A time after the gap is unaffected and moves one hour earlier in UTC.
  EXPECT_EQ(fires("0 4 * * *", "Europe/Berlin", utc(2026, 3, 28, 12), 2),
            (std::vector<std::string>{"2026-03-29 02:00", "2026-03-30 02:00"}));
}

TEST(Cron, BerlinFallBackFiresTheRepeatedTimeOnce) {
  EXPECT_EQ(fires("30 2 * * *", "Europe/Berlin", utc(2026, 10, 24, 12), 2),
            (std::vector<std::string>{"2026-10-25 00:30", "2026-10-26 01:30"}));
  // Hourly across the overlap: 02:00 local comes once (its first time).
  EXPECT_EQ(fires("0 * * * *", "Europe/Berlin", utc(2026, 10, 24, 23, 30), 3),
            (std::vector<std::string>{"2026-10-25 00:00", "2026-10-25 02:00", "2026-10-25 03:00"}));
  // Asked from inside the second 02:xx, the repeated minutes do not fire again.
  EXPECT_EQ(fires("45 2 * * *", "Europe/Berlin", utc(2026, 10, 25, 1, 10), 1),
            (std::vector<std::string>{"2026-10-26 01:45"}));
}

TEST(Cron, OtherZones) {
  EXPECT_EQ(fires("0 9 * * *", "America/New_York", utc(2026, 7, 1), 1),
            (std::vector<std::string>{"2026-07-01 13:00"}));
  // Half-hour offsets.
  EXPECT_EQ(fires("0 0 * * *", "Asia/Kolkata", utc(2026, 7, 1), 1),
            (std::vector<std::string>{"2026-07-01 18:30"}));
}

TEST(Cron, ErrorsNameTheField) {
  EXPECT_NE(parse_error("* * * *").find("expected 5 fields"), std::string::npos);
  EXPECT_NE(parse_error("* * * * * *").find("got 6"), std::string::npos);
  EXPECT_NE(parse_error("").find("got 0"), std::string::npos);
  EXPECT_EQ(parse_error("60 * * * *"), "cron minute: 60 is outside 0-59");
  EXPECT_EQ(parse_error("* 24 * * *"), "cron hour: 24 is outside 0-23");
  EXPECT_EQ(parse_error("* * 0 * *"), "cron day-of-month: 0 is outside 1-31");
  EXPECT_EQ(parse_error("* * * 13 *"), "cron month: 13 is outside 1-12");
  EXPECT_EQ(parse_error("* * * * 8"), "cron day-of-week: 8 is outside 0-7");
  EXPECT_EQ(parse_error("*/0 * * * *"), "cron minute: step \"0\" is not 1-60");
  EXPECT_EQ(parse_error("* */x * * *"), "cron hour: step \"x\" is not 1-24");
  EXPECT_EQ(parse_error("5-1 * * * *"), "cron minute: range 5-1 is reversed");
  EXPECT_EQ(parse_error("a * * * *"), "cron minute: \"a\" is not a number");
  EXPECT_EQ(parse_error("* * * foo *"), "cron month: \"foo\" is not a number or a name");
  EXPECT_EQ(parse_error("1,,2 * * * *"), "cron minute: an empty item in the list");
  EXPECT_EQ(parse_error("1, * * * *"), "cron minute: an empty item in the list");
  EXPECT_EQ(parse_error("-5 * * * *"), "cron minute: a value is missing");
  EXPECT_EQ(parse_error("* * * * mon-"), "cron day-of-week: a value is missing");
  EXPECT_EQ(parse_error("+5 * * * *"), "cron minute: \"+5\" is not a number");
  EXPECT_EQ(parse_error("@daily"),
            "cron: expected 5 fields (minute hour day-of-month month "
            "day-of-week), got 1");
  EXPECT_EQ(parse_error(std::string(300, '*')), "cron: longer than 256 characters");
}

TEST(Cron, TabsAndRepeatedSpacesSeparate) { EXPECT_TRUE(parse_cron("  0\t4  * *   * ")); }

TEST(Cron, ZonesByName) {
  EXPECT_TRUE(find_zone("UTC"));
  EXPECT_TRUE(find_zone("Europe/Berlin"));
  for (const char* bad : {"Mars/Olympus", "", "../../etc/passwd", "europe/berlin"}) {
    auto z = find_zone(bad);
    ASSERT_FALSE(z) << bad;
    EXPECT_EQ(z.error().code, codes::kInvalid);
    EXPECT_EQ(z.error().field, "timezone");
  }
}

}  // namespace
}  // namespace zlh::api::schedules
