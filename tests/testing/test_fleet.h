// A fleet on a fake clock for unit tests: an in-memory SQLite store, the state view, the
// ledger, the live and shadow managers, and a FakeProvider serving every group. Steps are
// driven by the test (Step(), Settle()); nothing runs in the background.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "testing/fake_provider.h"

#include "shadowfleet/fleet/live_manager.h"
#include "shadowfleet/fleet/spec_applier.h"
#include "shadowfleet/shadow/readiness.h"
#include "shadowfleet/shadow/shadow_manager.h"
#include "shadowfleet/store/sqlite_store.h"
#include "shadowfleet/volume/volume_syncer.h"

namespace shadowfleet::testing {

// A one-group fleet spec using the sim provider's schema (the FakeProvider replaces it).
std::string FleetYaml(const std::string& group = "web", int replicas = 2,
                      const std::string& extra_group_fields = "");

class TestFleet {
 public:
  explicit TestFleet(const std::string& group = "web");

  // Applies a spec; fails the test on error.
  void Apply(const std::string& yaml);
  // One iteration: sync, live pass, sync, shadow pass.
  void Step();
  // Steps until nothing changes (at most `max` iterations).
  void Settle(int max = 20);

  Readiness ReadinessOf(const std::string& instance_id);

  FakeClock clock;
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<FleetState> state;
  std::unique_ptr<Ledger> ledger;
  std::shared_ptr<FakeProvider> provider = std::make_shared<FakeProvider>();
  std::unique_ptr<ProviderSet> providers;
  std::unique_ptr<LiveManager> live;
  std::unique_ptr<ShadowManager> shadow;
  std::unique_ptr<VolumeSyncer> volumes;
  ShadowPassStats last_shadow;
  LivePassStats last_live;
};

}  // namespace shadowfleet::testing
