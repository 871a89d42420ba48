// The routers of every group, built from the current fleet specs and rebuilt when a group's
// router spec changes. The switchover controller asks for a group's router on every step; the
// returned pointer stays valid while held even if the spec changes meanwhile.
//
//   RouterSet routers(RouterEnvironment{state_dir, bin_dir});
//   SF_ASSIGN_OR_RETURN(std::shared_ptr<Router> router, routers.For(group));
//   SF_RETURN_IF_ERROR(router->SetWeights({{live, 90}, {shadow, 10}}));
//
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "shadowfleet/router/router.h"
#include "shadowfleet/router/router_factory.h"
#include "shadowfleet/spec/fleet_spec.h"

namespace shadowfleet {

class RouterSet {
 public:
  explicit RouterSet(RouterEnvironment environment) : environment_(std::move(environment)) {}

  // The router for `group`, (re)built if the group's router spec differs from the one it was
  // built from. The router keeps its own copy of the settings. Errors are MakeRouter()'s.
  absl::StatusOr<std::shared_ptr<Router>> For(const GroupSpec& group);

  // Replaces the router of a group whatever its spec says (tests inject fakes this way).
  void Override(const std::string& group, std::shared_ptr<Router> router);

  const RouterEnvironment& environment() const { return environment_; }

 private:
  struct Entry {
    std::string fingerprint;  // Of the router spec the router was built from.
    std::shared_ptr<Router> router;
    bool overridden = false;
  };

  const RouterEnvironment environment_;
  absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shadowfleet
