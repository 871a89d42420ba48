// The providers of every group, built from the current fleet specs and rebuilt when a
// group's spec changes. Reconcilers ask for a group's provider on every step; the returned
// pointer stays valid while held even if the spec changes meanwhile.
//
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "shadowfleet/provider/provider.h"

namespace shadowfleet {

class ProviderSet {
 public:
  explicit ProviderSet(ProviderEnvironment environment) : environment_(std::move(environment)) {}

  // The provider for `group`, (re)built if the group's spec differs from the one it was built
  // from. `group` must outlive nothing: the provider keeps its own copy.
  absl::StatusOr<std::shared_ptr<Provider>> For(const GroupSpec& group);

  // Replaces the provider of a group (tests inject fakes this way).
  void Override(const std::string& group, std::shared_ptr<Provider> provider);

  const ProviderEnvironment& environment() const { return environment_; }

 private:
  struct Entry {
    std::string fingerprint;  // Of the group spec the provider was built from.
    std::shared_ptr<Provider> provider;
    bool overridden = false;
  };

  const ProviderEnvironment environment_;
  absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace shadowfleet
