#include "shim/ring.hpp"

#include <gtest/gtest.h>

#include <string>

namespace zlh::shim {
namespace {

// Bytes whose value depends on their absolute position, so that any
// misordering or off-by-one in the ring shows up.
std::string pattern(size_t from, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char('a' + (from + i) % 23);
  return s;
}

TEST(Ring, CapacityIsAtLeastTheMinimum) {
  EXPECT_EQ(Ring(0).capacity(), Ring::kMinCapacity);
  EXPECT_EQ(Ring(1000).capacity(), Ring::kMinCapacity);
  EXPECT_EQ(Ring().capacity(), Ring::kDefaultCapacity);
  EXPECT_EQ(Ring(Ring::kMinCapacity + 1).capacity(), Ring::kMinCapacity + 1);
}

TEST(Ring, EmptySnapshot) {
  Ring r;
  EXPECT_EQ(r.snapshot(), "");
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.total_written(), 0u);
  r.append("");
  EXPECT_EQ(r.snapshot(), "");
}

TEST(Ring, KeepsEverythingBelowCapacityInOrder) {
  Ring r;
  r.append("hello ");
  r.append("world");
  EXPECT_EQ(r.snapshot(), "hello world");
  EXPECT_EQ(r.size(), 11u);
  EXPECT_EQ(r.total_written(), 11u);
}

TEST(Ring, WrapsAroundKeepingTheNewestBytes) {
  Ring r(Ring::kMinCapacity);
  const size_t cap = r.capacity();
  size_t written = 0;
  // Odd chunk sizes so the head lands everywhere, including exactly at the end.
  for (size_t chunk : {1000u, 7u, 4096u, 65536u, 12345u, 1u, 30000u, 65535u, 2u}) {
    r.append(pattern(written, chunk));
    written += chunk;
    size_t keep = std::min(written, cap);
    ASSERT_EQ(r.size(), keep);
    ASSERT_EQ(r.snapshot(), pattern(written - keep, keep)) << "after " << written;
    ASSERT_EQ(r.total_written(), written);
  }
}

TEST(Ring, ExactlyFullThenOneMore) {
  Ring r(Ring::kMinCapacity);
  r.append(pattern(0, r.capacity()));
  EXPECT_EQ(r.snapshot(), pattern(0, r.capacity()));
  r.append(pattern(r.capacity(), 1));
  EXPECT_EQ(r.snapshot(), pattern(1, r.capacity()));
}

TEST(Ring, HugeSingleWriteKeepsItsTail) {
  Ring r(Ring::kMinCapacity);
  r.append("prefix that will vanish");
  std::string huge = pattern(0, 10 * r.capacity() + 17);
  r.append(huge);
  EXPECT_EQ(r.size(), r.capacity());
  EXPECT_EQ(r.snapshot(), huge.substr(huge.size() - r.capacity()));
  EXPECT_EQ(r.total_written(), 23 + huge.size());
  r.append("tail");
  std::string snap = r.snapshot();
  EXPECT_EQ(snap.size(), r.capacity());
  EXPECT_EQ(snap.substr(snap.size() - 4), "tail");
  EXPECT_EQ(snap.substr(0, snap.size() - 4), huge.substr(huge.size() - r.capacity() + 4));
}

}  // namespace
}  // namespace zlh::shim
