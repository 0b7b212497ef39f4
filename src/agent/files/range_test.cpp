#include "agent/files/range.hpp"

#include <gtest/gtest.h>

#include <string>

namespace zlh::agent::files {
namespace {

void expect_partial(std::string_view h, uint64_t size, uint64_t first, uint64_t last) {
  RangeResult r = parse_range(h, size);
  ASSERT_EQ(r.kind, RangeKind::kPartial) << h << " size " << size;
  EXPECT_EQ(r.range.first, first) << h;
  EXPECT_EQ(r.range.last, last) << h;
}

void expect_full(std::optional<std::string_view> h, uint64_t size) {
  RangeResult r = parse_range(h, size);
  ASSERT_EQ(r.kind, RangeKind::kFull) << h.value_or("<none>") << " size " << size;
  EXPECT_EQ(r.range.first, 0u);
  EXPECT_EQ(r.range.last, size == 0 ? 0 : size - 1);
}

void expect_unsatisfiable(std::string_view h, uint64_t size) {
  EXPECT_EQ(parse_range(h, size).kind, RangeKind::kUnsatisfiable) << h << " size " << size;
}

TEST(RangeTest, NoHeaderIsFull) {
  expect_full(std::nullopt, 100);
  expect_full(std::nullopt, 0);
}

TEST(RangeTest, ClosedRanges) {
  expect_partial("bytes=0-0", 100, 0, 0);
  expect_partial("bytes=0-99", 100, 0, 99);
  expect_partial("bytes=10-19", 100, 10, 19);
  expect_partial("bytes=99-99", 100, 99, 99);
  expect_partial("bytes=50-1000", 100, 50, 99);  // clamped
  expect_partial("bytes=0-18446744073709551615", 100, 0, 99);
  expect_partial("bytes=0-99999999999999999999999", 100, 0, 99);  // overflow = infinite
  expect_partial("BYTES=1-2", 100, 1, 2);
  expect_partial("Bytes=1-2", 100, 1, 2);
  expect_partial("  bytes= 1-2 ", 100, 1, 2);
  expect_partial("bytes=007-010", 100, 7, 10);
}

TEST(RangeTest, OpenRanges) {
  expect_partial("bytes=0-", 100, 0, 99);
  expect_partial("bytes=42-", 100, 42, 99);
  expect_partial("bytes=99-", 100, 99, 99);
  expect_partial("bytes=5000000000-", 6000000000ull, 5000000000ull, 5999999999ull);
}

TEST(RangeTest, SuffixRanges) {
  expect_partial("bytes=-1", 100, 99, 99);
  expect_partial("bytes=-10", 100, 90, 99);
  expect_partial("bytes=-100", 100, 0, 99);
  expect_partial("bytes=-500", 100, 0, 99);
  expect_partial("bytes=-99999999999999999999999", 100, 0, 99);
  expect_unsatisfiable("bytes=-0", 100);
  expect_unsatisfiable("bytes=-000", 100);
}

TEST(RangeTest, Unsatisfiable) {
  expect_unsatisfiable("bytes=100-", 100);
  expect_unsatisfiable("bytes=100-200", 100);
  expect_unsatisfiable("bytes=99999999999999999999999-", 100);
  expect_unsatisfiable("bytes=0-0", 0);
  expect_unsatisfiable("bytes=0-", 0);
  expect_unsatisfiable("bytes=-5", 0);
}

TEST(RangeTest, IgnoredHeadersServeTheFullFile) {
  for (std::string_view h : {
           "",
           "bytes",
           "bytes=",
           "bytes=,",
           "bytes=-",
           "bytes=abc",
           "bytes=5",
           "bytes=5-4",  // last < first
           "bytes=1-2-3",
           "bytes=+1-2",
           "bytes=1 -2",
           "bytes=1-2 3",
           "bytes=0x1-2",
           "bytes=-1-2",
           "bytes =1-2",
           "bits=1-2",
           "items=0-5",
           "bytesx=1-2",
           "bytes=0-1,5-6",  // several ranges
           "bytes=0-1, -5",
       }) {
    expect_full(h, 100);
  }
  expect_full(std::string_view("bytes=1-2\0", 10), 100);
  expect_full("bytes=5-4", 0);
  expect_full("bytes=0-1,2-3", 0);
}

TEST(RangeTest, EmptyListElementsAreIgnored) {
  expect_partial("bytes=1-2,", 100, 1, 2);
  expect_partial("bytes=, 1-2 ,,", 100, 1, 2);
}

TEST(RangeTest, ContentRangeValues) {
  EXPECT_EQ(content_range({0, 0}, 1), "bytes 0-0/1");
  EXPECT_EQ(content_range({10, 19}, 100), "bytes 10-19/100");
  EXPECT_EQ(content_range({5000000000ull, 5999999999ull}, 6000000000ull),
            "bytes 5000000000-5999999999/6000000000");
  EXPECT_EQ(unsatisfied_content_range(100), "bytes */100");
  EXPECT_EQ(unsatisfied_content_range(0), "bytes */0");
}

}  // namespace
}  // namespace zlh::agent::files
