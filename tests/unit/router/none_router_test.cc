// The "none" router accepts everything and reports back what it was told, as a balancer
// would, so that the switchover controller runs unchanged over fleets that switch traffic
// themselves.
#include "shadowfleet/router/none_router.h"

#include <gtest/gtest.h>

namespace shadowfleet {
namespace {

TEST(NoneRouter, ReportsTheWeightsItWasGiven) {
  NoneRouter router;
  Backend live{"web-0-l1", "sim:1"};
  Backend shadow{"web-0-s1", "sim:2"};
  ASSERT_TRUE(router.Ensure(live, 100).ok());
  ASSERT_TRUE(router.Ensure(shadow, 0).ok());
  ASSERT_TRUE(router.SetWeights({{live, 90}, {shadow, 10}}).ok());

  absl::StatusOr<std::vector<BackendState>> states = router.Read({live, shadow});
  ASSERT_TRUE(states.ok());
  EXPECT_EQ((*states)[0].weight_percent, 90);
  EXPECT_EQ((*states)[0].address, "sim:1");
  EXPECT_TRUE((*states)[0].present);
  EXPECT_EQ((*states)[1].weight_percent, 10);
}

TEST(NoneRouter, DrainsRemovesAndForgets) {
  NoneRouter router;
  Backend live{"web-0-l1", "sim:1"};
  ASSERT_TRUE(router.Ensure(live, 100).ok());
  ASSERT_TRUE(router.Drain(live).ok());
  EXPECT_TRUE((*router.Read({live}))[0].draining);

  ASSERT_TRUE(router.Ensure(live, 100).ok());
  EXPECT_FALSE((*router.Read({live}))[0].draining);

  ASSERT_TRUE(router.Remove(live).ok());
  ASSERT_TRUE(router.Remove(live).ok());
  BackendState gone = (*router.Read({live}))[0];
  EXPECT_FALSE(gone.present);
  EXPECT_EQ(gone.name, "web-0-l1");
}

TEST(NoneRouter, ReportsUnknownBackendsAsAbsent) {
  NoneRouter router;
  absl::StatusOr<std::vector<BackendState>> states = router.Read({{"web-3-l1", "sim:9"}});
  ASSERT_TRUE(states.ok());
  EXPECT_FALSE((*states)[0].present);
}

}  // namespace
}  // namespace shadowfleet
