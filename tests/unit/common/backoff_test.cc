// Retry backoff: doubling delays from the initial one, capped, each spread by a deterministic
// jitter of at most 20 % either way.
#include "shadowfleet/common/backoff.h"

#include <gtest/gtest.h>

#include <climits>
#include <set>

namespace shadowfleet {
namespace {

// The delay relative to the un-jittered one, e.g. 1.07 for +7 %.
double JitterFactor(absl::Duration delay, absl::Duration base) {
  return absl::FDivDuration(delay, base);
}

TEST(Backoff, DoublesTheDelayWithEveryFailure) {
  BackoffPolicy policy{absl::Seconds(1), absl::Hours(10)};
  for (int failures = 1; failures <= 12; ++failures) {
    absl::Duration base = absl::Seconds(1) * (int64_t{1} << (failures - 1));
    double factor = JitterFactor(BackoffDelay(policy, failures, /*salt=*/42), base);
    EXPECT_GE(factor, 0.8) << "failures=" << failures;
    EXPECT_LT(factor, 1.2) << "failures=" << failures;
  }
}

TEST(Backoff, NeverWaitsLongerThanTheCap) {
  BackoffPolicy policy{absl::Milliseconds(250), absl::Seconds(30)};
  for (int failures = 1; failures <= 64; ++failures) {
    for (uint64_t salt = 0; salt < 50; ++salt) {
      EXPECT_LE(BackoffDelay(policy, failures, salt), policy.max);
    }
  }
  // Once the doubling passes the cap, the jitter still spreads retries below it.
  absl::Duration capped = BackoffDelay(policy, 40, 7);
  EXPECT_GE(capped, policy.max * 0.8);
}

TEST(Backoff, JitterStaysWithinTwentyPercentAndUsesTheWholeRange) {
  BackoffPolicy policy{absl::Seconds(10), absl::Hours(1)};
  double lowest = 2, highest = 0;
  for (uint64_t salt = 0; salt < 10'000; ++salt) {
    double factor = JitterFactor(BackoffDelay(policy, 2, salt), absl::Seconds(20));
    ASSERT_GE(factor, 0.8) << "salt=" << salt;
    ASSERT_LE(factor, 1.2) << "salt=" << salt;
    lowest = std::min(lowest, factor);
    highest = std::max(highest, factor);
  }
  EXPECT_LT(lowest, 0.81);
  EXPECT_GT(highest, 1.19);
}

TEST(Backoff, IsDeterministicForASaltAndDiffersAcrossSalts) {
  BackoffPolicy policy;
  EXPECT_EQ(BackoffDelay(policy, 3, 12345), BackoffDelay(policy, 3, 12345));
  std::set<int64_t> distinct;
  for (uint64_t salt = 0; salt < 100; ++salt) {
    distinct.insert(absl::ToInt64Microseconds(BackoffDelay(policy, 3, salt)));
  }
  // Keys failing together must not retry in lock-step.
  EXPECT_GT(distinct.size(), 90u);
}

TEST(Backoff, TreatsACountBelowOneAsTheFirstFailure) {
  BackoffPolicy policy{absl::Seconds(2), absl::Minutes(1)};
  EXPECT_EQ(BackoffDelay(policy, 0, 9), BackoffDelay(policy, 1, 9));
  EXPECT_EQ(BackoffDelay(policy, -5, 9), BackoffDelay(policy, 1, 9));
}

TEST(Backoff, SurvivesTheLargestFailureCount) {
  BackoffPolicy policy{absl::Seconds(1), absl::Minutes(5)};
  absl::Duration delay = BackoffDelay(policy, INT_MAX, UINT64_MAX);
  EXPECT_GT(delay, absl::ZeroDuration());
  EXPECT_LE(delay, policy.max);
}

}  // namespace
}  // namespace shadowfleet
