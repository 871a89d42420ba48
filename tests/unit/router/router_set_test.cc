// One router per group, built from the group's router spec, kept while the spec is
// unchanged, rebuilt when it changes, and replaceable by a test's own router.
#include "shadowfleet/router/router_set.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"

#include "shadowfleet/router/none_router.h"

namespace shadowfleet {
namespace {

GroupSpec GroupWith(RouterSpec router) {
  GroupSpec group;
  group.name = "web";
  group.router = std::move(router);
  return group;
}

RouterSpec Haproxy(const std::string& backend) {
  HaproxyRouterSettings settings;
  settings.socket = "unix:/run/haproxy/admin.sock";
  settings.backend = backend;
  return RouterSpec{"haproxy", settings};
}

TEST(MakeRouter, BuildsTheRouterTheSpecNames) {
  EXPECT_STREQ((*MakeRouter(GroupWith(RouterSpec{}), {}))->name(), "none");
  EXPECT_STREQ((*MakeRouter(GroupWith(Haproxy("web")), {}))->name(), "haproxy");
  ExecRouterSettings exec;
  exec.command = {"/opt/plugin"};
  EXPECT_STREQ((*MakeRouter(GroupWith(RouterSpec{"exec", exec}), {}))->name(), "exec");
}

TEST(MakeRouter, RejectsUnknownNamesMismatchedSettingsAndBadWeights) {
  absl::StatusOr<std::unique_ptr<Router>> unknown =
      MakeRouter(GroupWith(RouterSpec{"nginx", NoRouterSettings{}}), {});
  EXPECT_TRUE(absl::IsInvalidArgument(unknown.status()));
  EXPECT_TRUE(absl::StrContains(unknown.status().message(), "nginx")) << unknown.status();
  EXPECT_TRUE(absl::IsInvalidArgument(
      MakeRouter(GroupWith(RouterSpec{"haproxy", NoRouterSettings{}}), {}).status()));

  RouterSpec heavy = Haproxy("web");
  std::get<HaproxyRouterSettings>(heavy.settings).full_weight = 300;
  EXPECT_TRUE(absl::IsInvalidArgument(MakeRouter(GroupWith(heavy), {}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      MakeRouter(GroupWith(RouterSpec{"exec", ExecRouterSettings{}}), {}).status()));
}

TEST(RouterSet, KeepsARouterWhileItsSpecIsUnchangedAndRebuildsItOnChange) {
  RouterSet routers({});
  std::shared_ptr<Router> first = *routers.For(GroupWith(Haproxy("web")));
  EXPECT_EQ(*routers.For(GroupWith(Haproxy("web"))), first);

  std::shared_ptr<Router> rebuilt = *routers.For(GroupWith(Haproxy("web-v2")));
  EXPECT_NE(rebuilt, first);
  EXPECT_STREQ(first->name(), "haproxy");  // Still usable by whoever holds it.

  std::shared_ptr<Router> none = *routers.For(GroupWith(RouterSpec{}));
  EXPECT_STREQ(none->name(), "none");
}

TEST(RouterSet, AnOverrideWinsWhateverTheSpec) {
  RouterSet routers({});
  auto fake = std::make_shared<NoneRouter>();
  routers.Override("web", fake);
  EXPECT_EQ(*routers.For(GroupWith(Haproxy("web"))), fake);
  EXPECT_EQ(*routers.For(GroupWith(Haproxy("other"))), fake);
}

TEST(RouterSet, ReportsABadSpec) {
  RouterSet routers({});
  EXPECT_TRUE(absl::IsInvalidArgument(routers.For(GroupWith(RouterSpec{"bogus", {}})).status()));
}

}  // namespace
}  // namespace shadowfleet
