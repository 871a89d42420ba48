// The SQLite store, in memory and in a real file: versioned objects with optimistic
// concurrency, the change log, ledger versions and their head objects, events, leases, schema
// versions, and two store objects (as two daemons) sharing one file.
#include "shadowfleet/store/sqlite_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "testing/temp_dir.h"

#include "shadowfleet/store/internal/sqlite_connection.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<SqliteStore> OpenOrDie(const std::string& path) {
  SqliteStoreOptions options;
  options.path = path;
  options.synchronous_full = false;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

VersionRecord Version(const std::string& instance, int64_t version, bool checkpoint = false) {
  VersionRecord r;
  r.instance_id = instance;
  r.version = version;
  r.checkpoint = checkpoint;
  r.payload = absl::StrCat("payload-", version, std::string("\0\xff", 2));
  r.digest = std::string(32, static_cast<char>(version));
  r.created_at_ms = 1'000 * version;
  r.author = "alice";
  r.reason = absl::StrCat("change ", version);
  r.source = static_cast<int>(version % 3);
  return r;
}

int64_t PutOrDie(Store& store, const std::string& kind, const std::string& name,
                 const std::string& value = "{}", int64_t expected = kAnyRevision) {
  WriteBatch batch;
  batch.Put(kind, name, value, expected);
  absl::StatusOr<int64_t> revision = store.Commit(batch);
  EXPECT_TRUE(revision.ok()) << revision.status();
  return revision.value_or(-1);
}

EventRecord Event(const std::string& kind, const std::string& subject, int64_t time_ms = 0) {
  return EventRecord{0, time_ms, kind, subject, "tester", kind + " of " + subject, ""};
}

std::vector<std::string> Names(const std::vector<ObjectRecord>& records) {
  std::vector<std::string> names;
  for (const ObjectRecord& r : records) {
    names.push_back(r.kind + "/" + r.name + (r.deleted ? " (deleted)" : ""));
  }
  return names;
}

std::vector<int64_t> VersionNumbers(Store& store, const std::string& instance) {
  std::vector<int64_t> out;
  std::vector<VersionRecord> records = store.ReadVersions(instance, 0, 1'000'000).value();
  for (const VersionRecord& r : records) {
    out.push_back(r.version);
  }
  return out;
}

// Every behaviour that does not depend on where the database lives runs against both an
// in-memory database and a file.
class SqliteStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    path_ = GetParam() == "memory" ? ":memory:" : dir_.File("state.db");
    store_ = OpenOrDie(path_);
    ASSERT_NE(store_, nullptr);
  }

  int64_t CommitOrDie(const WriteBatch& batch) {
    absl::StatusOr<int64_t> revision = store_->Commit(batch);
    EXPECT_TRUE(revision.ok()) << revision.status();
    return revision.value_or(-1);
  }

  int64_t Put(const std::string& kind, const std::string& name, const std::string& value,
              int64_t expected = kAnyRevision) {
    return PutOrDie(*store_, kind, name, value, expected);
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<SqliteStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, SqliteStoreTest, ::testing::Values("memory", "file"));

TEST_P(SqliteStoreTest, GetReturnsWhatPutWroteWithTheBatchRevision) {
  int64_t revision = Put("instance", "web-0", std::string("{\"a\":1}\0binary", 14));
  absl::StatusOr<std::optional<ObjectRecord>> got = store_->Get("instance", "web-0");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->kind, "instance");
  EXPECT_EQ((*got)->name, "web-0");
  EXPECT_EQ((*got)->revision, revision);
  EXPECT_FALSE((*got)->deleted);
  EXPECT_EQ((*got)->value, std::string("{\"a\":1}\0binary", 14));
  EXPECT_FALSE(store_->Get("instance", "web-1")->has_value());
  EXPECT_FALSE(store_->Get("shadow", "web-0")->has_value());
}

TEST_P(SqliteStoreTest, EveryCommitTakesTheNextStoreRevision) {
  EXPECT_EQ(store_->CurrentRevision().value(), 0);
  EXPECT_EQ(Put("a", "1", "x"), 1);
  EXPECT_EQ(Put("a", "2", "x"), 2);
  WriteBatch batch;
  batch.Put("a", "3", "x", kAnyRevision);
  batch.Put("b", "3", "x", kAnyRevision);
  EXPECT_EQ(CommitOrDie(batch), 3);
  EXPECT_EQ(store_->CurrentRevision().value(), 3);
  EXPECT_EQ(store_->Get("a", "3")->value().revision, 3);
  EXPECT_EQ(store_->Get("b", "3")->value().revision, 3);
}

TEST_P(SqliteStoreTest, ListReturnsOneKindSortedByName) {
  Put("instance", "web-2", "2");
  Put("instance", "web-0", "0");
  Put("shadow", "web-0", "s");
  Put("instance", "db-0", "d");
  absl::StatusOr<std::vector<ObjectRecord>> listed = store_->List("instance");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(Names(*listed), ElementsAre("instance/db-0", "instance/web-0", "instance/web-2"));
  EXPECT_EQ((*listed)[1].value, "0");
  EXPECT_TRUE(store_->List("volume")->empty());
}

TEST_P(SqliteStoreTest, ExpectedRevisionsGuardEveryWrite) {
  int64_t first = Put("instance", "web-0", "v1", kMustNotExist);
  absl::StatusOr<int64_t> again = [&] {
    WriteBatch batch;
    batch.Put("instance", "web-0", "v1b", kMustNotExist);
    return store_->Commit(batch);
  }();
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(again.status().message(), HasSubstr("instance/web-0"));

  int64_t second = Put("instance", "web-0", "v2", first);
  EXPECT_GT(second, first);
  WriteBatch stale;
  stale.Put("instance", "web-0", "lost update", first);
  absl::StatusOr<int64_t> rejected = store_->Commit(stale);
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(rejected.status().message(),
              HasSubstr(absl::StrCat("expected revision ", first, ", found ", second)));
  EXPECT_EQ(store_->Get("instance", "web-0")->value().value, "v2");
  Put("instance", "web-0", "forced", kAnyRevision);
  EXPECT_EQ(store_->Get("instance", "web-0")->value().value, "forced");
}

TEST_P(SqliteStoreTest, AConflictRollsTheWholeBatchBack) {
  int64_t base = Put("instance", "web-0", "v1");
  WriteBatch batch;
  batch.Put("instance", "web-1", "new", kMustNotExist);
  batch.Delete("instance", "web-0", kAnyRevision);
  batch.AppendVersion(Version("web-1", 1, true));
  batch.AppendEvent(Event("instance.created", "web-1"));
  batch.Put("instance", "web-0", "conflict", base + 100);
  absl::StatusOr<int64_t> result = store_->Commit(batch);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kAborted) << result.status();

  // Nothing of the batch is visible: not the put, the delete, the version, the head or the
  // event, and the store revision did not move.
  EXPECT_EQ(store_->CurrentRevision().value(), base);
  EXPECT_FALSE(store_->Get("instance", "web-1")->has_value());
  EXPECT_EQ(store_->Get("instance", "web-0")->value().value, "v1");
  EXPECT_TRUE(store_->ReadVersions("web-1", 0, 100)->empty());
  EXPECT_FALSE(store_->ReadHead("web-1")->has_value());
  EXPECT_TRUE(store_->ListEvents({})->empty());
  EXPECT_EQ(store_->ListChanges(base)->changes.size(), 0u);

  // The store is usable after the rollback.
  EXPECT_EQ(Put("instance", "web-1", "new", kMustNotExist), base + 1);
}

TEST_P(SqliteStoreTest, DeleteLeavesATombstoneInTheChangeLog) {
  int64_t created = Put("instance", "web-0", "v1");
  WriteBatch stale;
  stale.Delete("instance", "web-0", created + 5);
  EXPECT_EQ(store_->Commit(stale).status().code(), absl::StatusCode::kAborted);

  WriteBatch batch;
  batch.Delete("instance", "web-0", created);
  int64_t deleted = CommitOrDie(batch);
  EXPECT_FALSE(store_->Get("instance", "web-0")->has_value());
  EXPECT_TRUE(store_->List("instance")->empty());

  ChangeSet changes = store_->ListChanges(created).value();
  ASSERT_EQ(changes.changes.size(), 1u);
  EXPECT_TRUE(changes.changes[0].deleted);
  EXPECT_EQ(changes.changes[0].name, "web-0");
  EXPECT_EQ(changes.changes[0].revision, deleted);
  EXPECT_EQ(changes.revision, deleted);

  // A deleted object counts as absent: it may be created again.
  int64_t recreated = Put("instance", "web-0", "v2", kMustNotExist);
  EXPECT_EQ(store_->Get("instance", "web-0")->value().value, "v2");
  EXPECT_FALSE(store_->ListChanges(deleted)->changes[0].deleted);
  EXPECT_EQ(store_->ListChanges(deleted)->changes[0].revision, recreated);
}

TEST_P(SqliteStoreTest, ListChangesReturnsTheLatestStateOfEachObjectInRevisionOrder) {
  Put("instance", "a", "1");  // 1
  Put("instance", "b", "1");  // 2
  Put("shadow", "a", "1");    // 3
  Put("instance", "a", "2");  // 4
  WriteBatch del;
  del.Delete("shadow", "a", kAnyRevision);
  CommitOrDie(del);  // 5

  ChangeSet all = store_->ListChanges(0).value();
  EXPECT_EQ(all.revision, 5);
  EXPECT_THAT(Names(all.changes), ElementsAre("instance/b", "instance/a", "shadow/a (deleted)"));
  EXPECT_EQ(all.changes[1].value, "2");
  EXPECT_EQ(all.changes[1].revision, 4);

  ChangeSet since3 = store_->ListChanges(3).value();
  EXPECT_THAT(Names(since3.changes), ElementsAre("instance/a", "shadow/a (deleted)"));
  ChangeSet none = store_->ListChanges(5).value();
  EXPECT_TRUE(none.changes.empty());
  EXPECT_EQ(none.revision, 5);
}

TEST_P(SqliteStoreTest, AppendVersionMustBeContiguous) {
  WriteBatch first;
  first.AppendVersion(Version("web-0", 1, true));
  CommitOrDie(first);
  WriteBatch second;
  second.AppendVersion(Version("web-0", 2));
  int64_t revision = CommitOrDie(second);

  WriteBatch gap;
  gap.AppendVersion(Version("web-0", 4));
  absl::StatusOr<int64_t> gap_result = store_->Commit(gap);
  EXPECT_EQ(gap_result.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(gap_result.status().message(), HasSubstr("latest is 2"));

  WriteBatch duplicate;
  duplicate.AppendVersion(Version("web-0", 2));
  EXPECT_EQ(store_->Commit(duplicate).status().code(), absl::StatusCode::kAborted);

  WriteBatch not_first;
  not_first.AppendVersion(Version("db-0", 2));
  EXPECT_EQ(store_->Commit(not_first).status().code(), absl::StatusCode::kAborted);

  EXPECT_THAT(VersionNumbers(*store_, "web-0"), ElementsAre(1, 2));
  EXPECT_EQ(store_->CurrentRevision().value(), revision);
}

TEST_P(SqliteStoreTest, AppendVersionKeepsTheHeadObjectCurrent) {
  EXPECT_FALSE(store_->ReadHead("web-0")->has_value());
  WriteBatch batch;
  batch.AppendVersion(Version("web-0", 1, true));
  batch.AppendVersion(Version("web-0", 2));
  batch.AppendVersion(Version("db-0", 1, true));
  int64_t revision = CommitOrDie(batch);

  std::optional<VersionHead> head = store_->ReadHead("web-0").value();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->instance_id, "web-0");
  EXPECT_EQ(head->version, 2);
  EXPECT_EQ(head->created_at_ms, 2'000);
  EXPECT_EQ(head->latest_tested, 0);

  // Other daemons learn of new versions through the change log.
  absl::StatusOr<std::optional<ObjectRecord>> object = store_->Get(kLedgerHeadObject, "web-0");
  ASSERT_TRUE(object->has_value());
  EXPECT_EQ((*object)->revision, revision);
  EXPECT_EQ(VersionHead::Decode("web-0", (*object)->value)->version, 2);

  std::vector<VersionHead> heads = store_->ReadAllHeads().value();
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_EQ(heads[0].instance_id, "db-0");
  EXPECT_EQ(heads[0].version, 1);
  EXPECT_EQ(heads[1].instance_id, "web-0");
}

TEST_P(SqliteStoreTest, ReadVersionsReturnsEveryFieldInOrderWithinTheRange) {
  WriteBatch batch;
  for (int64_t v = 1; v <= 5; ++v) {
    batch.AppendVersion(Version("web-0", v, v == 1 || v == 4));
  }
  CommitOrDie(batch);
  std::vector<VersionRecord> range = store_->ReadVersions("web-0", 2, 4).value();
  ASSERT_EQ(range.size(), 3u);
  VersionRecord expected = Version("web-0", 4, true);
  const VersionRecord& got = range[2];
  EXPECT_EQ(got.instance_id, expected.instance_id);
  EXPECT_EQ(got.version, 4);
  EXPECT_TRUE(got.checkpoint);
  EXPECT_EQ(got.payload, expected.payload);
  EXPECT_EQ(got.digest, expected.digest);
  EXPECT_EQ(got.created_at_ms, expected.created_at_ms);
  EXPECT_EQ(got.author, "alice");
  EXPECT_EQ(got.reason, "change 4");
  EXPECT_EQ(got.source, 1);
  EXPECT_EQ(got.tested_at_ms, 0);
  EXPECT_EQ(range[0].version, 2);
  EXPECT_FALSE(range[0].checkpoint);
  EXPECT_TRUE(store_->ReadVersions("web-0", 6, 9)->empty());
  EXPECT_TRUE(store_->ReadVersions("db-0", 1, 9)->empty());
}

TEST_P(SqliteStoreTest, ReadCheckpointFindsTheNewestCheckpointAtOrBeforeAVersion) {
  WriteBatch batch;
  for (int64_t v = 1; v <= 7; ++v) {
    batch.AppendVersion(Version("web-0", v, v == 1 || v == 4));
  }
  CommitOrDie(batch);
  EXPECT_EQ(store_->ReadCheckpoint("web-0", 3).value()->version, 1);
  EXPECT_EQ(store_->ReadCheckpoint("web-0", 4).value()->version, 4);
  EXPECT_EQ(store_->ReadCheckpoint("web-0", 100).value()->version, 4);
  EXPECT_EQ(store_->ReadCheckpoint("web-0", 4).value()->payload, Version("web-0", 4).payload);
  EXPECT_FALSE(store_->ReadCheckpoint("web-0", 0)->has_value());
  EXPECT_FALSE(store_->ReadCheckpoint("db-0", 5)->has_value());
}

TEST_P(SqliteStoreTest, DeleteVersionsBeforeMovesTheOldestVersion) {
  EXPECT_EQ(store_->ReadOldestVersion("web-0").value(), 0);
  WriteBatch batch;
  for (int64_t v = 1; v <= 6; ++v) {
    batch.AppendVersion(Version("web-0", v, v == 1));
  }
  batch.AppendVersion(Version("db-0", 1, true));
  CommitOrDie(batch);
  EXPECT_EQ(store_->ReadOldestVersion("web-0").value(), 1);

  WriteBatch compact;
  VersionRecord rewritten = Version("web-0", 4, true);
  rewritten.payload = "full document";
  compact.RewriteVersion(rewritten);
  compact.DeleteVersionsBefore("web-0", 4);
  CommitOrDie(compact);

  EXPECT_EQ(store_->ReadOldestVersion("web-0").value(), 4);
  EXPECT_THAT(VersionNumbers(*store_, "web-0"), ElementsAre(4, 5, 6));
  EXPECT_EQ(store_->ReadCheckpoint("web-0", 6).value()->payload, "full document");
  EXPECT_EQ(store_->ReadHead("web-0").value()->version, 6) << "the head is untouched";
  EXPECT_THAT(VersionNumbers(*store_, "db-0"), ElementsAre(1));

  // Appending continues after the head, not after the oldest version.
  WriteBatch next;
  next.AppendVersion(Version("web-0", 7));
  CommitOrDie(next);
}

TEST_P(SqliteStoreTest, RewriteVersionOfAMissingVersionAborts) {
  WriteBatch batch;
  batch.RewriteVersion(Version("web-0", 3, true));
  absl::StatusOr<int64_t> result = store_->Commit(batch);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(result.status().message(), HasSubstr("no longer exists"));
}

TEST_P(SqliteStoreTest, MarkTestedRecordsTheTimeAndRaisesLatestTested) {
  WriteBatch batch;
  for (int64_t v = 1; v <= 3; ++v) {
    batch.AppendVersion(Version("web-0", v, v == 1));
  }
  CommitOrDie(batch);

  WriteBatch tested;
  tested.MarkTested("web-0", 2, 5'000);
  CommitOrDie(tested);
  EXPECT_EQ(store_->ReadVersions("web-0", 2, 2).value()[0].tested_at_ms, 5'000);
  EXPECT_EQ(store_->ReadHead("web-0").value()->latest_tested, 2);
  EXPECT_EQ(store_->ReadHead("web-0").value()->version, 3);

  // Marking again keeps the first time; marking an older version does not lower the mark.
  WriteBatch again;
  again.MarkTested("web-0", 2, 9'000);
  again.MarkTested("web-0", 1, 9'000);
  CommitOrDie(again);
  EXPECT_EQ(store_->ReadVersions("web-0", 2, 2).value()[0].tested_at_ms, 5'000);
  EXPECT_EQ(store_->ReadVersions("web-0", 1, 1).value()[0].tested_at_ms, 9'000);
  EXPECT_EQ(store_->ReadHead("web-0").value()->latest_tested, 2);

  // A version appended already tested moves the mark with it.
  WriteBatch appended;
  VersionRecord v4 = Version("web-0", 4);
  v4.tested_at_ms = 10'000;
  appended.AppendVersion(v4);
  CommitOrDie(appended);
  EXPECT_EQ(store_->ReadHead("web-0").value()->latest_tested, 4);
}

TEST_P(SqliteStoreTest, MarkTestedOfAnInstanceWithoutVersionsIsNotFound) {
  WriteBatch batch;
  batch.Put("instance", "web-0", "x", kAnyRevision);
  batch.MarkTested("web-0", 1, 5'000);
  EXPECT_EQ(store_->Commit(batch).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(store_->Get("instance", "web-0")->has_value());
}

TEST_P(SqliteStoreTest, LedgerStatsCountVersionsCheckpointsAndBytes) {
  WriteBatch batch;
  int64_t payload_bytes = 0;
  for (int64_t v = 1; v <= 4; ++v) {
    VersionRecord r = Version("web-0", v, v == 1 || v == 3);
    payload_bytes += static_cast<int64_t>(r.payload.size());
    batch.AppendVersion(r);
  }
  CommitOrDie(batch);
  LedgerStorageStats stats = store_->ReadLedgerStats().value();
  EXPECT_EQ(stats.versions, 4);
  EXPECT_EQ(stats.checkpoints, 2);
  EXPECT_EQ(stats.payload_bytes, payload_bytes);
  EXPECT_GT(stats.record_bytes, payload_bytes + 4 * 32);
}

TEST_P(SqliteStoreTest, EventsGetIncreasingIdsAndDefaultDetails) {
  WriteBatch batch;
  batch.AppendEvent(Event("shadow.created", "web-0", 10));
  batch.AppendEvent({0, 11, "version.recorded", "web-0", "alice", "v2", R"({"version":2})"});
  CommitOrDie(batch);
  std::vector<EventRecord> events = store_->ListEvents({}).value();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_GT(events[0].id, 0);
  EXPECT_GT(events[1].id, events[0].id);
  EXPECT_EQ(events[0].time_ms, 10);
  EXPECT_EQ(events[0].kind, "shadow.created");
  EXPECT_EQ(events[0].subject, "web-0");
  EXPECT_EQ(events[0].actor, "tester");
  EXPECT_EQ(events[0].message, "shadow.created of web-0");
  EXPECT_EQ(events[0].details, "{}");
  EXPECT_EQ(events[1].details, R"({"version":2})");
}

TEST_P(SqliteStoreTest, ListEventsFiltersBySubjectKindPrefixAndId) {
  WriteBatch batch;
  batch.AppendEvent(Event("shadow.created", "web-0"));    // 1
  batch.AppendEvent(Event("shadow.ready", "web-1"));      // 2
  batch.AppendEvent(Event("version.recorded", "web-0"));  // 3
  batch.AppendEvent(Event("shadowing.paused", "web-0"));  // 4
  batch.AppendEvent(Event("shadow.replaced", "web-0"));   // 5
  CommitOrDie(batch);
  auto kinds = [&](const EventQuery& query) {
    std::vector<std::string> out;
    std::vector<EventRecord> events = store_->ListEvents(query).value();
    for (const EventRecord& e : events) {
      out.push_back(absl::StrCat(e.id, ":", e.kind, "@", e.subject));
    }
    return out;
  };
  EXPECT_THAT(kinds({"web-0", "", 0, 100}),
              ElementsAre("1:shadow.created@web-0", "3:version.recorded@web-0",
                          "4:shadowing.paused@web-0", "5:shadow.replaced@web-0"));
  EXPECT_THAT(
      kinds({"", "shadow.", 0, 100}),
      ElementsAre("1:shadow.created@web-0", "2:shadow.ready@web-1", "5:shadow.replaced@web-0"));
  EXPECT_THAT(kinds({"web-0", "shadow.", 0, 100}),
              ElementsAre("1:shadow.created@web-0", "5:shadow.replaced@web-0"));
  EXPECT_THAT(kinds({"", "", 3, 100}),
              ElementsAre("4:shadowing.paused@web-0", "5:shadow.replaced@web-0"));
  EXPECT_THAT(kinds({"nobody", "", 0, 100}), ElementsAre());
  // A limit keeps the newest events, still oldest first.
  EXPECT_THAT(kinds({"", "", 0, 2}),
              ElementsAre("4:shadowing.paused@web-0", "5:shadow.replaced@web-0"));
}

TEST_P(SqliteStoreTest, LeaseBelongsToOneHolderUntilItExpiresOrIsReleased) {
  EXPECT_TRUE(store_->TryAcquireLease("leader", "daemon-a", 1'000, 10'000).value());
  EXPECT_FALSE(store_->TryAcquireLease("leader", "daemon-b", 5'000, 10'000).value());
  // The holder renews; the renewal pushes the expiry out.
  EXPECT_TRUE(store_->TryAcquireLease("leader", "daemon-a", 9'000, 10'000).value());
  EXPECT_FALSE(store_->TryAcquireLease("leader", "daemon-b", 15'000, 10'000).value());
  // Other leases are independent.
  EXPECT_TRUE(store_->TryAcquireLease("compactor", "daemon-b", 15'000, 10'000).value());
  // After expiry another holder takes over, and the old holder is refused.
  EXPECT_TRUE(store_->TryAcquireLease("leader", "daemon-b", 19'001, 10'000).value());
  EXPECT_FALSE(store_->TryAcquireLease("leader", "daemon-a", 20'000, 10'000).value());

  // Only the holder can release.
  ASSERT_TRUE(store_->ReleaseLease("leader", "daemon-a").ok());
  EXPECT_FALSE(store_->TryAcquireLease("leader", "daemon-a", 20'000, 10'000).value());
  ASSERT_TRUE(store_->ReleaseLease("leader", "daemon-b").ok());
  EXPECT_TRUE(store_->TryAcquireLease("leader", "daemon-a", 20'000, 10'000).value());
}

TEST(SqliteStore, EachInMemoryStoreIsPrivate) {
  std::unique_ptr<SqliteStore> a = OpenOrDie(":memory:");
  std::unique_ptr<SqliteStore> b = OpenOrDie(":memory:");
  WriteBatch batch;
  batch.Put("instance", "web-0", "a", kAnyRevision);
  ASSERT_TRUE(a->Commit(batch).ok());
  EXPECT_FALSE(b->Get("instance", "web-0")->has_value());
  EXPECT_EQ(b->CurrentRevision().value(), 0);
}

TEST(SqliteStore, ReopeningAFileKeepsEverything) {
  TempDir dir;
  std::string path = dir.File("state.db");
  int64_t revision = 0;
  {
    std::unique_ptr<SqliteStore> store = OpenOrDie(path);
    WriteBatch batch;
    batch.Put("instance", "web-0", "record", kMustNotExist);
    batch.Put("shadow", "web-0", "gone soon", kMustNotExist);
    batch.AppendVersion(Version("web-0", 1, true));
    batch.AppendVersion(Version("web-0", 2));
    batch.MarkTested("web-0", 1, 3'000);
    batch.AppendEvent(Event("instance.created", "web-0"));
    ASSERT_TRUE(store->Commit(batch).ok());
    WriteBatch del;
    del.Delete("shadow", "web-0", kAnyRevision);
    revision = store->Commit(del).value();
    ASSERT_TRUE(store->TryAcquireLease("leader", "daemon-a", 1'000, 60'000).value());
  }
  std::unique_ptr<SqliteStore> store = OpenOrDie(path);
  EXPECT_EQ(store->CurrentRevision().value(), revision);
  EXPECT_EQ(store->Get("instance", "web-0")->value().value, "record");
  EXPECT_FALSE(store->Get("shadow", "web-0")->has_value());
  EXPECT_TRUE(store->ListChanges(revision - 1)->changes[0].deleted);
  EXPECT_THAT(VersionNumbers(*store, "web-0"), ElementsAre(1, 2));
  EXPECT_EQ(store->ReadVersions("web-0", 2, 2).value()[0].payload, Version("web-0", 2).payload);
  std::optional<VersionHead> head = store->ReadHead("web-0").value();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->version, 2);
  EXPECT_EQ(head->latest_tested, 1);
  EXPECT_EQ(store->ListEvents({}).value().size(), 1u);
  EXPECT_FALSE(store->TryAcquireLease("leader", "daemon-b", 2'000, 60'000).value());
  EXPECT_EQ(PutOrDie(*store, "instance", "web-1"), revision + 1)
      << "the revision counter continues where it stopped";
}

TEST(SqliteStore, RefusesADatabaseWrittenByANewerSchema) {
  TempDir dir;
  std::string path = dir.File("state.db");
  ASSERT_NE(OpenOrDie(path), nullptr);
  {
    absl::StatusOr<std::unique_ptr<internal::Connection>> db = internal::Connection::Open(path);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)
                    ->Exec(absl::StrCat("INSERT INTO schema_migrations VALUES (",
                                        SqliteStore::SchemaVersion() + 1, ", 0)"))
                    .ok());
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open({path});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(),
              HasSubstr(absl::StrCat("schema version ", SqliteStore::SchemaVersion() + 1)));
}

TEST(SqliteStore, OpeningAnUnwritablePathFails) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store =
      SqliteStore::Open({dir.File("no/such/dir/state.db")});
  EXPECT_FALSE(store.ok());
}

TEST(SqliteStore, TwoStoresOnOneFileSeeEachOthersCommits) {
  TempDir dir;
  std::unique_ptr<SqliteStore> a = OpenOrDie(dir.File("state.db"));
  std::unique_ptr<SqliteStore> b = OpenOrDie(dir.File("state.db"));
  WriteBatch batch;
  batch.Put("instance", "web-0", "from a", kMustNotExist);
  batch.AppendVersion(Version("web-0", 1, true));
  int64_t revision = a->Commit(batch).value();

  EXPECT_EQ(b->CurrentRevision().value(), revision);
  EXPECT_EQ(b->Get("instance", "web-0")->value().value, "from a");
  EXPECT_EQ(b->ReadHead("web-0").value()->version, 1);
  EXPECT_THAT(Names(b->ListChanges(0)->changes),
              ::testing::UnorderedElementsAre("instance/web-0", "ledger.head/web-0"));

  WriteBatch reply;
  reply.Put("instance", "web-0", "from b", revision);
  int64_t b_revision = b->Commit(reply).value();
  EXPECT_EQ(b_revision, revision + 1);
  EXPECT_EQ(a->Get("instance", "web-0")->value().value, "from b");
}

TEST(SqliteStore, TwoStoresOnOneFileDetectEachOthersConflictingWrites) {
  TempDir dir;
  std::unique_ptr<SqliteStore> a = OpenOrDie(dir.File("state.db"));
  std::unique_ptr<SqliteStore> b = OpenOrDie(dir.File("state.db"));
  WriteBatch create;
  create.Put("instance", "web-0", "v1", kMustNotExist);
  create.AppendVersion(Version("web-0", 1, true));
  int64_t read_revision = a->Commit(create).value();

  // Both read revision `read_revision`; a writes first, b's write is then stale.
  WriteBatch a_write;
  a_write.Put("instance", "web-0", "a", read_revision);
  a_write.AppendVersion(Version("web-0", 2));
  ASSERT_TRUE(a->Commit(a_write).ok());
  WriteBatch b_write;
  b_write.Put("instance", "web-0", "b", read_revision);
  EXPECT_EQ(b->Commit(b_write).status().code(), absl::StatusCode::kAborted);
  WriteBatch b_version;
  b_version.AppendVersion(Version("web-0", 2));
  EXPECT_EQ(b->Commit(b_version).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(b->Get("instance", "web-0")->value().value, "a");

  EXPECT_TRUE(a->TryAcquireLease("leader", "a", 0, 1'000).value());
  EXPECT_FALSE(b->TryAcquireLease("leader", "b", 10, 1'000).value());
}

TEST(SqliteStore, ConcurrentReadModifyWriteFromTwoStoresLosesNoUpdate) {
  TempDir dir;
  std::unique_ptr<SqliteStore> stores[2] = {OpenOrDie(dir.File("state.db")),
                                            OpenOrDie(dir.File("state.db"))};
  constexpr int kPerThread = 40;
  std::atomic<int> conflicts{0};
  auto increment = [&](SqliteStore* store) {
    for (int done = 0; done < kPerThread;) {
      std::optional<ObjectRecord> current = store->Get("counter", "c").value();
      int value = current ? std::stoi(current->value) : 0;
      WriteBatch batch;
      batch.Put("counter", "c", std::to_string(value + 1),
                current ? current->revision : kMustNotExist);
      absl::StatusOr<int64_t> result = store->Commit(batch);
      if (result.ok()) {
        ++done;
      } else {
        ASSERT_TRUE(absl::IsAborted(result.status())) << result.status();
        ++conflicts;
      }
    }
  };
  std::thread t1(increment, stores[0].get());
  std::thread t2(increment, stores[1].get());
  t1.join();
  t2.join();
  EXPECT_EQ(stores[0]->Get("counter", "c").value()->value, std::to_string(2 * kPerThread));
}

}  // namespace
}  // namespace shadowfleet
