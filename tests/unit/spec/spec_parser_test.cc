// Fleet spec parsing: a complete spec yields every field, and every mistake is reported with
// its file, line, column and field path, all of them at once, so that nothing is applied from
// an invalid spec and the user can fix everything in one go.
#include "shadowfleet/spec/spec_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace shadowfleet {
namespace {

using ::testing::HasSubstr;

constexpr char kFile[] = "fleet.yaml";

constexpr char kCompleteSpec[] = R"(apiVersion: shadowfleet.dev/v1alpha1
kind: Fleet
metadata:
  name: shop
  labels:
    team: payments
    tier: "1"
spec:
  groups:
    - name: web
      replicas: 3
      instanceType: m5.large
      os: {name: debian, version: "12"}
      software:
        - {name: openssl, version: "3.0.15"}
        - {name: nginx, version: "1.24"}
      configuration:
        workers: 4
        ratio: 0.5
        debug: false
        port: "8080"
        nothing: null
        tags: [a, b]
        nested: {key: value}
      volumes:
        - name: data
          path: var/data
          sync: {method: copy, interval: 5s, maxLag: 1m}
      provider:
        name: process
        settings:
          command: ["{bin}/shadowfleet-workload", "--port", "{port}", "--config", "{config}",
                    "--dir", "{dir}", "--name", "{instance}/{replica}/{role}"]
          env: {MODE: test}
          workDir: /srv/replicas
          onConfigChange: reload
          reloadSignal: SIGUSR1
          stopGracePeriod: 2s
      healthCheck: {path: /ready, interval: 2s, timeout: 500ms, failureThreshold: 5}
      shadowing: {apply: afterTested, replaceUnhealthyAfter: 90s, buildTimeout: 5m}
      live: {mode: managed}
    - name: cache
      replicas: 100
      provider:
        name: sim
        settings:
          buildDelay: 45s
          applyDelay: 1500ms
          createFailureRate: 0.1
          applyFailureRate: 0.05
          crashRatePerHour: 0.5
          dataSyncLagSeconds: 3
          seed: 42
    - name: db
      instanceType: db.r5
      volumes:
        - name: pgdata
          path: pgdata
          sync:
            method: command
            command: [rsync, -a, "{source}:/data/", "{target}:/data/{instance}/{volume}"]
            interval: 30s
            maxLag: 5m
      provider:
        name: exec
        settings:
          command: [/usr/local/bin/cloud-plugin, --region, eu-west-1]
          env: {TOKEN_FILE: "{state}/token"}
          timeout: 90s
      live: {mode: adopted}
)";

// A valid one-group fleet; `group_fields` (indented by six spaces) are added to the group
// from line 10 on.
std::string Fleet(const std::string& group_fields = "") {
  return absl::StrCat(R"(apiVersion: shadowfleet.dev/v1alpha1
kind: Fleet
metadata:
  name: shop
spec:
  groups:
    - name: web
      replicas: 2
      provider: {name: sim}
)",
                      group_fields);
}

std::string Describe(const std::vector<SpecError>& errors) {
  std::vector<std::string> lines;
  for (const SpecError& e : errors) {
    lines.push_back(e.ToString());
  }
  return absl::StrJoin(lines, "\n");
}

// Every error of an input that must be rejected.
std::vector<SpecError> ErrorsOf(const std::string& text) {
  std::vector<SpecError> errors;
  absl::StatusOr<std::vector<FleetSpec>> parsed = ParseFleetSpecs(text, kFile, &errors);
  EXPECT_FALSE(parsed.ok()) << "accepted:\n" << text;
  if (!parsed.ok()) {
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  }
  return errors;
}

// The one error of an input with a single mistake.
SpecError OnlyErrorOf(const std::string& text) {
  std::vector<SpecError> errors = ErrorsOf(text);
  EXPECT_EQ(errors.size(), 1u) << Describe(errors);
  return errors.empty() ? SpecError{} : errors.front();
}

std::vector<FleetSpec> ParseOrDie(const std::string& text) {
  absl::StatusOr<std::vector<FleetSpec>> parsed = ParseFleetSpecs(text, kFile);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : std::vector<FleetSpec>{};
}

TEST(SpecParser, ParsesEveryFieldOfACompleteSpec) {
  std::vector<FleetSpec> fleets = ParseOrDie(kCompleteSpec);
  ASSERT_EQ(fleets.size(), 1u);
  const FleetSpec& fleet = fleets[0];
  EXPECT_EQ(fleet.name, "shop");
  EXPECT_EQ(fleet.labels,
            (std::map<std::string, std::string>{{"team", "payments"}, {"tier", "1"}}));
  ASSERT_EQ(fleet.groups.size(), 3u);

  const GroupSpec& web = fleet.groups[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.replicas, 3);
  EXPECT_EQ(web.instance_type, "m5.large");
  EXPECT_EQ(web.os.name, "debian");
  EXPECT_EQ(web.os.version, "12");
  ASSERT_EQ(web.software.size(), 2u);
  EXPECT_EQ(web.software[0].name, "openssl");
  EXPECT_EQ(web.software[0].version, "3.0.15");
  EXPECT_EQ(web.software[1].name, "nginx");
  EXPECT_EQ(web.software[1].version, "1.24");
  EXPECT_EQ(web.configuration, nlohmann::json::parse(R"({"workers": 4, "ratio": 0.5,
      "debug": false, "port": "8080", "nothing": null, "tags": ["a", "b"],
      "nested": {"key": "value"}})"));
  ASSERT_EQ(web.volumes.size(), 1u);
  EXPECT_EQ(web.volumes[0].name, "data");
  EXPECT_EQ(web.volumes[0].path, "var/data");
  EXPECT_EQ(web.volumes[0].method, VolumeSyncMethod::kCopy);
  EXPECT_EQ(web.volumes[0].interval, absl::Seconds(5));
  EXPECT_EQ(web.volumes[0].max_lag, absl::Minutes(1));
  EXPECT_EQ(web.provider.name, "process");
  const auto& process = std::get<ProcessProviderSettings>(web.provider.settings);
  EXPECT_EQ(process.command,
            (std::vector<std::string>{"{bin}/shadowfleet-workload", "--port", "{port}", "--config",
                                      "{config}", "--dir", "{dir}", "--name",
                                      "{instance}/{replica}/{role}"}));
  EXPECT_EQ(process.env, (std::map<std::string, std::string>{{"MODE", "test"}}));
  EXPECT_EQ(process.work_dir, "/srv/replicas");
  EXPECT_EQ(process.on_config_change, ConfigChangeAction::kReload);
  EXPECT_EQ(process.reload_signal, SIGUSR1);
  EXPECT_EQ(process.stop_grace_period, absl::Seconds(2));
  EXPECT_EQ(web.health_check.path, "/ready");
  EXPECT_EQ(web.health_check.interval, absl::Seconds(2));
  EXPECT_EQ(web.health_check.timeout, absl::Milliseconds(500));
  EXPECT_EQ(web.health_check.failure_threshold, 5);
  EXPECT_EQ(web.shadowing.apply, ShadowApplyPolicy::kAfterTested);
  EXPECT_EQ(web.shadowing.replace_unhealthy_after, absl::Seconds(90));
  EXPECT_EQ(web.shadowing.build_timeout, absl::Minutes(5));
  EXPECT_EQ(web.live_mode, LiveMode::kManaged);

  const GroupSpec& cache = fleet.groups[1];
  EXPECT_EQ(cache.name, "cache");
  EXPECT_EQ(cache.replicas, 100);
  EXPECT_EQ(cache.provider.name, "sim");
  const auto& sim = std::get<SimProviderSettings>(cache.provider.settings);
  EXPECT_EQ(sim.build_delay, absl::Seconds(45));
  EXPECT_EQ(sim.apply_delay, absl::Milliseconds(1500));
  EXPECT_DOUBLE_EQ(sim.create_failure_rate, 0.1);
  EXPECT_DOUBLE_EQ(sim.apply_failure_rate, 0.05);
  EXPECT_DOUBLE_EQ(sim.crash_rate_per_hour, 0.5);
  EXPECT_DOUBLE_EQ(sim.data_sync_lag_seconds, 3);
  EXPECT_EQ(sim.seed, 42u);
  // Everything not written takes its documented default.
  EXPECT_EQ(cache.health_check.path, "/healthz");
  EXPECT_EQ(cache.health_check.interval, absl::Seconds(5));
  EXPECT_EQ(cache.health_check.timeout, absl::Seconds(1));
  EXPECT_EQ(cache.health_check.failure_threshold, 3);
  EXPECT_EQ(cache.shadowing.apply, ShadowApplyPolicy::kImmediate);
  EXPECT_EQ(cache.shadowing.replace_unhealthy_after, absl::Seconds(60));
  EXPECT_EQ(cache.shadowing.build_timeout, absl::Minutes(10));
  EXPECT_EQ(cache.live_mode, LiveMode::kManaged);
  EXPECT_EQ(cache.configuration, nlohmann::json::object());
  EXPECT_TRUE(cache.software.empty());
  EXPECT_TRUE(cache.volumes.empty());

  const GroupSpec& db = fleet.groups[2];
  EXPECT_EQ(db.name, "db");
  EXPECT_EQ(db.replicas, 0);
  EXPECT_EQ(db.instance_type, "db.r5");
  EXPECT_EQ(db.live_mode, LiveMode::kAdopted);
  ASSERT_EQ(db.volumes.size(), 1u);
  EXPECT_EQ(db.volumes[0].method, VolumeSyncMethod::kCommand);
  EXPECT_EQ(db.volumes[0].command,
            (std::vector<std::string>{"rsync", "-a", "{source}:/data/",
                                      "{target}:/data/{instance}/{volume}"}));
  EXPECT_EQ(db.volumes[0].interval, absl::Seconds(30));
  EXPECT_EQ(db.volumes[0].max_lag, absl::Minutes(5));
  EXPECT_EQ(db.provider.name, "exec");
  const auto& exec = std::get<ExecProviderSettings>(db.provider.settings);
  EXPECT_EQ(exec.command,
            (std::vector<std::string>{"/usr/local/bin/cloud-plugin", "--region", "eu-west-1"}));
  EXPECT_EQ(exec.env, (std::map<std::string, std::string>{{"TOKEN_FILE", "{state}/token"}}));
  EXPECT_EQ(exec.timeout, absl::Seconds(90));
}

TEST(SpecParser, AcceptsTheSameSpecWrittenAsJson) {
  constexpr char kJson[] = R"({
  "apiVersion": "shadowfleet.dev/v1alpha1",
  "kind": "Fleet",
  "metadata": {"name": "shop", "labels": {"team": "payments"}},
  "spec": {
    "groups": [
      {"name": "web", "replicas": 2, "instanceType": "t.small",
       "software": [{"name": "openssl", "version": "3.0.15"}],
       "configuration": {"workers": 4, "port": "8080", "debug": true, "list": [1, 2.5]},
       "provider": {"name": "sim", "settings": {"seed": 7}},
       "healthCheck": {"interval": "10s"}}
    ]
  }
})";
  std::vector<FleetSpec> fleets = ParseOrDie(kJson);
  ASSERT_EQ(fleets.size(), 1u);
  ASSERT_EQ(fleets[0].groups.size(), 1u);
  const GroupSpec& web = fleets[0].groups[0];
  EXPECT_EQ(web.replicas, 2);
  EXPECT_EQ(web.software[0].version, "3.0.15");
  EXPECT_EQ(web.configuration,
            nlohmann::json::parse(R"({"workers": 4, "port": "8080", "debug": true,
                                      "list": [1, 2.5]})"));
  EXPECT_EQ(std::get<SimProviderSettings>(web.provider.settings).seed, 7u);
  EXPECT_EQ(web.health_check.interval, absl::Seconds(10));
}

TEST(SpecParser, ReportsJsonMistakesWithTheirLineAndColumn) {
  constexpr char kJson[] = R"({
  "apiVersion": "shadowfleet.dev/v1alpha1",
  "kind": "Fleet",
  "metadata": {"name": "shop"},
  "spec": {"groups": [
    {"name": "web", "replicas": "two", "provider": {"name": "sim"}}
  ]}
})";
  SpecError e = OnlyErrorOf(kJson);
  EXPECT_EQ(e.path, "spec.groups[0].replicas");
  EXPECT_EQ(e.line, 6);
  EXPECT_EQ(e.column, 33);
  EXPECT_THAT(e.message, HasSubstr("expected an integer"));
}

TEST(SpecParser, ParsesSeveralFleetDocumentsAndSkipsEmptyOnes) {
  std::string other = Fleet();
  other.replace(other.find("name: shop"), 10, "name: blog");
  other.replace(other.find("name: web"), 9, "name: api");
  std::vector<FleetSpec> fleets = ParseOrDie("---\n" + Fleet() + "---\n---\n" + other);
  ASSERT_EQ(fleets.size(), 2u);
  EXPECT_EQ(fleets[0].name, "shop");
  EXPECT_EQ(fleets[1].name, "blog");
  EXPECT_EQ(fleets[1].groups[0].name, "api");
}

TEST(SpecParser, UnknownTopLevelFieldNamesItsPlace) {
  SpecError e = OnlyErrorOf(Fleet() + "status: {}\n");
  EXPECT_EQ(e.file, kFile);
  EXPECT_EQ(e.line, 10);
  EXPECT_EQ(e.column, 1);
  EXPECT_EQ(e.path, "status");
  EXPECT_THAT(e.message, HasSubstr("unknown field"));
  EXPECT_THAT(e.message, HasSubstr("apiVersion, kind, metadata, spec"));
  EXPECT_EQ(e.ToString(),
            "fleet.yaml:10:1: status: unknown field (allowed here: apiVersion, kind, metadata, "
            "spec)");
}

TEST(SpecParser, UnknownGroupFieldNamesItsPlace) {
  SpecError e = OnlyErrorOf(Fleet("      replica_count: 3\n"));
  EXPECT_EQ(e.line, 10);
  EXPECT_EQ(e.column, 7);
  EXPECT_EQ(e.path, "spec.groups[0].replica_count");
  EXPECT_THAT(e.message, HasSubstr("unknown field"));
}

TEST(SpecParser, UnknownProviderSettingNamesItsPlace) {
  std::string text = Fleet();
  text.replace(text.find("      provider: {name: sim}\n"), 28, R"(      provider:
        name: sim
        settings:
          buildDelay: 5s
          speed: fast
)");
  SpecError e = OnlyErrorOf(text);
  EXPECT_EQ(e.line, 13);
  EXPECT_EQ(e.column, 11);
  EXPECT_EQ(e.path, "spec.groups[0].provider.settings.speed");
  EXPECT_THAT(e.message, HasSubstr("unknown field"));
}

TEST(SpecParser, UnknownFieldsOfProcessAndExecSettingsAndNestedBlocks) {
  EXPECT_EQ(OnlyErrorOf(Fleet("      healthCheck: {path: /h, retries: 3}\n")).path,
            "spec.groups[0].healthCheck.retries");
  EXPECT_EQ(OnlyErrorOf(Fleet("      shadowing: {mode: fast}\n")).path,
            "spec.groups[0].shadowing.mode");
  EXPECT_EQ(OnlyErrorOf(Fleet("      os: {name: debian, version: '12', arch: arm}\n")).path,
            "spec.groups[0].os.arch");

  std::string process = Fleet();
  process.replace(process.find("{name: sim}"), 11,
                  "{name: process, settings: {command: [x], user: nobody}}");
  EXPECT_EQ(OnlyErrorOf(process).path, "spec.groups[0].provider.settings.user");
  std::string exec = Fleet();
  exec.replace(exec.find("{name: sim}"), 11, "{name: exec, settings: {command: [x], retries: 1}}");
  EXPECT_EQ(OnlyErrorOf(exec).path, "spec.groups[0].provider.settings.retries");
}

TEST(SpecParser, DuplicateKeyPointsAtTheSecondOccurrence) {
  SpecError e = OnlyErrorOf(Fleet("      replicas: 3\n"));
  EXPECT_EQ(e.line, 10);
  EXPECT_EQ(e.column, 7);
  EXPECT_EQ(e.path, "spec.groups[0].replicas");
  EXPECT_THAT(e.message, HasSubstr("duplicate key"));
}

TEST(SpecParser, DuplicateKeysInsideConfigurationAndLabelsAreErrors) {
  EXPECT_EQ(OnlyErrorOf(Fleet("      configuration: {a: 1, a: 2}\n")).path,
            "spec.groups[0].configuration.a");
  std::string labels = Fleet();
  labels.replace(labels.find("  name: shop\n"), 13, "  name: shop\n  labels: {a: x, a: y}\n");
  SpecError e = OnlyErrorOf(labels);
  EXPECT_EQ(e.path, "metadata.labels.a");
  EXPECT_THAT(e.message, HasSubstr("duplicate key"));
}

TEST(SpecParser, WrongTypesNameTheFieldAndWhatWasFound) {
  SpecError replicas = OnlyErrorOf(Fleet("      instanceType: [m5, large]\n"));
  EXPECT_EQ(replicas.path, "spec.groups[0].instanceType");
  EXPECT_EQ(replicas.line, 10);
  EXPECT_EQ(replicas.column, 21);
  EXPECT_THAT(replicas.message, HasSubstr("expected a string, got a list"));

  SpecError software = OnlyErrorOf(Fleet("      software: {openssl: '3'}\n"));
  EXPECT_EQ(software.path, "spec.groups[0].software");
  EXPECT_THAT(software.message, HasSubstr("expected a list, got a mapping"));

  SpecError configuration = OnlyErrorOf(Fleet("      configuration: [a, b]\n"));
  EXPECT_EQ(configuration.path, "spec.groups[0].configuration");
  EXPECT_THAT(configuration.message, HasSubstr("expected a mapping"));

  SpecError command =
      OnlyErrorOf(Fleet().replace(Fleet().find("{name: sim}"), 11,
                                  "{name: exec, settings: {command: [plugin, {nested: map}]}}"));
  EXPECT_EQ(command.path, "spec.groups[0].provider.settings.command[1]");
  EXPECT_THAT(command.message, HasSubstr("expected a string, got a mapping"));

  SpecError rate = OnlyErrorOf(Fleet().replace(
      Fleet().find("{name: sim}"), 11, "{name: sim, settings: {createFailureRate: often}}"));
  EXPECT_EQ(rate.path, "spec.groups[0].provider.settings.createFailureRate");
  EXPECT_THAT(rate.message, HasSubstr("expected a number, got \"often\""));

  SpecError seed = OnlyErrorOf(
      Fleet().replace(Fleet().find("{name: sim}"), 11, "{name: sim, settings: {seed: -4}}"));
  EXPECT_EQ(seed.path, "spec.groups[0].provider.settings.seed");
  EXPECT_THAT(seed.message, HasSubstr("non-negative integer"));
}

TEST(SpecParser, MissingRequiredFieldsAreNamedAtTheirParent) {
  std::string no_replicas = Fleet();
  no_replicas.erase(no_replicas.find("      replicas: 2\n"), 18);
  SpecError replicas = OnlyErrorOf(no_replicas);
  EXPECT_EQ(replicas.path, "spec.groups[0].replicas");
  EXPECT_EQ(replicas.line, 7);
  EXPECT_EQ(replicas.column, 7);
  EXPECT_THAT(replicas.message, HasSubstr("required field is missing"));

  std::string no_provider = Fleet();
  no_provider.erase(no_provider.find("      provider: {name: sim}\n"));
  EXPECT_EQ(OnlyErrorOf(no_provider).path, "spec.groups[0].provider");

  std::string no_name = Fleet();
  no_name.replace(no_name.find("  name: shop\n"), 13, "  labels: {a: b}\n");
  EXPECT_EQ(OnlyErrorOf(no_name).path, "metadata.name");

  std::string no_version = Fleet();
  no_version.erase(0, no_version.find('\n') + 1);
  SpecError api = OnlyErrorOf(no_version);
  EXPECT_EQ(api.path, "apiVersion");
  EXPECT_EQ(api.line, 1);
  EXPECT_EQ(api.column, 1);

  EXPECT_EQ(OnlyErrorOf(Fleet("      software: [{name: openssl}]\n")).path,
            "spec.groups[0].software[0].version");
  EXPECT_EQ(OnlyErrorOf(Fleet("      volumes: [{name: data}]\n")).path,
            "spec.groups[0].volumes[0].path");
  std::string process = Fleet();
  process.replace(process.find("{name: sim}"), 11, "{name: process, settings: {env: {A: b}}}");
  EXPECT_EQ(OnlyErrorOf(process).path, "spec.groups[0].provider.settings.command");
  EXPECT_EQ(OnlyErrorOf(Fleet().substr(0, Fleet().find("spec:"))).path, "spec");
  EXPECT_EQ(OnlyErrorOf(Fleet().substr(0, Fleet().find("  groups:"))).path, "spec");
}

TEST(SpecParser, ProvidersThatNeedSettingsSayWhichOne) {
  std::string process = Fleet();
  process.replace(process.find("{name: sim}"), 11, "{name: process}");
  SpecError p = OnlyErrorOf(process);
  EXPECT_EQ(p.path, "spec.groups[0].provider.settings");
  EXPECT_THAT(p.message, HasSubstr("process provider needs settings.command"));

  std::string exec = Fleet();
  exec.replace(exec.find("{name: sim}"), 11, "{name: exec, settings: {command: []}}");
  SpecError e = OnlyErrorOf(exec);
  EXPECT_EQ(e.path, "spec.groups[0].provider.settings.command");
  EXPECT_THAT(e.message, HasSubstr("must name the plug-in"));
}

TEST(SpecParser, BadDurationsAreRejectedWithTheirText) {
  SpecError words = OnlyErrorOf(Fleet("      healthCheck: {interval: 5 seconds}\n"));
  EXPECT_EQ(words.path, "spec.groups[0].healthCheck.interval");
  EXPECT_EQ(words.line, 10);
  EXPECT_EQ(words.column, 31);
  EXPECT_THAT(words.message, HasSubstr("expected a duration"));
  EXPECT_THAT(words.message, HasSubstr("\"5 seconds\""));

  EXPECT_THAT(OnlyErrorOf(Fleet("      healthCheck: {interval: 5}\n")).message,
              HasSubstr("expected a duration"));
  EXPECT_THAT(OnlyErrorOf(Fleet("      healthCheck: {interval: inf}\n")).message,
              HasSubstr("expected a duration"));
  SpecError short_interval = OnlyErrorOf(Fleet("      healthCheck: {interval: 50ms}\n"));
  EXPECT_THAT(short_interval.message, HasSubstr("must be at least 100ms"));
  SpecError negative = OnlyErrorOf(Fleet("      shadowing: {replaceUnhealthyAfter: -1s}\n"));
  EXPECT_EQ(negative.path, "spec.groups[0].shadowing.replaceUnhealthyAfter");
  EXPECT_THAT(negative.message, HasSubstr("must be at least 0"));
  std::string exec = Fleet();
  exec.replace(exec.find("{name: sim}"), 11,
               "{name: exec, settings: {command: [p], timeout: 1ms}}");
  EXPECT_EQ(OnlyErrorOf(exec).path, "spec.groups[0].provider.settings.timeout");
}

TEST(SpecParser, AcceptsGoStyleCompoundDurations) {
  std::vector<FleetSpec> fleets =
      ParseOrDie(Fleet("      shadowing: {replaceUnhealthyAfter: 1m30s, buildTimeout: 1h}\n"));
  ASSERT_EQ(fleets.size(), 1u);
  EXPECT_EQ(fleets[0].groups[0].shadowing.replace_unhealthy_after, absl::Seconds(90));
  EXPECT_EQ(fleets[0].groups[0].shadowing.build_timeout, absl::Hours(1));
}

TEST(SpecParser, NumbersOutOfRangeStateTheRange) {
  std::string negative = Fleet();
  negative.replace(negative.find("replicas: 2"), 11, "replicas: -1");
  SpecError replicas = OnlyErrorOf(negative);
  EXPECT_EQ(replicas.path, "spec.groups[0].replicas");
  EXPECT_EQ(replicas.line, 8);
  EXPECT_EQ(replicas.column, 17);
  EXPECT_THAT(replicas.message, HasSubstr("must be between 0 and 1000000, got -1"));

  std::string huge = Fleet();
  huge.replace(huge.find("replicas: 2"), 11, "replicas: 99999999999999999999");
  EXPECT_EQ(OnlyErrorOf(huge).path, "spec.groups[0].replicas");

  EXPECT_THAT(OnlyErrorOf(Fleet("      healthCheck: {failureThreshold: 0}\n")).message,
              HasSubstr("between 1 and 100"));
  std::string rate = Fleet();
  rate.replace(rate.find("{name: sim}"), 11, "{name: sim, settings: {applyFailureRate: 1.5}}");
  SpecError r = OnlyErrorOf(rate);
  EXPECT_EQ(r.path, "spec.groups[0].provider.settings.applyFailureRate");
  EXPECT_THAT(r.message, HasSubstr("between 0 and 1"));
  std::string not_a_number = Fleet();
  not_a_number.replace(not_a_number.find("{name: sim}"), 11,
                       "{name: sim, settings: {crashRatePerHour: .nan}}");
  EXPECT_THAT(OnlyErrorOf(not_a_number).message, HasSubstr("expected a number"));
}

TEST(SpecParser, UnknownProviderListsTheKnownOnes) {
  std::string text = Fleet();
  text.replace(text.find("{name: sim}"), 11, "{name: gcp}");
  SpecError e = OnlyErrorOf(text);
  EXPECT_EQ(e.path, "spec.groups[0].provider.name");
  EXPECT_EQ(e.line, 9);
  EXPECT_EQ(e.column, 24);
  EXPECT_THAT(e.message, HasSubstr("unknown provider \"gcp\" (known: process, sim, exec)"));
}

TEST(SpecParser, UnknownPlaceholderInAProcessCommandNamesTheArgument) {
  std::string text = Fleet();
  text.replace(text.find("      provider: {name: sim}\n"), 28, R"(      provider:
        name: process
        settings:
          command:
            - "{bin}/workload"
            - "--port={prot}"
)");
  SpecError e = OnlyErrorOf(text);
  EXPECT_EQ(e.path, "spec.groups[0].provider.settings.command[1]");
  EXPECT_EQ(e.line, 14);
  EXPECT_EQ(e.column, 15);
  EXPECT_THAT(e.message, HasSubstr("unknown placeholder {prot}"));
  EXPECT_THAT(e.message, HasSubstr("{port}"));
}

TEST(SpecParser, UnknownPlaceholderInAVolumeSyncCommand) {
  SpecError e = OnlyErrorOf(Fleet(
      "      volumes: [{name: data, path: d, sync: {method: command, command: [cp, '{src}']}}]\n"));
  EXPECT_EQ(e.path, "spec.groups[0].volumes[0].sync.command[1]");
  EXPECT_THAT(e.message, HasSubstr("unknown placeholder {src}"));
}

TEST(SpecParser, YamlSyntaxErrorsReportTheirLine) {
  std::string text = Fleet();
  text.replace(text.find("  name: shop\n"), 13, "  name: [shop\n");
  std::vector<SpecError> errors = ErrorsOf(text);
  ASSERT_EQ(errors.size(), 1u) << Describe(errors);
  EXPECT_EQ(errors[0].line, 5);
  EXPECT_EQ(errors[0].path, "");
  EXPECT_THAT(errors[0].message, HasSubstr("YAML syntax error"));
  EXPECT_THAT(errors[0].ToString(), ::testing::StartsWith("fleet.yaml:5:"));

  SpecError indent = OnlyErrorOf("apiVersion: x\n  kind: Fleet\n");
  EXPECT_EQ(indent.line, 2);
  EXPECT_THAT(indent.message, HasSubstr("YAML syntax error"));
}

TEST(SpecParser, EmptyInputHasNoFleet) {
  EXPECT_THAT(OnlyErrorOf("").message, HasSubstr("no Fleet document found"));
  EXPECT_THAT(OnlyErrorOf("---\n# nothing\n").message, HasSubstr("no Fleet document found"));
}

TEST(SpecParser, RejectsOtherKindsAndApiVersions) {
  std::string kind = Fleet();
  kind.replace(kind.find("kind: Fleet"), 11, "kind: Deployment");
  SpecError k = OnlyErrorOf(kind);
  EXPECT_EQ(k.path, "kind");
  EXPECT_THAT(k.message, HasSubstr("Deployment"));
  std::string version = Fleet();
  version.replace(0, version.find('\n'), "apiVersion: shadowfleet.dev/v2");
  SpecError v = OnlyErrorOf(version);
  EXPECT_EQ(v.path, "apiVersion");
  EXPECT_THAT(v.message, HasSubstr("shadowfleet.dev/v1alpha1"));
  EXPECT_EQ(OnlyErrorOf("- just\n- a list\n").path, "");
}

TEST(SpecParser, NamesMustBeDnsLabels) {
  std::string group = Fleet();
  group.replace(group.find("name: web"), 9, "name: Web_Servers");
  SpecError g = OnlyErrorOf(group);
  EXPECT_EQ(g.path, "spec.groups[0].name");
  EXPECT_THAT(g.message, HasSubstr("Web_Servers"));
  std::string fleet = Fleet();
  fleet.replace(fleet.find("name: shop"), 10, "name: -shop");
  EXPECT_EQ(OnlyErrorOf(fleet).path, "metadata.name");
  EXPECT_EQ(OnlyErrorOf(Fleet("      volumes: [{name: My Data, path: d}]\n")).path,
            "spec.groups[0].volumes[0].name");
}

TEST(SpecParser, DuplicateGroupNamesInOneFleet) {
  SpecError e = OnlyErrorOf(Fleet(R"(    - name: web
      replicas: 1
      provider: {name: sim}
)"));
  EXPECT_EQ(e.path, "spec.groups[1].name");
  EXPECT_EQ(e.line, 10);
  EXPECT_EQ(e.column, 13);
  EXPECT_THAT(e.message, HasSubstr("group \"web\" is declared twice"));
}

TEST(SpecParser, DuplicatesWithinAGroupAreErrors) {
  EXPECT_THAT(OnlyErrorOf(Fleet("      software: [{name: a, version: '1'}, {name: a, version: "
                                "'2'}]\n"))
                  .message,
              HasSubstr("listed twice"));
  EXPECT_THAT(
      OnlyErrorOf(Fleet("      volumes: [{name: d, path: a}, {name: d, path: b}]\n")).message,
      HasSubstr("duplicate volume name"));
}

TEST(SpecParser, VolumeRules) {
  EXPECT_EQ(OnlyErrorOf(Fleet("      volumes: [{name: d, path: ../etc}]\n")).path,
            "spec.groups[0].volumes[0].path");
  SpecError no_command =
      OnlyErrorOf(Fleet("      volumes: [{name: d, path: p, sync: {method: command}}]\n"));
  EXPECT_EQ(no_command.path, "spec.groups[0].volumes[0].sync");
  EXPECT_THAT(no_command.message, HasSubstr("needs a command"));
  SpecError short_lag =
      OnlyErrorOf(Fleet("      volumes: [{name: d, path: p, sync: {maxLag: 1ms}}]\n"));
  EXPECT_EQ(short_lag.path, "spec.groups[0].volumes[0].sync.maxLag");

  std::string exec_copy = Fleet("      volumes: [{name: d, path: p}]\n");
  exec_copy.replace(exec_copy.find("{name: sim}"), 11, "{name: exec, settings: {command: [p]}}");
  SpecError copy = OnlyErrorOf(exec_copy);
  EXPECT_EQ(copy.path, "spec.groups[0].volumes[0].sync.method");
  EXPECT_THAT(copy.message, HasSubstr("use method: command"));
}

TEST(SpecParser, LiveModeRules) {
  std::string sim = Fleet("      live: {mode: adopted}\n");
  sim.erase(sim.find("      replicas: 2\n"), 18);
  SpecError sim_adopted = OnlyErrorOf(sim);
  EXPECT_EQ(sim_adopted.path, "spec.groups[0].live.mode");
  EXPECT_THAT(sim_adopted.message, HasSubstr("(exec)"));

  std::string exec_with_replicas = Fleet("      live: {mode: adopted}\n");
  exec_with_replicas.replace(exec_with_replicas.find("{name: sim}"), 11,
                             "{name: exec, settings: {command: [p]}}");
  SpecError replicas = OnlyErrorOf(exec_with_replicas);
  EXPECT_EQ(replicas.path, "spec.groups[0].replicas");
  EXPECT_THAT(replicas.message, HasSubstr("remove replicas"));

  SpecError mode = OnlyErrorOf(Fleet("      live: {mode: borrowed}\n"));
  EXPECT_EQ(mode.path, "spec.groups[0].live.mode");
  EXPECT_THAT(mode.message, HasSubstr("must be one of managed, adopted, got \"borrowed\""));
}

TEST(SpecParser, ProcessSettingsRules) {
  std::string signal = Fleet();
  signal.replace(signal.find("{name: sim}"), 11,
                 "{name: process, settings: {command: [w], reloadSignal: SIGKILL}}");
  SpecError s = OnlyErrorOf(signal);
  EXPECT_EQ(s.path, "spec.groups[0].provider.settings.reloadSignal");
  EXPECT_THAT(s.message, HasSubstr("SIGHUP, SIGUSR1, SIGUSR2"));
  std::string action = Fleet();
  action.replace(action.find("{name: sim}"), 11,
                 "{name: process, settings: {command: [w], onConfigChange: ignore}}");
  EXPECT_EQ(OnlyErrorOf(action).path, "spec.groups[0].provider.settings.onConfigChange");
  EXPECT_EQ(OnlyErrorOf(Fleet("      healthCheck: {path: healthz}\n")).path,
            "spec.groups[0].healthCheck.path");
}

TEST(SpecParser, ReportsEveryErrorAtOnceInDocumentOrder) {
  std::string text = Fleet(R"(      replicas_: 1
      healthCheck: {interval: soon, failureThreshold: 1000}
      shadowing: {apply: later}
)");
  text.replace(text.find("kind: Fleet"), 11, "kind: Fleet\nextra: true");
  std::vector<SpecError> errors = ErrorsOf(text);
  ASSERT_EQ(errors.size(), 5u) << Describe(errors);
  std::vector<std::string> paths;
  for (const SpecError& e : errors) {
    paths.push_back(e.path);
  }
  EXPECT_THAT(paths, ::testing::UnorderedElementsAre("extra", "spec.groups[0].replicas_",
                                                     "spec.groups[0].healthCheck.interval",
                                                     "spec.groups[0].healthCheck.failureThreshold",
                                                     "spec.groups[0].shadowing.apply"));

  // The status carries them all, one per line, each with its place.
  absl::StatusOr<std::vector<FleetSpec>> parsed = ParseFleetSpecs(text, kFile);
  ASSERT_FALSE(parsed.ok());
  std::string message(parsed.status().message());
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 4);
  EXPECT_THAT(message, HasSubstr("fleet.yaml:3:1: extra: unknown field"));
  EXPECT_THAT(message, HasSubstr("fleet.yaml:11:7: spec.groups[0].replicas_: unknown field"));
}

TEST(SpecParser, TheSameFleetTwiceInOneInputIsAnError) {
  std::vector<SpecError> errors = ErrorsOf(Fleet() + "---\n" + Fleet());
  ASSERT_FALSE(errors.empty());
  EXPECT_THAT(Describe(errors), HasSubstr("fleet \"shop\" appears twice"));
}

TEST(SpecParser, AGroupDeclaredByTwoFleetsInOneInputIsAnError) {
  std::string other = Fleet();
  other.replace(other.find("name: shop"), 10, "name: blog");
  std::vector<SpecError> errors;
  absl::StatusOr<std::vector<FleetSpec>> parsed =
      ParseFleetSpecs(Fleet() + "---\n" + other, kFile, &errors);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("fleet.yaml"));
  EXPECT_THAT(parsed.status().message(), HasSubstr("\"shop\" and \"blog\""));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0].message, HasSubstr("group \"web\""));
}

FleetSpec FleetWithGroups(const std::string& name, const std::vector<std::string>& groups) {
  FleetSpec fleet;
  fleet.name = name;
  for (const std::string& group_name : groups) {
    GroupSpec group;
    group.name = group_name;
    fleet.groups.push_back(group);
  }
  return fleet;
}

TEST(ValidateFleetSet, AcceptsDistinctGroupNamesAcrossFleets) {
  EXPECT_TRUE(
      ValidateFleetSet({FleetWithGroups("shop", {"web", "db"}), FleetWithGroups("blog", {"api"})})
          .ok());
  EXPECT_TRUE(ValidateFleetSet({}).ok());
}

TEST(ValidateFleetSet, RejectsAGroupDeclaredByTwoFleetsNamingBoth) {
  absl::Status status = ValidateFleetSet(
      {FleetWithGroups("shop", {"web", "db"}), FleetWithGroups("blog", {"api", "db"})});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("group \"db\""));
  EXPECT_THAT(status.message(), HasSubstr("\"shop\""));
  EXPECT_THAT(status.message(), HasSubstr("\"blog\""));
}

TEST(FleetSpec, RendersTheInstanceConfigurationDocument) {
  std::vector<FleetSpec> fleets = ParseOrDie(kCompleteSpec);
  ASSERT_EQ(fleets.size(), 1u);
  const GroupSpec* web = FindGroup(fleets[0], "web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(FindGroup(fleets[0], "nope"), nullptr);
  nlohmann::json document = RenderConfiguration(*web);
  EXPECT_EQ(document["instanceType"], "m5.large");
  EXPECT_EQ(document["os"], nlohmann::json({{"name", "debian"}, {"version", "12"}}));
  EXPECT_EQ(document["software"], nlohmann::json({{"openssl", "3.0.15"}, {"nginx", "1.24"}}));
  EXPECT_EQ(document["config"], web->configuration);
  EXPECT_EQ(InstanceIdFor("web", 7), "web-7");
}

}  // namespace
}  // namespace shadowfleet
