#include "shadowfleet/shadow/shadow_manager.h"

#include <functional>

#include "absl/strings/str_cat.h"

#include "shadowfleet/common/logging.h"
#include "shadowfleet/common/parallel.h"
#include "shadowfleet/common/status_macros.h"
#include "shadowfleet/shadow/readiness.h"

namespace shadowfleet {

// Everything one reconcile step of one instance works with.
struct ShadowManager::Step {
  std::string id;
  Cached<InstanceRecord> instance;
  int64_t instance_revision = 0;
  int64_t shadow_revision = kMustNotExist;
  ShadowRecord next;  // The shadow record being changed; written by Write().
  std::shared_ptr<const GroupSpec> group;
  std::shared_ptr<Provider> provider;
  std::optional<VersionHead> head;
  absl::Time now;
  ShadowPassStats* stats = nullptr;
  bool healthy_now = false;  // The check of this step found the replica running and healthy.
};

namespace {

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = Logger("shadow");
  return logger;
}

uint64_t Salt(const std::string& id, int failures) {
  return std::hash<std::string>()(id) ^ (static_cast<uint64_t>(failures) << 32);
}

}  // namespace

ShadowManager::ShadowManager(FleetState* state, Ledger* ledger, ProviderSet* providers,
                             Clock* clock, Metrics* metrics, ShadowManagerOptions options)
    : state_(state),
      ledger_(ledger),
      providers_(providers),
      clock_(clock),
      metrics_(metrics),
      options_(options) {}

ShadowPassStats ShadowManager::ReconcileAll() {
  absl::Time start = absl::Now();
  std::vector<std::string> ids = state_->InstanceIds();
  std::vector<ShadowPassStats> per_item(ids.size());
  std::atomic<int> errors{0};
  ParallelFor(ids.size(), options_.workers, [&](size_t i) {
    absl::Status status = Reconcile(ids[i], &per_item[i]);
    if (!status.ok() && !absl::IsAborted(status)) {
      errors++;
    }
  });
  ShadowPassStats total;
  total.instances = static_cast<int>(ids.size());
  for (const ShadowPassStats& s : per_item) {
    total.created += s.created;
    total.applied += s.applied;
    total.replaced += s.replaced;
    total.removed += s.removed;
    total.failed += s.failed;
    total.backing_off += s.backing_off;
    total.conflicts += s.conflicts;
  }
  total.duration = absl::Now() - start;
  if (metrics_ != nullptr) {
    metrics_->PassDuration("shadow").Observe(absl::ToDoubleSeconds(total.duration));
    metrics_->PassErrors("shadow").Increment(errors.load());
  }
  return total;
}

absl::Status ShadowManager::Reconcile(const std::string& instance_id, ShadowPassStats* stats) {
  ShadowPassStats ignored;
  Step step;
  step.id = instance_id;
  step.stats = stats != nullptr ? stats : &ignored;
  step.now = clock_->Now();
  step.instance = state_->Instance(instance_id);
  Cached<ShadowRecord> shadow = state_->Shadow(instance_id);
  if (shadow) {
    step.next = *shadow;
    step.shadow_revision = shadow.revision;
  } else {
    step.next.instance_id = instance_id;
    step.next.phase_since = step.now;
  }
  if (!step.instance) {
    return shadow ? RemoveShadow(step) : absl::OkStatus();
  }
  step.instance_revision = step.instance.revision;
  if (step.instance->removed) {
    step.group = state_->GroupOf(*step.instance);
    return shadow ? RemoveShadow(step) : absl::OkStatus();
  }
  step.group = state_->Group(step.instance->group);
  if (step.group == nullptr) {
    return absl::OkStatus();  // Its fleet is gone; the live manager marks it removed.
  }
  if (!step.instance->active_switchover.empty()) {
    return absl::OkStatus();  // The switchover owns the shadow until it ends.
  }
  bool expedited = false;
  {
    absl::MutexLock lock(&health_mu_);
    expedited = expedited_.erase(instance_id) > 0;
  }
  if (step.now < step.next.next_attempt_at && !expedited) {
    step.stats->backing_off++;
    return absl::OkStatus();
  }
  absl::StatusOr<std::shared_ptr<Provider>> provider = providers_->For(*step.group);
  if (!provider.ok()) {
    return RecordFailure(step, "provider", provider.status());
  }
  step.provider = *provider;
  step.head = state_->Head(instance_id);
  if (!step.instance->live || !step.head) {
    return absl::OkStatus();  // Nothing to shadow yet.
  }
  if (!step.next.replica || step.next.replica->provider_id.empty()) {
    return CreateShadow(step);
  }
  SF_RETURN_IF_ERROR(ObserveShadow(step));
  if (step.healthy_now) {
    return AdvanceShadow(step);
  }
  return absl::OkStatus();
}

absl::Status ShadowManager::Write(Step& step, const std::string& event_kind,
                                  const std::string& message) {
  StateBatch batch;
  batch.PutShadow(step.next, step.shadow_revision);
  if (!event_kind.empty()) {
    batch.AddEvent({0, absl::ToUnixMillis(step.now), event_kind, step.id, "shadow-manager", message,
                    step.next.ToJson().dump()});
  }
  absl::StatusOr<int64_t> revision = state_->Commit(batch);
  if (!revision.ok()) {
    if (absl::IsAborted(revision.status())) {
      step.stats->conflicts++;
      if (metrics_ != nullptr) {
        metrics_->StoreConflicts().Increment();
      }
    }
    return revision.status();
  }
  step.shadow_revision = *revision;
  return absl::OkStatus();
}

absl::Status ShadowManager::RecordFailure(Step& step, const std::string& operation,
                                          const absl::Status& error) {
  step.stats->failed++;
  step.next.failures++;
  step.next.phase = ShadowPhase::kFailed;
  step.next.phase_since = step.now;
  step.next.last_error = absl::StrCat(operation, ": ", error.message());
  absl::Duration delay =
      BackoffDelay(options_.backoff, step.next.failures, Salt(step.id, step.next.failures));
  step.next.next_attempt_at = step.now + delay;
  if (metrics_ != nullptr) {
    metrics_->ShadowAction("failed").Increment();
    if (step.provider != nullptr) {
      metrics_->ProviderError(step.provider->name(), operation).Increment();
    }
  }
  Log()->warn("shadow step failed instance={} operation={} failures={} retry_in={} error={}",
              step.id, operation, step.next.failures, absl::FormatDuration(delay),
              error.ToString());
  absl::Status written = Write(step, "shadow.failed", step.next.last_error);
  return written.ok() ? error : written;
}

absl::Status ShadowManager::CreateShadow(Step& step) {
  int64_t target = ShadowTargetVersion(*step.group, *step.instance, *step.head);
  if (target <= 0) {
    return absl::OkStatus();  // No version may be shadowed yet (e.g. none tested).
  }
  // An earlier attempt may have stopped between reserving a replica and recording what the
  // provider made of it: remove whatever the provider has under that id first.
  if (step.next.replica) {
    absl::Status gone = step.provider->Terminate(*step.next.replica);
    if (!gone.ok()) {
      return RecordFailure(step, "terminate", gone);
    }
    step.next.replica.reset();
  }
  absl::StatusOr<nlohmann::json> document = ledger_->Document(step.id, target);
  if (!document.ok()) {
    return RecordFailure(step, "read configuration", document.status());
  }

  // Reserve the replica id and record the intent before the provider is asked to build it.
  InstanceRecord instance = *step.instance;
  std::string replica_id = instance.NextReplicaId(Role::kShadow);
  step.next.replica = Replica{replica_id};
  step.next.phase = ShadowPhase::kBuilding;
  step.next.phase_since = step.now;
  step.next.version = 0;
  step.next.target_version = target;
  StateBatch intent;
  intent.PutInstance(instance, step.instance_revision);
  intent.PutShadow(step.next, step.shadow_revision);
  SF_ASSIGN_OR_RETURN(int64_t revision, state_->Commit(intent));
  step.instance_revision = revision;
  step.shadow_revision = revision;

  CreateRequest request;
  request.replica_id = replica_id;
  request.instance_id = step.id;
  request.fleet = instance.fleet;
  request.group = instance.group;
  request.role = Role::kShadow;
  request.configuration = *std::move(document);
  request.version = target;
  absl::StatusOr<Replica> replica = step.provider->Create(request);
  if (!replica.ok()) {
    return RecordFailure(step, "create", replica.status());
  }
  step.next.replica = *std::move(replica);
  step.next.last_error.clear();
  ForgetHealth(step.id);
  step.stats->created++;
  if (metrics_ != nullptr) {
    metrics_->ShadowAction("created").Increment();
  }
  Log()->info("shadow created instance={} replica={} version={}", step.id, replica_id, target);
  return Write(step, "shadow.created",
               absl::StrCat("shadow ", replica_id, " created at version ", target));
}

absl::Status ShadowManager::ObserveShadow(Step& step) {
  Health health = GetHealth(step.id);
  bool due = step.next.phase != ShadowPhase::kReady ||
             step.now - health.last_check >= step.group->health_check.interval;
  if (!due) {
    step.healthy_now = health.status.phase == ReplicaPhase::kRunning && health.status.healthy;
    return absl::OkStatus();
  }
  absl::StatusOr<ReplicaStatus> status = step.provider->Check(*step.next.replica);
  if (!status.ok()) {
    return RecordFailure(step, "check", status.status());
  }
  health.last_check = step.now;
  health.status = *status;
  const ShadowingSpec& policy = step.group->shadowing;
  absl::Duration in_phase = step.now - step.next.phase_since;

  switch (status->phase) {
    case ReplicaPhase::kGone:
    case ReplicaPhase::kFailed:
      PutHealth(step.id, health);
      return ReplaceShadow(
          step, absl::StrCat("replica ", ReplicaPhaseName(status->phase), ": ", status->detail));
    case ReplicaPhase::kBuilding:
      PutHealth(step.id, health);
      if (step.next.phase == ShadowPhase::kBuilding && in_phase > policy.build_timeout) {
        return ReplaceShadow(step,
                             absl::StrCat("still building after ", absl::FormatDuration(in_phase)));
      }
      return absl::OkStatus();
    case ReplicaPhase::kRunning:
      break;
  }

  if (status->healthy) {
    health.failures = 0;
    PutHealth(step.id, health);
    step.healthy_now = true;
    return absl::OkStatus();
  }
  health.failures++;
  PutHealth(step.id, health);
  if (step.next.phase == ShadowPhase::kBuilding) {
    if (in_phase > policy.build_timeout) {
      return ReplaceShadow(step,
                           absl::StrCat("not healthy within the build timeout: ", status->detail));
    }
    return absl::OkStatus();
  }
  if (health.failures < step.group->health_check.failure_threshold) {
    return absl::OkStatus();
  }
  if (step.next.phase != ShadowPhase::kUnhealthy) {
    step.next.phase = ShadowPhase::kUnhealthy;
    step.next.phase_since = step.now;
    step.next.unhealthy_since = step.now;
    step.next.last_error = status->detail;
    Log()->warn("shadow unhealthy instance={} replica={} detail={}", step.id, step.next.replica->id,
                status->detail);
    return Write(step, "shadow.unhealthy", status->detail);
  }
  if (step.now - step.next.unhealthy_since > policy.replace_unhealthy_after) {
    return ReplaceShadow(
        step,
        absl::StrCat("unhealthy for ", absl::FormatDuration(step.now - step.next.unhealthy_since),
                     ": ", status->detail));
  }
  return absl::OkStatus();
}

absl::Status ShadowManager::AdvanceShadow(Step& step) {
  Health health = GetHealth(step.id);
  int64_t applied = health.status.applied_version;
  int64_t target = ShadowTargetVersion(*step.group, *step.instance, *step.head);
  std::string event;
  std::string message;

  // Confirm what the last build or apply achieved.
  if (step.next.phase == ShadowPhase::kBuilding) {
    step.next.version = applied >= 0 ? applied : step.next.target_version;
  } else if (step.next.phase == ShadowPhase::kApplying) {
    bool confirmed = applied == step.next.target_version ||
                     (applied < 0 && health.apply_issued_version == step.next.target_version);
    if (confirmed) {
      step.next.version = step.next.target_version;
      event = "shadow.version_applied";
      message = absl::StrCat("version ", step.next.version, " applied");
      Log()->info("shadow version applied instance={} replica={} version={}", step.id,
                  step.next.replica->id, step.next.version);
    } else if (health.apply_issued_version == step.next.target_version &&
               step.now - health.apply_issued < options_.apply_confirm_timeout) {
      return absl::OkStatus();  // The provider is still applying.
    }
  } else if (applied >= 0 && applied != step.next.version) {
    // The replica reports another version than recorded (changed behind our back): trust it,
    // and let the next step bring it to the target again.
    step.next.version = applied;
  }

  if (step.next.version > step.head->version) {
    return ReplaceShadow(step, absl::StrCat("shadow holds version ", step.next.version,
                                            ", newer than the ledger's ", step.head->version));
  }
  if (step.next.version < target) {
    return ApplyNextVersion(step);
  }
  bool changed = step.next.phase != ShadowPhase::kReady || step.next.failures != 0 ||
                 !step.next.last_error.empty();
  if (!changed && event.empty()) {
    return absl::OkStatus();
  }
  if (step.next.phase != ShadowPhase::kReady) {
    Log()->info("shadow ready instance={} replica={} version={}", step.id, step.next.replica->id,
                step.next.version);
    event = "shadow.ready";
    message = absl::StrCat("ready at version ", step.next.version);
  }
  step.next.phase = ShadowPhase::kReady;
  step.next.phase_since = step.now;
  step.next.target_version = step.next.version;
  step.next.failures = 0;
  step.next.last_error.clear();
  return Write(step, event, message);
}

absl::Status ShadowManager::ApplyNextVersion(Step& step) {
  int64_t from = step.next.version;
  int64_t version = from + 1;  // Versions are applied in order, one at a time.
  absl::StatusOr<nlohmann::json> document = ledger_->Document(step.id, version);
  if (!document.ok()) {
    return RecordFailure(step, "read configuration", document.status());
  }
  nlohmann::json delta = nlohmann::json::array();
  if (from > 0) {
    absl::StatusOr<nlohmann::json> previous = ledger_->Document(step.id, from);
    if (!previous.ok()) {
      return RecordFailure(step, "read configuration", previous.status());
    }
    delta = nlohmann::json::diff(*previous, *document);
  }

  // Record the intent first: after a crash the next pass re-applies this version.
  step.next.phase = ShadowPhase::kApplying;
  step.next.phase_since = step.now;
  step.next.target_version = version;
  SF_RETURN_IF_ERROR(Write(step, "", ""));

  absl::StatusOr<Replica> updated =
      step.provider->Apply(*step.next.replica, {*std::move(document), delta, version});
  if (!updated.ok()) {
    return RecordFailure(step, "apply", updated.status());
  }
  step.next.replica = *std::move(updated);
  Health health = GetHealth(step.id);
  health.apply_issued = step.now;
  health.apply_issued_version = version;
  health.last_check = absl::InfinitePast();  // Check again on the next pass.
  PutHealth(step.id, health);
  step.stats->applied++;
  if (metrics_ != nullptr) {
    metrics_->ShadowAction("applied").Increment();
  }
  return Write(step, "", "");
}

absl::Status ShadowManager::ReplaceShadow(Step& step, const std::string& why) {
  absl::Status gone = step.provider->Terminate(*step.next.replica);
  if (!gone.ok()) {
    // Forget it anyway: CollectOrphans() removes it once the provider answers again.
    Log()->warn("terminating a broken shadow failed instance={} replica={} error={}", step.id,
                step.next.replica->id, gone.ToString());
    if (metrics_ != nullptr) {
      metrics_->ProviderError(step.provider->name(), "terminate").Increment();
    }
  }
  std::string old_replica = step.next.replica->id;
  step.next.replica.reset();
  step.next.phase = ShadowPhase::kPending;
  step.next.phase_since = step.now;
  step.next.version = 0;
  step.next.target_version = 0;
  step.next.replacements++;
  step.next.failures++;
  step.next.last_error = why;
  // The first replacement happens on the next pass; repeated ones back off.
  step.next.next_attempt_at =
      step.next.failures <= 1 ? step.now
                              : step.now + BackoffDelay(options_.backoff, step.next.failures - 1,
                                                        Salt(step.id, step.next.failures));
  ForgetHealth(step.id);
  step.stats->replaced++;
  if (metrics_ != nullptr) {
    metrics_->ShadowAction("replaced").Increment();
  }
  Log()->warn("shadow replaced instance={} replica={} reason={}", step.id, old_replica, why);
  return Write(step, "shadow.replaced", absl::StrCat("replaced ", old_replica, ": ", why));
}

absl::Status ShadowManager::RemoveShadow(Step& step) {
  if (step.next.replica && step.provider == nullptr && step.group != nullptr) {
    absl::StatusOr<std::shared_ptr<Provider>> provider = providers_->For(*step.group);
    if (provider.ok()) {
      step.provider = *provider;
    }
  }
  if (step.next.replica && !step.next.replica->provider_id.empty()) {
    if (step.provider == nullptr) {
      // Not even the generation the instance was built from is stored: the provider cannot
      // be built, so the record is dropped and the replica reported for manual clean-up.
      Log()->warn(
          "shadow without a known provider left to the operator instance={} "
          "replica={}",
          step.id, step.next.replica->id);
    } else if (absl::Status gone = step.provider->Terminate(*step.next.replica); !gone.ok()) {
      return RecordFailure(step, "terminate", gone);
    }
  }
  StateBatch batch;
  batch.DeleteShadow(step.id, step.shadow_revision);
  if (step.group != nullptr) {
    for (const VolumeSpec& volume : step.group->volumes) {
      if (Cached<VolumeStatus> v = state_->Volume(step.id, volume.name)) {
        batch.DeleteVolume(step.id, volume.name, v.revision);
      }
    }
  }
  batch.AddEvent({0, absl::ToUnixMillis(step.now), "shadow.removed", step.id, "shadow-manager",
                  "shadow removed with its instance", "{}"});
  SF_RETURN_IF_ERROR(state_->Commit(batch).status());
  ForgetHealth(step.id);
  step.stats->removed++;
  if (metrics_ != nullptr) {
    metrics_->ShadowAction("removed").Increment();
  }
  return absl::OkStatus();
}

absl::Status ShadowManager::CollectOrphans() {
  absl::Status first_error;
  for (const Cached<StoredFleet>& fleet : state_->Fleets()) {
    for (const GroupSpec& group : fleet->spec.groups) {
      absl::StatusOr<std::shared_ptr<Provider>> provider = providers_->For(group);
      if (!provider.ok()) {
        first_error.Update(provider.status());
        continue;
      }
      absl::StatusOr<std::vector<ListedReplica>> listed = (*provider)->List();
      if (!listed.ok()) {
        first_error.Update(listed.status());
        continue;
      }
      for (const ListedReplica& replica : *listed) {
        if (replica.role != Role::kShadow) {
          continue;  // Live replicas are never touched here.
        }
        Cached<ShadowRecord> owner = state_->Shadow(replica.instance_id);
        if (owner && owner->replica && owner->replica->id == replica.replica.id) {
          continue;
        }
        // A shadow promoted by a switchover keeps the role it was created with at the
        // provider, but it is live now; and a switchover in progress owns its replicas.
        Cached<InstanceRecord> instance = state_->Instance(replica.instance_id);
        if (instance && ((instance->live && instance->live->id == replica.replica.id) ||
                         !instance->active_switchover.empty())) {
          continue;
        }
        Log()->warn("removing orphan shadow replica={} instance={}", replica.replica.id,
                    replica.instance_id);
        absl::Status gone = (*provider)->Terminate(replica.replica);
        first_error.Update(gone);
        if (gone.ok()) {
          StateBatch batch;
          batch.AddEvent({0, absl::ToUnixMillis(clock_->Now()), "shadow.orphan_removed",
                          replica.instance_id, "shadow-manager",
                          "removed orphan shadow replica " + replica.replica.id, "{}"});
          first_error.Update(state_->Commit(batch).status());
        }
      }
    }
  }
  return first_error;
}

void ShadowManager::Expedite(const std::string& instance_id) {
  absl::MutexLock lock(&health_mu_);
  expedited_.insert(instance_id);
}

ShadowManager::Health ShadowManager::GetHealth(const std::string& instance_id) {
  absl::MutexLock lock(&health_mu_);
  auto it = health_.find(instance_id);
  return it == health_.end() ? Health{} : it->second;
}

void ShadowManager::PutHealth(const std::string& instance_id, const Health& health) {
  absl::MutexLock lock(&health_mu_);
  health_[instance_id] = health;
}

void ShadowManager::ForgetHealth(const std::string& instance_id) {
  absl::MutexLock lock(&health_mu_);
  health_.erase(instance_id);
}

}  // namespace shadowfleet
