// The configuration ledger: versions recorded as checkpoints and deltas within their budgets,
// every version rebuilt exactly as recorded (also after cache eviction and compaction), diffs
// between any two versions, tamper detection, and no version lost when two ledgers append to
// the same instance through one store.
#include "shadowfleet/ledger/ledger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "testing/temp_dir.h"

#include "shadowfleet/store/sqlite_store.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::TempDir;
using ::testing::HasSubstr;

const ChangeMeta kAlice{"alice", "tune workers", ChangeSource::kRecorded};

std::unique_ptr<SqliteStore> OpenOrDie(const std::string& path = ":memory:") {
  SqliteStoreOptions options;
  options.path = path;
  options.synchronous_full = false;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

nlohmann::json BaseDocument() {
  return nlohmann::json::parse(R"({
    "instanceType": "t.small",
    "os": {"name": "debian", "version": "12"},
    "software": {"openssl": "3.0.15", "nginx": "1.24"},
    "config": {"workers": 4, "listen": [80, 443]}})");
}

// Random edits of a JSON document, reproducible from the seed: keys and values are drawn
// from pools that include the characters JSON Pointer must escape.
class DocumentMutator {
 public:
  explicit DocumentMutator(uint64_t seed) : rng_(seed) {}

  nlohmann::json Mutate(nlohmann::json document) {
    std::vector<nlohmann::json::json_pointer> containers;
    Collect(document, nlohmann::json::json_pointer(), containers);
    nlohmann::json& target = document[containers[Pick(containers.size())]];
    int action = static_cast<int>(Pick(4));
    if (target.is_object()) {
      std::string key = Key();
      if (action == 0 && !target.empty()) {
        auto it = target.begin();
        std::advance(it, static_cast<long>(Pick(target.size())));
        target.erase(it);
      } else {
        target[key] = Value(action == 3);
      }
    } else if (target.is_array()) {
      if (action == 0 && !target.empty()) {
        target.erase(target.begin() + static_cast<long>(Pick(target.size())));
      } else if (action == 1 && !target.empty()) {
        target[Pick(target.size())] = Value(false);
      } else {
        target.push_back(Value(action == 3));
      }
    }
    return document;
  }

 private:
  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  static void Collect(const nlohmann::json& node, const nlohmann::json::json_pointer& at,
                      std::vector<nlohmann::json::json_pointer>& out) {
    if (node.is_object()) {
      out.push_back(at);
      for (const auto& [key, child] : node.items()) {
        Collect(child, at / key, out);
      }
    } else if (node.is_array()) {
      out.push_back(at);
      for (size_t i = 0; i < node.size(); ++i) {
        Collect(node[i], at / i, out);
      }
    }
  }

  std::string Key() {
    static const char* const kKeys[] = {
        "workers", "a", "b", "path/with/slashes", "tilde~0", "~1", "", "0", "naïve", "sp ace"};
    return kKeys[Pick(std::size(kKeys))];
  }

  nlohmann::json Value(bool container) {
    if (container) {
      return Pick(2) == 0 ? nlohmann::json::object({{Key(), Value(false)}})
                          : nlohmann::json::array({Value(false), Value(false)});
    }
    switch (Pick(6)) {
      case 0:
        return static_cast<int64_t>(rng_() % 2'000'000) - 1'000'000;
      case 1:
        return static_cast<double>(rng_() % 100'000) / 64.0;
      case 2:
        return Pick(2) == 0;
      case 3:
        return nullptr;
      case 4:
        return absl::StrCat("v", rng_() % 1000, " \"quoted\" \\ /");
      default:
        return std::string(Pick(400), 'x');  // Sometimes large enough to be compressed.
    }
  }

  std::mt19937_64 rng_;
};

class LedgerTest : public ::testing::Test {
 protected:
  explicit LedgerTest(LedgerOptions options = {})
      : store_(OpenOrDie()), ledger_(store_.get(), &clock_, options) {}

  RecordResult RecordOrDie(Ledger& ledger, const std::string& instance,
                           const nlohmann::json& document, const ChangeMeta& meta = kAlice) {
    absl::StatusOr<RecordResult> result = ledger.Record(instance, document, meta);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.value_or(RecordResult{});
  }
  RecordResult RecordOrDie(const std::string& instance, const nlohmann::json& document,
                           const ChangeMeta& meta = kAlice) {
    return RecordOrDie(ledger_, instance, document, meta);
  }

  // Records `n` distinct documents (config.step = 1..n) and returns them, version 1 first.
  std::vector<nlohmann::json> RecordSteps(const std::string& instance, int n,
                                          absl::Duration apart = absl::ZeroDuration()) {
    std::vector<nlohmann::json> documents;
    for (int i = 1; i <= n; ++i) {
      nlohmann::json document = BaseDocument();
      document["config"]["step"] = i;
      RecordOrDie(instance, document);
      documents.push_back(document);
      clock_.Advance(apart);
    }
    return documents;
  }

  std::vector<bool> CheckpointFlags(const std::string& instance) {
    std::vector<bool> flags;
    std::vector<VersionInfo> history = ledger_.History(instance, 1, 0).value();
    for (const VersionInfo& info : history) {
      flags.push_back(info.checkpoint);
    }
    return flags;
  }

  FakeClock clock_;
  std::unique_ptr<SqliteStore> store_;
  Ledger ledger_;
};

TEST_F(LedgerTest, RecordAppendsAVersionWithItsMetadata) {
  clock_.SetTime(absl::FromUnixMillis(1'700'000'123'456));
  RecordResult first =
      RecordOrDie("web-0", BaseDocument(), {"spec", "fleet gen 1", ChangeSource::kSpec});
  EXPECT_TRUE(first.created);
  EXPECT_EQ(first.info.instance_id, "web-0");
  EXPECT_EQ(first.info.version, 1);
  EXPECT_TRUE(first.info.checkpoint) << "the first version is always a checkpoint";
  EXPECT_EQ(first.info.digest, DocumentDigest(BaseDocument()));
  EXPECT_EQ(first.info.created_at, absl::FromUnixMillis(1'700'000'123'456));
  EXPECT_EQ(first.info.author, "spec");
  EXPECT_EQ(first.info.reason, "fleet gen 1");
  EXPECT_EQ(first.info.source, ChangeSource::kSpec);
  EXPECT_FALSE(first.info.tested_at.has_value());
  EXPECT_GT(first.info.stored_bytes, 0);

  nlohmann::json changed = BaseDocument();
  changed["config"]["workers"] = 8;
  RecordResult second = RecordOrDie("web-0", changed);
  EXPECT_TRUE(second.created);
  EXPECT_EQ(second.info.version, 2);
  EXPECT_FALSE(second.info.checkpoint);
  EXPECT_EQ(second.info.source, ChangeSource::kRecorded);

  EXPECT_EQ(ledger_.Document("web-0", 1).value(), BaseDocument());
  EXPECT_EQ(ledger_.Document("web-0", 2).value(), changed);
  std::optional<VersionHead> head = ledger_.Head("web-0").value();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->version, 2);
  EXPECT_FALSE(ledger_.Head("web-1").value().has_value());

  // The stored info equals what Record returned.
  VersionInfo info = ledger_.Info("web-0", 2).value();
  EXPECT_EQ(info.digest, second.info.digest);
  EXPECT_EQ(info.author, "alice");
  EXPECT_EQ(info.reason, "tune workers");
}

TEST_F(LedgerTest, RecordingTheLatestDocumentAgainCreatesNothing) {
  RecordOrDie("web-0", BaseDocument());
  int64_t revision = store_->CurrentRevision().value();
  RecordResult again = RecordOrDie("web-0", BaseDocument(), {"bob", "again"});
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.info.version, 1);
  EXPECT_EQ(again.info.author, "alice") << "the existing version is returned";
  EXPECT_EQ(store_->CurrentRevision().value(), revision) << "nothing was written";
}

TEST_F(LedgerTest, RecordRejectsADocumentThatIsNotAnObject) {
  for (const nlohmann::json& bad :
       {nlohmann::json::array({1}), nlohmann::json("text"), nlohmann::json(nullptr)}) {
    absl::StatusOr<RecordResult> result = ledger_.Record("web-0", bad, kAlice);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(ledger_.Head("web-0").value().has_value());
}

TEST_F(LedgerTest, RecordAppendsAVersionRecordedEvent) {
  RecordOrDie("web-0", BaseDocument(), {"alice", "first", ChangeSource::kObserved});
  std::vector<EventRecord> events = store_->ListEvents({"web-0", "version.", 0, 10}).value();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, "version.recorded");
  EXPECT_EQ(events[0].actor, "alice");
  EXPECT_THAT(events[0].message, HasSubstr("version 1 (observed): first"));
  EXPECT_EQ(nlohmann::json::parse(events[0].details)["version"], 1);
}

TEST(Ledger, RecordsNoEventsWhenToldNotTo) {
  FakeClock clock;
  std::unique_ptr<SqliteStore> store = OpenOrDie();
  LedgerOptions options;
  options.record_events = false;
  Ledger ledger(store.get(), &clock, options);
  ASSERT_TRUE(ledger.Record("web-0", BaseDocument(), kAlice).ok());
  EXPECT_TRUE(store->ListEvents({}).value().empty());
}

TEST_F(LedgerTest, RecordPatchAppliesTheOperationsToTheLatestVersion) {
  RecordOrDie("web-0", BaseDocument());
  nlohmann::json patch = nlohmann::json::parse(R"([
    {"op": "replace", "path": "/software/openssl", "value": "3.0.16"},
    {"op": "add", "path": "/config/listen/-", "value": 8443},
    {"op": "remove", "path": "/software/nginx"}])");
  absl::StatusOr<RecordResult> result = ledger_.RecordPatch("web-0", patch, kAlice);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->info.version, 2);
  nlohmann::json expected = BaseDocument();
  expected["software"] = {{"openssl", "3.0.16"}};
  expected["config"]["listen"].push_back(8443);
  EXPECT_EQ(ledger_.Document("web-0", 2).value(), expected);
}

TEST_F(LedgerTest, RecordPatchThatDoesNotApplyIsInvalidArgumentNamingTheProblem) {
  RecordOrDie("web-0", BaseDocument());
  absl::StatusOr<RecordResult> missing = ledger_.RecordPatch(
      "web-0", nlohmann::json::parse(R"([{"op": "remove", "path": "/software/nosuchpkg"}])"),
      kAlice);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(), HasSubstr("does not apply"));
  EXPECT_THAT(missing.status().message(), HasSubstr("nosuchpkg"));

  absl::StatusOr<RecordResult> failed_test = ledger_.RecordPatch(
      "web-0", nlohmann::json::parse(R"([{"op": "test", "path": "/config/workers", "value": 5}])"),
      kAlice);
  EXPECT_EQ(failed_test.status().code(), absl::StatusCode::kInvalidArgument);

  absl::StatusOr<RecordResult> unknown_op = ledger_.RecordPatch(
      "web-0", nlohmann::json::parse(R"([{"op": "frobnicate", "path": "/a"}])"), kAlice);
  EXPECT_EQ(unknown_op.status().code(), absl::StatusCode::kInvalidArgument);

  absl::StatusOr<RecordResult> not_array =
      ledger_.RecordPatch("web-0", nlohmann::json::object(), kAlice);
  EXPECT_EQ(not_array.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(not_array.status().message(), HasSubstr("array"));

  absl::StatusOr<RecordResult> not_object = ledger_.RecordPatch(
      "web-0", nlohmann::json::parse(R"([{"op": "replace", "path": "", "value": [1]}])"), kAlice);
  EXPECT_EQ(not_object.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(not_object.status().message(), HasSubstr("JSON object"));

  EXPECT_EQ(ledger_.Head("web-0").value()->version, 1) << "no rejected patch was recorded";
}

TEST_F(LedgerTest, RecordPatchOfAnInstanceWithoutVersionsIsNotFound) {
  absl::StatusOr<RecordResult> result = ledger_.RecordPatch(
      "web-9", nlohmann::json::parse(R"([{"op": "add", "path": "/a", "value": 1}])"), kAlice);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(result.status().message(), HasSubstr("web-9"));
}

TEST_F(LedgerTest, RecordMergeReplacesKeysAndRemovesNulls) {
  RecordOrDie("web-0", BaseDocument());
  absl::StatusOr<RecordResult> result = ledger_.RecordMerge(
      "web-0",
      nlohmann::json::parse(
          R"({"software": {"nginx": null, "curl": "8.0"}, "config": {"workers": 2}})"),
      kAlice);
  ASSERT_TRUE(result.ok()) << result.status();
  nlohmann::json expected = BaseDocument();
  expected["software"].erase("nginx");
  expected["software"]["curl"] = "8.0";
  expected["config"]["workers"] = 2;
  EXPECT_EQ(ledger_.Document("web-0", result->info.version).value(), expected);

  EXPECT_EQ(ledger_.RecordMerge("web-0", nlohmann::json::array(), kAlice).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<RecordResult> fresh =
      ledger_.RecordMerge("db-0", nlohmann::json{{"a", 1}}, kAlice);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->info.version, 1);
  EXPECT_EQ(ledger_.Document("db-0", 1).value(), nlohmann::json({{"a", 1}}));
}

class ShortChainLedgerTest : public LedgerTest {
 protected:
  static LedgerOptions Options() {
    LedgerOptions options;
    options.max_chain_length = 3;
    options.max_chain_bytes_ratio = 1e9;
    return options;
  }
  ShortChainLedgerTest() : LedgerTest(Options()) {}
};

TEST_F(ShortChainLedgerTest, WritesACheckpointWhenTheChainReachesItsMaximumLength) {
  RecordSteps("web-0", 10);
  EXPECT_THAT(CheckpointFlags("web-0"), ::testing::ElementsAre(true, false, false, false, true,
                                                               false, false, false, true, false));
  for (int64_t v = 1; v <= 10; ++v) {
    EXPECT_EQ(ledger_.Document("web-0", v).value()["config"]["step"], v);
  }
}

TEST(Ledger, CheckpointCadenceSurvivesCacheEviction) {
  FakeClock clock;
  std::unique_ptr<SqliteStore> store = OpenOrDie();
  LedgerOptions options;
  options.max_chain_length = 3;
  options.max_chain_bytes_ratio = 1e9;
  options.cache_capacity = 1;
  Ledger ledger(store.get(), &clock, options);
  // Alternating instances evict each other's tip: every record reloads it from the store.
  for (int i = 1; i <= 9; ++i) {
    for (const char* id : {"web-0", "web-1"}) {
      nlohmann::json document = BaseDocument();
      document["config"]["step"] = i;
      ASSERT_TRUE(ledger.Record(id, document, kAlice).ok());
    }
  }
  for (const char* id : {"web-0", "web-1"}) {
    std::vector<bool> flags;
    std::vector<VersionInfo> history = ledger.History(id, 1, 0).value();
    for (const VersionInfo& info : history) {
      flags.push_back(info.checkpoint);
    }
    EXPECT_THAT(flags,
                ::testing::ElementsAre(true, false, false, false, true, false, false, false, true))
        << id;
  }
}

TEST(Ledger, WritesACheckpointWhenDeltasOutgrowTheByteBudget) {
  FakeClock clock;
  std::unique_ptr<SqliteStore> store = OpenOrDie();
  LedgerOptions options;
  options.max_chain_length = 1000;
  options.max_chain_bytes_ratio = 0.5;
  Ledger ledger(store.get(), &clock, options);

  // Replay the budget rule alongside: a version is a checkpoint exactly when its delta would
  // take the chain's bytes past half the size of the latest document's text.
  DocumentMutator mutator(7);
  nlohmann::json document = BaseDocument();
  int64_t chain_bytes = 0;
  int checkpoints = 0;
  for (int i = 0; i < 120; ++i) {
    nlohmann::json next = mutator.Mutate(document);
    absl::StatusOr<RecordResult> result = ledger.Record("web-0", next, kAlice);
    ASSERT_TRUE(result.ok()) << result.status();
    if (!result->created) {
      continue;
    }
    nlohmann::json patch = nlohmann::json::diff(document, next);
    int64_t delta = static_cast<int64_t>(EncodePayload(patch).size());
    double budget = 0.5 * static_cast<double>(document.dump().size());
    bool exact = document.patch(patch).dump() == next.dump();
    bool expect_checkpoint =
        result->info.version == 1 || !exact || static_cast<double>(chain_bytes + delta) > budget;
    ASSERT_EQ(result->info.checkpoint, expect_checkpoint)
        << "version " << result->info.version << ": chain " << chain_bytes << " + delta " << delta
        << " against a budget of " << budget;
    if (result->info.checkpoint) {
      checkpoints++;
      chain_bytes = 0;
    } else {
      EXPECT_EQ(result->info.stored_bytes, delta);
      chain_bytes += delta;
    }
    document = next;
  }
  EXPECT_GT(checkpoints, 3) << "the byte budget must have triggered checkpoints";
}

TEST_F(LedgerTest, RecordsANumberTypeChangeThatJsonDiffCannotSee) {
  // 4 and 4.0 compare equal, so their JSON diff is empty, yet the documents (and digests)
  // differ: the version must still rebuild exactly.
  RecordOrDie("web-0", {{"ratio", 4}, {"other", "x"}});
  RecordResult as_float = RecordOrDie("web-0", {{"ratio", 4.0}, {"other", "x"}});
  ASSERT_TRUE(as_float.created);
  RecordOrDie("web-0", {{"ratio", 4}, {"other", "y"}});

  Ledger fresh(store_.get(), &clock_);
  EXPECT_EQ(fresh.Document("web-0", 2).value().dump(), R"({"other":"x","ratio":4.0})");
  EXPECT_EQ(fresh.Document("web-0", 3).value().dump(), R"({"other":"y","ratio":4})");
  EXPECT_TRUE(fresh.Verify("web-0").ok());
  EXPECT_TRUE(fresh.Record("web-0", {{"ratio", 5}}, kAlice).ok());
}

// The central promise: whatever was recorded, in whatever order, is what Document() returns,
// from a warm ledger, a ledger whose cache keeps evicting, and a fresh ledger.
TEST(Ledger, RebuildsEveryVersionFromCheckpointsAndDeltas) {
  FakeClock clock;
  std::unique_ptr<SqliteStore> store = OpenOrDie();
  LedgerOptions options;
  options.max_chain_length = 12;
  options.cache_capacity = 1;
  Ledger ledger(store.get(), &clock, options);

  std::map<std::string, std::vector<nlohmann::json>> recorded;
  std::map<std::string, DocumentMutator> mutators;
  const std::vector<std::string> ids = {"web-0", "web-1", "db-0"};
  for (size_t i = 0; i < ids.size(); ++i) {
    mutators.emplace(ids[i], DocumentMutator(1000 + i));
  }
  std::mt19937 pick(99);
  for (int step = 0; step < 900; ++step) {
    const std::string& id = ids[pick() % ids.size()];
    std::vector<nlohmann::json>& history = recorded[id];
    nlohmann::json next = history.empty() ? BaseDocument() : mutators.at(id).Mutate(history.back());
    absl::StatusOr<RecordResult> result = ledger.Record(id, next, kAlice);
    ASSERT_TRUE(result.ok()) << result.status();
    if (result->created) {
      history.push_back(next);
      ASSERT_EQ(result->info.version, static_cast<int64_t>(history.size()));
      ASSERT_EQ(result->info.digest, DocumentDigest(next));
    }
    clock.Advance(absl::Seconds(1));
  }

  Ledger fresh(store.get(), &clock);
  for (const auto& [id, history] : recorded) {
    ASSERT_GT(history.size(), 250u) << id;
    for (size_t v = 1; v <= history.size(); ++v) {
      ASSERT_EQ(ledger.Document(id, static_cast<int64_t>(v)).value(), history[v - 1])
          << id << " version " << v;
      ASSERT_EQ(fresh.Document(id, static_cast<int64_t>(v)).value(), history[v - 1])
          << id << " version " << v;
    }
    EXPECT_TRUE(ledger.Verify(id).ok());
    EXPECT_EQ(ledger.Head(id).value()->version, static_cast<int64_t>(history.size()));
  }
}

TEST(Ledger, DiffBetweenAnyTwoVersionsTurnsOneIntoTheOther) {
  FakeClock clock;
  std::unique_ptr<SqliteStore> store = OpenOrDie();
  Ledger ledger(store.get(), &clock);
  DocumentMutator mutator(2024);
  std::vector<nlohmann::json> history = {BaseDocument()};
  ASSERT_TRUE(ledger.Record("web-0", history[0], kAlice).ok());
  while (history.size() < 40) {
    nlohmann::json next = mutator.Mutate(history.back());
    if (ledger.Record("web-0", next, kAlice).value().created) {
      history.push_back(next);
    }
  }
  for (size_t from = 1; from <= history.size(); ++from) {
    for (size_t to = 1; to <= history.size(); ++to) {
      absl::StatusOr<nlohmann::json> diff =
          ledger.Diff("web-0", static_cast<int64_t>(from), static_cast<int64_t>(to));
      ASSERT_TRUE(diff.ok()) << diff.status();
      ASSERT_EQ(history[from - 1].patch(*diff), history[to - 1]) << from << " -> " << to;
    }
  }
  EXPECT_EQ(ledger.Diff("web-0", 3, 3).value(), nlohmann::json::array());
  EXPECT_EQ(ledger.Diff("web-0", 1, 99).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LedgerTest, DocumentOfAVersionThatDoesNotExistIsNotFound) {
  RecordSteps("web-0", 3);
  EXPECT_EQ(ledger_.Document("web-0", 0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ledger_.Document("web-0", 4).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ledger_.Document("web-0", -1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ledger_.Document("db-0", 1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ledger_.Info("web-0", 4).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LedgerTest, HistoryReturnsTheRequestedRangeOldestFirst) {
  RecordSteps("web-0", 10);
  auto versions = [&](int64_t from, int64_t to) {
    std::vector<int64_t> out;
    std::vector<VersionInfo> history = ledger_.History("web-0", from, to).value();
    for (const VersionInfo& info : history) {
      out.push_back(info.version);
    }
    return out;
  };
  EXPECT_THAT(versions(3, 5), ::testing::ElementsAre(3, 4, 5));
  EXPECT_THAT(versions(8, 0), ::testing::ElementsAre(8, 9, 10)) << "to = 0: up to the newest";
  EXPECT_THAT(versions(9, 100), ::testing::ElementsAre(9, 10));
  EXPECT_EQ(versions(1, 0).size(), 10u);
  EXPECT_TRUE(versions(11, 0).empty());
  EXPECT_TRUE(ledger_.History("db-0", 1, 0).value().empty());
}

TEST_F(LedgerTest, MarkTestedStampsTheVersionAndRaisesTheHead) {
  RecordSteps("web-0", 3);
  clock_.SetTime(absl::FromUnixSeconds(1'800'000'000));
  ASSERT_TRUE(ledger_.MarkTested("web-0", 2, "qa").ok());
  VersionInfo info = ledger_.Info("web-0", 2).value();
  ASSERT_TRUE(info.tested_at.has_value());
  EXPECT_EQ(*info.tested_at, absl::FromUnixSeconds(1'800'000'000));
  EXPECT_FALSE(ledger_.Info("web-0", 3).value().tested_at.has_value());
  EXPECT_EQ(ledger_.Head("web-0").value()->latest_tested, 2);
  std::vector<EventRecord> events = store_->ListEvents({"web-0", "version.tested", 0, 10}).value();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].actor, "qa");

  EXPECT_EQ(ledger_.MarkTested("web-0", 7, "qa").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ledger_.MarkTested("db-0", 1, "qa").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ledger_.Head("web-0").value()->latest_tested, 2);
}

TEST_F(LedgerTest, VersionInfoToJsonNamesEveryField) {
  RecordSteps("web-0", 1);
  ASSERT_TRUE(ledger_.MarkTested("web-0", 1, "qa").ok());
  nlohmann::json j = ledger_.Info("web-0", 1).value().ToJson();
  EXPECT_EQ(j["instance"], "web-0");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["source"], "recorded");
  EXPECT_EQ(j["author"], "alice");
  EXPECT_EQ(j["checkpoint"], true);
  EXPECT_TRUE(j["testedAt"].is_string());
  EXPECT_EQ(j["createdAt"], "2023-11-14T22:13:20+00:00");
  EXPECT_EQ(j["digest"].get<std::string>().size(), 64u);
  EXPECT_STREQ(ChangeSourceName(ChangeSource::kSpec), "spec");
  EXPECT_STREQ(ChangeSourceName(ChangeSource::kObserved), "observed");
}

TEST_F(LedgerTest, CompactKeepsTheNewestVersionsAndMakesTheOldestKeptACheckpoint) {
  std::vector<nlohmann::json> documents = RecordSteps("web-0", 20);
  absl::StatusOr<CompactionResult> result =
      ledger_.Compact("web-0", {5, absl::ZeroDuration()}, /*keep_at_least_from=*/0);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->removed_versions, 15);
  EXPECT_EQ(result->oldest_kept, 16);
  EXPECT_EQ(store_->ReadOldestVersion("web-0").value(), 16);
  EXPECT_TRUE(ledger_.Info("web-0", 16).value().checkpoint);

  Ledger fresh(store_.get(), &clock_);
  for (int64_t v = 1; v <= 15; ++v) {
    EXPECT_EQ(fresh.Document("web-0", v).status().code(), absl::StatusCode::kNotFound) << v;
    EXPECT_EQ(fresh.Info("web-0", v).status().code(), absl::StatusCode::kNotFound) << v;
  }
  for (int64_t v = 16; v <= 20; ++v) {
    EXPECT_EQ(fresh.Document("web-0", v).value(), documents[v - 1]) << v;
  }
  EXPECT_TRUE(fresh.Verify("web-0").ok());
  EXPECT_EQ(fresh.History("web-0", 1, 0).value().front().version, 16);
  std::vector<EventRecord> events =
      store_->ListEvents({"web-0", "ledger.compacted", 0, 10}).value();
  ASSERT_EQ(events.size(), 1u);

  // Recording continues after compaction, from either ledger.
  nlohmann::json next = BaseDocument();
  next["config"]["step"] = 21;
  EXPECT_EQ(RecordOrDie(fresh, "web-0", next).info.version, 21);
  EXPECT_EQ(ledger_.Document("web-0", 21).value(), next);

  // Compacting again under the same policy removes nothing more than the new version allows.
  absl::StatusOr<CompactionResult> again = ledger_.Compact("web-0", {5, absl::ZeroDuration()}, 0);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->removed_versions, 1);
  EXPECT_EQ(again->oldest_kept, 17);
}

TEST_F(LedgerTest, CompactNeverRemovesAVersionSomethingStillRefersTo) {
  std::vector<nlohmann::json> documents = RecordSteps("web-0", 20);
  absl::StatusOr<CompactionResult> result =
      ledger_.Compact("web-0", {5, absl::ZeroDuration()}, /*keep_at_least_from=*/10);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->removed_versions, 9);
  EXPECT_EQ(result->oldest_kept, 10);
  EXPECT_EQ(ledger_.Document("web-0", 10).value(), documents[9]);
  EXPECT_EQ(ledger_.Document("web-0", 9).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(ledger_.Verify("web-0").ok());
}

TEST_F(LedgerTest, CompactKeepsVersionsYoungerThanKeepFor) {
  std::vector<nlohmann::json> documents = RecordSteps("web-0", 20, absl::Hours(1));
  // Versions were recorded at t0 .. t0+19h and the clock is now t0+20h: versions 16 to 20
  // are younger than 6 hours; version 15 is exactly 6 hours old.
  absl::StatusOr<CompactionResult> result = ledger_.Compact("web-0", {2, absl::Hours(6)}, 0);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->oldest_kept, 16);
  EXPECT_EQ(result->removed_versions, 15);
  EXPECT_EQ(ledger_.Document("web-0", 16).value(), documents[15]);
  EXPECT_EQ(ledger_.Document("web-0", 15).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LedgerTest, CompactAlwaysKeepsTheNewestVersion) {
  std::vector<nlohmann::json> documents = RecordSteps("web-0", 4);
  absl::StatusOr<CompactionResult> result = ledger_.Compact("web-0", {0, absl::ZeroDuration()}, 0);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->oldest_kept, 4);
  EXPECT_EQ(result->removed_versions, 3);
  Ledger fresh(store_.get(), &clock_);
  EXPECT_EQ(fresh.Document("web-0", 4).value(), documents[3]);
  EXPECT_TRUE(fresh.Verify("web-0").ok());
}

TEST_F(LedgerTest, CompactWithinThePolicyOrOfAnEmptyLedgerRemovesNothing) {
  RecordSteps("web-0", 5);
  absl::StatusOr<CompactionResult> result = ledger_.Compact("web-0", {100, absl::Hours(1)}, 0);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->removed_versions, 0);
  EXPECT_EQ(result->oldest_kept, 1);
  absl::StatusOr<CompactionResult> empty = ledger_.Compact("db-0", {1, absl::ZeroDuration()}, 0);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->removed_versions, 0);
}

TEST_F(LedgerTest, CompactedCheckpointStillRebuildsWhenItWasADelta) {
  LedgerOptions options;
  options.max_chain_length = 4;
  Ledger ledger(store_.get(), &clock_, options);
  std::vector<nlohmann::json> documents;
  DocumentMutator mutator(5);
  documents.push_back(BaseDocument());
  ASSERT_TRUE(ledger.Record("web-0", documents.back(), kAlice).ok());
  while (documents.size() < 30) {
    nlohmann::json next = mutator.Mutate(documents.back());
    if (ledger.Record("web-0", next, kAlice).value().created) {
      documents.push_back(next);
    }
  }
  int64_t delta_version = 10;
  while (ledger.Info("web-0", delta_version).value().checkpoint) {
    ++delta_version;
  }
  ASSERT_LT(delta_version, 30);
  ASSERT_TRUE(ledger.Compact("web-0", {31 - delta_version, absl::ZeroDuration()}, 0).ok());
  EXPECT_EQ(store_->ReadOldestVersion("web-0").value(), delta_version);
  EXPECT_TRUE(ledger.Info("web-0", delta_version).value().checkpoint);
  Ledger fresh(store_.get(), &clock_);
  for (int64_t v = delta_version; v <= 30; ++v) {
    EXPECT_EQ(fresh.Document("web-0", v).value(), documents[v - 1]) << v;
  }
  EXPECT_TRUE(fresh.Verify("web-0").ok());
}

// Rewrites version `version` of `instance` with `payload` through the store, as an attacker
// or a bad disk might.
void Tamper(Store& store, const std::string& instance, int64_t version, std::string payload,
            std::optional<bool> checkpoint = std::nullopt) {
  std::vector<VersionRecord> records = store.ReadVersions(instance, version, version).value();
  ASSERT_EQ(records.size(), 1u);
  VersionRecord r = records[0];
  r.payload = std::move(payload);
  if (checkpoint) {
    r.checkpoint = *checkpoint;
  }
  WriteBatch batch;
  batch.RewriteVersion(r);
  ASSERT_TRUE(store.Commit(batch).ok());
}

TEST_F(LedgerTest, VerifyDetectsADeltaThatNoLongerMatchesItsDigest) {
  RecordSteps("web-0", 6);
  ASSERT_TRUE(ledger_.Verify("web-0").ok());
  // A well-formed patch that applies, but records something else than what was recorded.
  Tamper(*store_, "web-0", 4,
         EncodePayload(nlohmann::json::parse(
             R"([{"op": "replace", "path": "/config/step", "value": 1000}])")));
  absl::Status status = ledger_.Verify("web-0");
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("version 4"));

  Ledger fresh(store_.get(), &clock_);
  EXPECT_EQ(fresh.Document("web-0", 4).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(fresh.Document("web-0", 3).value()["config"]["step"], 3) << "earlier versions are fine";
}

TEST_F(LedgerTest, VerifyReportsAStoredDeltaThatDoesNotApplyAsDataLoss) {
  RecordSteps("web-0", 4);
  Tamper(*store_, "web-0", 3,
         EncodePayload(nlohmann::json::parse(R"([{"op": "remove", "path": "/no/such/key"}])")));
  EXPECT_EQ(ledger_.Verify("web-0").code(), absl::StatusCode::kDataLoss);
  Ledger fresh(store_.get(), &clock_);
  EXPECT_EQ(fresh.Document("web-0", 3).status().code(), absl::StatusCode::kDataLoss);
  // Recording through a ledger that must rebuild the tip fails rather than building on it.
  absl::StatusOr<RecordResult> record = fresh.Record("web-0", BaseDocument(), kAlice);
  EXPECT_EQ(record.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(LedgerTest, VerifyDetectsCorruptCheckpointBytes) {
  RecordSteps("web-0", 3);
  Tamper(*store_, "web-0", 1, std::string("Z\x78\x9c garbage", 11));
  EXPECT_EQ(ledger_.Verify("web-0").code(), absl::StatusCode::kDataLoss);
  Tamper(*store_, "web-0", 1, "J{not json");
  EXPECT_EQ(ledger_.Verify("web-0").code(), absl::StatusCode::kDataLoss);
  Tamper(*store_, "web-0", 1, "Qunknown encoding");
  EXPECT_EQ(ledger_.Verify("web-0").code(), absl::StatusCode::kDataLoss);
  Ledger fresh(store_.get(), &clock_);
  EXPECT_EQ(fresh.Document("web-0", 2).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(LedgerTest, VerifyDetectsAnOldestVersionThatIsNotACheckpoint) {
  RecordSteps("web-0", 3);
  WriteBatch batch;
  batch.DeleteVersionsBefore("web-0", 2);
  ASSERT_TRUE(store_->Commit(batch).ok());
  absl::Status status = ledger_.Verify("web-0");
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("not a checkpoint"));
  EXPECT_TRUE(ledger_.Verify("db-0").ok()) << "an instance without versions verifies";
}

TEST(PayloadEncoding, SmallPayloadsArePlainAndLargeOnesCompressed) {
  nlohmann::json small = {{"a", 1}};
  std::string plain = EncodePayload(small);
  EXPECT_EQ(plain, "J{\"a\":1}");
  EXPECT_EQ(DecodePayload(plain).value(), small);

  nlohmann::json large = {{"text", std::string(5'000, 'x')}};
  std::string compressed = EncodePayload(large);
  EXPECT_EQ(compressed[0], 'Z');
  EXPECT_LT(compressed.size(), 200u);
  EXPECT_EQ(DecodePayload(compressed).value(), large);
}

TEST(PayloadEncoding, CorruptPayloadsAreDataLoss) {
  for (const std::string& bad :
       {std::string(), std::string("J"), std::string("J{\"a\":"), std::string("Xabc"),
        std::string("Z"), std::string("Zgarbage"),
        EncodePayload({{"text", std::string(5'000, 'x')}}).substr(0, 20)}) {
    absl::StatusOr<nlohmann::json> decoded = DecodePayload(bad);
    ASSERT_FALSE(decoded.ok()) << "decoded \"" << bad << "\"";
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST(PayloadEncoding, DigestIsOfTheCanonicalDocument) {
  nlohmann::json a = nlohmann::json::parse(R"({"b": 1, "a": {"y": 2, "x": 3}})");
  nlohmann::json b = nlohmann::json::parse(R"({"a": {"x": 3, "y": 2}, "b": 1})");
  EXPECT_EQ(DocumentDigest(a), DocumentDigest(b));
  EXPECT_NE(DocumentDigest(a), DocumentDigest({{"b", 2}}));
  EXPECT_EQ(DocumentDigest(nlohmann::json::object()),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
}

TEST_F(LedgerTest, RecordCommitsTheAlsoBatchInTheSameTransaction) {
  WriteBatch also;
  also.Put("instance", "web-0", R"({"specGeneration": 1})", kMustNotExist);
  absl::StatusOr<RecordResult> result = ledger_.Record("web-0", BaseDocument(), kAlice, &also);
  ASSERT_TRUE(result.ok()) << result.status();
  std::optional<ObjectRecord> object = store_->Get("instance", "web-0").value();
  ASSERT_TRUE(object.has_value());
  EXPECT_EQ(object->revision, store_->Get(kLedgerHeadObject, "web-0").value()->revision)
      << "the object and the version were committed together";

  // A conflicting `also` batch leaves no version behind.
  WriteBatch stale;
  stale.Put("instance", "web-0", R"({"specGeneration": 2})", kMustNotExist);
  nlohmann::json changed = BaseDocument();
  changed["config"]["workers"] = 16;
  absl::StatusOr<RecordResult> rejected = ledger_.Record("web-0", changed, kAlice, &stale);
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(ledger_.Head("web-0").value()->version, 1);
  EXPECT_EQ(store_->Get("instance", "web-0").value()->value, R"({"specGeneration": 1})");
  EXPECT_EQ(ledger_.Document("web-0", 1).value(), BaseDocument());
}

// Two daemons: two stores on one file, a ledger on each.
class TwoLedgersTest : public ::testing::Test {
 protected:
  TwoLedgersTest()
      : store_a_(OpenOrDie(dir_.File("state.db"))),
        store_b_(OpenOrDie(dir_.File("state.db"))),
        a_(store_a_.get(), &clock_),
        b_(store_b_.get(), &clock_) {}

  static nlohmann::json Step(int i) {
    nlohmann::json document = BaseDocument();
    document["config"]["step"] = i;
    return document;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<SqliteStore> store_a_, store_b_;
  Ledger a_, b_;
};

TEST_F(TwoLedgersTest, AStaleLedgerRetriesInsteadOfLosingAVersion) {
  ASSERT_TRUE(a_.Record("web-0", Step(1), kAlice).ok());
  ASSERT_TRUE(a_.Record("web-0", Step(2), kAlice).ok());  // a's tip is now cached at 2.
  ASSERT_EQ(b_.Record("web-0", Step(3), kAlice).value().info.version, 3);
  absl::StatusOr<RecordResult> from_a = a_.Record("web-0", Step(4), kAlice);
  ASSERT_TRUE(from_a.ok()) << from_a.status();
  EXPECT_EQ(from_a->info.version, 4);
  for (int v = 1; v <= 4; ++v) {
    EXPECT_EQ(b_.Document("web-0", v).value(), Step(v)) << v;
    EXPECT_EQ(a_.Document("web-0", v).value(), Step(v)) << v;
  }
  EXPECT_TRUE(a_.Verify("web-0").ok());
}

TEST_F(TwoLedgersTest, AStaleLedgerDoesNotMistakeItsOldTipForTheLatestDocument) {
  ASSERT_TRUE(a_.Record("web-0", Step(1), kAlice).ok());
  ASSERT_TRUE(b_.Record("web-0", Step(2), kAlice).ok());
  // a still believes version 1 is the latest; recording its document again is a change.
  absl::StatusOr<RecordResult> again = a_.Record("web-0", Step(1), kAlice);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->created);
  EXPECT_EQ(again->info.version, 3);
  EXPECT_EQ(b_.Document("web-0", 3).value(), Step(1));
}

TEST_F(TwoLedgersTest, AStaleLedgerAppliesPatchesAndMergesToTheRealLatestVersion) {
  ASSERT_TRUE(a_.Record("web-0", Step(1), kAlice).ok());
  ASSERT_TRUE(b_.RecordMerge("web-0", {{"config", {{"fromB", true}}}}, kAlice).ok());
  absl::StatusOr<RecordResult> patched = a_.RecordPatch(
      "web-0", nlohmann::json::parse(R"([{"op": "add", "path": "/config/fromA", "value": 1}])"),
      kAlice);
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ(patched->info.version, 3);
  nlohmann::json latest = a_.Document("web-0", 3).value();
  EXPECT_EQ(latest["config"]["fromB"], true) << "b's change must not be undone";
  EXPECT_EQ(latest["config"]["fromA"], 1);

  ASSERT_TRUE(b_.RecordMerge("web-0", {{"config", {{"again", "b"}}}}, kAlice).ok());
  absl::StatusOr<RecordResult> merged = a_.RecordMerge("web-0", {{"os", nullptr}}, kAlice);
  ASSERT_TRUE(merged.ok()) << merged.status();
  nlohmann::json merged_document = b_.Document("web-0", merged->info.version).value();
  EXPECT_EQ(merged_document["config"]["again"], "b");
  EXPECT_FALSE(merged_document.contains("os"));
}

TEST_F(TwoLedgersTest, ConcurrentAppendsFromTwoLedgersKeepEveryVersion) {
  constexpr int kEach = 30;
  std::atomic<int> gave_up{0};
  auto writer = [&](Ledger* ledger, const std::string& who) {
    for (int i = 0; i < kEach; ++i) {
      ChangeMeta meta{who, absl::StrCat(who, " ", i), ChangeSource::kRecorded};
      nlohmann::json patch = {
          {{"op", "add"}, {"path", "/config/" + who + std::to_string(i)}, {"value", i}}};
      absl::StatusOr<RecordResult> result = ledger->RecordPatch("web-0", patch, meta);
      for (int retry = 0; retry < 50 && absl::IsAborted(result.status()); ++retry) {
        gave_up++;  // Several conflicts in a row: the caller retries, as a reconciler would.
        result = ledger->RecordPatch("web-0", patch, meta);
      }
      ASSERT_TRUE(result.ok()) << result.status();
    }
  };
  ASSERT_TRUE(a_.Record("web-0", Step(0), kAlice).ok());
  std::thread ta(writer, &a_, "a");
  std::thread tb(writer, &b_, "b");
  ta.join();
  tb.join();

  ASSERT_EQ(a_.Head("web-0").value()->version, 1 + 2 * kEach);
  nlohmann::json latest = a_.Document("web-0", 1 + 2 * kEach).value();
  for (int i = 0; i < kEach; ++i) {
    EXPECT_EQ(latest["config"]["a" + std::to_string(i)], i);
    EXPECT_EQ(latest["config"]["b" + std::to_string(i)], i);
  }
  EXPECT_TRUE(b_.Verify("web-0").ok());
  RecordProperty("conflicts_beyond_retries", gave_up.load());
}

}  // namespace
}  // namespace shadowfleet
