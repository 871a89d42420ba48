// The API's request validation and status mapping: a change request names its instances or
// group, exactly one form of change and its author, and every rejection names the field.
#include "shadowfleet/api/fleet_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "shadowfleet/api/api_server.h"

namespace shadowfleet {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

absl::StatusOr<ChangeRequest> Parse(const std::string& body) {
  return ChangeRequest::FromJson(nlohmann::json::parse(body));
}

// The message of a rejected request body.
std::string Rejection(const std::string& body) {
  absl::StatusOr<ChangeRequest> request = Parse(body);
  EXPECT_FALSE(request.ok()) << "accepted " << body;
  if (request.ok()) {
    return "";
  }
  EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument) << body;
  return std::string(request.status().message());
}

TEST(ChangeRequest, AcceptsInstancesWithAPatch) {
  absl::StatusOr<ChangeRequest> request = Parse(R"({
    "instances": ["web-0", "web-1"],
    "patch": [{"op": "replace", "path": "/config/workers", "value": 8}],
    "author": "alice", "reason": "more workers"})");
  ASSERT_TRUE(request.ok()) << request.status();
  EXPECT_EQ(request->instances, (std::vector<std::string>{"web-0", "web-1"}));
  EXPECT_EQ(request->group, "");
  EXPECT_EQ(request->patch.size(), 1u);
  EXPECT_TRUE(request->merge.is_null());
  EXPECT_TRUE(request->set.empty());
  EXPECT_EQ(request->author, "alice");
  EXPECT_EQ(request->reason, "more workers");
}

TEST(ChangeRequest, AcceptsAGroupWithAMergeOrASet) {
  absl::StatusOr<ChangeRequest> merge =
      Parse(R"({"group": "web", "merge": {"config": {"cache": null}}, "author": "bob"})");
  ASSERT_TRUE(merge.ok()) << merge.status();
  EXPECT_EQ(merge->group, "web");
  EXPECT_EQ(merge->merge, nlohmann::json::parse(R"({"config": {"cache": null}})"));
  EXPECT_EQ(merge->reason, "");

  absl::StatusOr<ChangeRequest> set = Parse(
      R"({"group": "web", "set": {"/config/workers": 8, "/software/openssl": "3.0.16"},
          "author": "bob"})");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->set.size(), 2u);
  EXPECT_EQ(set->set.at("/config/workers"), 8);
  EXPECT_EQ(set->set.at("/software/openssl"), "3.0.16");
}

TEST(ChangeRequest, EveryRejectionNamesTheFieldAtFault) {
  EXPECT_THAT(Rejection(R"({"instances": ["web-0"], "merge": {}, "author": "a", "colour": 1})"),
              StartsWith("colour: unknown field"));
  EXPECT_THAT(Rejection(R"({"instances": "web-0", "merge": {}, "author": "a"})"),
              StartsWith("instances: "));
  EXPECT_THAT(Rejection(R"({"instances": ["web-0", 3], "merge": {}, "author": "a"})"),
              StartsWith("instances: "));
  EXPECT_THAT(Rejection(R"({"instances": [""], "merge": {}, "author": "a"})"),
              StartsWith("instances: "));
  EXPECT_THAT(Rejection(R"({"group": ["web"], "merge": {}, "author": "a"})"),
              StartsWith("group: "));
  EXPECT_THAT(Rejection(R"({"group": "web", "patch": {"op": "add"}, "author": "a"})"),
              StartsWith("patch: "));
  EXPECT_THAT(Rejection(R"({"group": "web", "patch": [], "author": "a"})"), StartsWith("patch: "));
  EXPECT_THAT(Rejection(R"({"group": "web", "merge": [1], "author": "a"})"), StartsWith("merge: "));
  EXPECT_THAT(Rejection(R"({"group": "web", "set": {}, "author": "a"})"), StartsWith("set: "));
  EXPECT_THAT(Rejection(R"({"group": "web", "set": [1], "author": "a"})"), StartsWith("set: "));
  std::string pointer =
      Rejection(R"({"group": "web", "set": {"config/workers": 8}, "author": "a"})");
  EXPECT_THAT(pointer, StartsWith("set: "));
  EXPECT_THAT(pointer, HasSubstr("config/workers"));
  EXPECT_THAT(Rejection(R"({"group": "web", "merge": {}})"), StartsWith("author: "));
  EXPECT_THAT(Rejection(R"({"group": "web", "merge": {}, "author": ""})"), StartsWith("author: "));
}

TEST(ChangeRequest, NeedsExactlyOneTargetAndExactlyOneFormOfChange) {
  EXPECT_THAT(Rejection(R"({"merge": {}, "author": "a"})"), HasSubstr("instances or a group"));
  EXPECT_THAT(Rejection(R"({"instances": [], "merge": {}, "author": "a"})"),
              HasSubstr("instances or a group"));
  EXPECT_THAT(Rejection(R"({"instances": ["web-0"], "group": "web", "merge": {}, "author": "a"})"),
              HasSubstr("instances or a group"));
  EXPECT_THAT(Rejection(R"({"group": "web", "author": "a"})"),
              HasSubstr("exactly one of patch, merge or set"));
  EXPECT_THAT(Rejection(R"({"group": "web", "merge": {}, "set": {"/a": 1}, "author": "a"})"),
              HasSubstr("exactly one of patch, merge or set"));
}

TEST(ChangeRequest, ABodyThatIsNotAnObjectIsRejected) {
  for (const char* body : {"[]", "\"change\"", "null", "42"}) {
    EXPECT_THAT(Rejection(body), HasSubstr("JSON object")) << body;
  }
}

// FromJson reads author and reason with nlohmann's value(), which throws type_error for a
// non-string value instead of returning INVALID_ARGUMENT naming the field.
TEST(ChangeRequest, AnAuthorOrReasonThatIsNotAStringNamesTheField) {
  absl::StatusOr<ChangeRequest> author = absl::InternalError("not run");
  EXPECT_NO_THROW(author = Parse(R"({"group": "web", "merge": {}, "author": 42})"));
  EXPECT_THAT(std::string(author.status().message()), StartsWith("author: "));
  absl::StatusOr<ChangeRequest> reason = absl::InternalError("not run");
  EXPECT_NO_THROW(reason = Parse(R"({"group": "web", "merge": {}, "author": "a", "reason": [1]})"));
  EXPECT_THAT(std::string(reason.status().message()), StartsWith("reason: "));
}

TEST(HttpStatusFor, MapsEachStatusCodeToItsHttpStatus) {
  EXPECT_EQ(HttpStatusFor(absl::OkStatus()), 200);
  EXPECT_EQ(HttpStatusFor(absl::InvalidArgumentError("x")), 400);
  EXPECT_EQ(HttpStatusFor(absl::OutOfRangeError("x")), 400);
  EXPECT_EQ(HttpStatusFor(absl::NotFoundError("x")), 404);
  EXPECT_EQ(HttpStatusFor(absl::AlreadyExistsError("x")), 409);
  EXPECT_EQ(HttpStatusFor(absl::AbortedError("x")), 409);
  EXPECT_EQ(HttpStatusFor(absl::FailedPreconditionError("x")), 409);
  EXPECT_EQ(HttpStatusFor(absl::UnavailableError("x")), 503);
  EXPECT_EQ(HttpStatusFor(absl::DeadlineExceededError("x")), 504);
  EXPECT_EQ(HttpStatusFor(absl::InternalError("x")), 500);
  EXPECT_EQ(HttpStatusFor(absl::DataLossError("x")), 500);
  EXPECT_EQ(HttpStatusFor(absl::UnknownError("x")), 500);
  EXPECT_EQ(HttpStatusFor(absl::ResourceExhaustedError("x")), 500);
}

TEST(StatusCodeName, NamesTheCodesTheApiReturns) {
  EXPECT_STREQ(StatusCodeName(absl::StatusCode::kInvalidArgument), "INVALID_ARGUMENT");
  EXPECT_STREQ(StatusCodeName(absl::StatusCode::kNotFound), "NOT_FOUND");
  EXPECT_STREQ(StatusCodeName(absl::StatusCode::kAborted), "ABORTED");
  EXPECT_STREQ(StatusCodeName(absl::StatusCode::kDataLoss), "DATA_LOSS");
  EXPECT_STREQ(StatusCodeName(absl::StatusCode::kInternal), "INTERNAL");
}

}  // namespace
}  // namespace shadowfleet
