// The strict YAML decoder under the spec parser: typed readers that record every problem with
// its position and field path, and YAML-to-JSON conversion that infers scalar types the way
// YAML 1.2's core schema does while keeping quoted scalars strings.
#include "shadowfleet/spec/yaml_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace shadowfleet {
namespace {

using ::testing::HasSubstr;

YAML::Node Load(const std::string& text) {
  return YAML::Load(text);
}

TEST(YamlDecoder, JoinsFieldPathsAndIndexes) {
  EXPECT_EQ(YamlDecoder::Join("", "spec"), "spec");
  EXPECT_EQ(YamlDecoder::Join("spec", "groups"), "spec.groups");
  EXPECT_EQ(YamlDecoder::Index("spec.groups", 3), "spec.groups[3]");
  EXPECT_EQ(YamlDecoder::Join(YamlDecoder::Index("spec.groups", 0), "name"), "spec.groups[0].name");
}

TEST(YamlDecoder, FormatsErrorsAsFileLineColumnPathMessage) {
  EXPECT_EQ((SpecError{"f.yaml", 3, 5, "spec.groups", "bad"}).ToString(),
            "f.yaml:3:5: spec.groups: bad");
  EXPECT_EQ((SpecError{"f.yaml", 0, 0, "spec", "bad"}).ToString(), "f.yaml: spec: bad");
  EXPECT_EQ((SpecError{"f.yaml", 2, 1, "", "bad"}).ToString(), "f.yaml:2:1: bad");
  EXPECT_EQ((SpecError{"", 2, 1, "x", "bad"}).ToString(), "<input>:2:1: x: bad");
  EXPECT_EQ((SpecError{"f.yaml", 3, 5, "a.b", "bad"}).ToJson(),
            nlohmann::json::parse(
                R"({"file": "f.yaml", "line": 3, "column": 5, "path": "a.b", "message": "bad"})"));
}

TEST(YamlDecoder, CollectsEveryErrorIntoOneStatus) {
  YamlDecoder d("f.yaml");
  EXPECT_TRUE(d.ok());
  EXPECT_TRUE(d.ToStatus().ok());
  d.FailAt(1, 2, "a", "first");
  d.FailAt(3, 4, "b", "second");
  EXPECT_FALSE(d.ok());
  EXPECT_EQ(d.errors().size(), 2u);
  EXPECT_EQ(d.ToStatus().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(d.ToStatus().message(), "f.yaml:1:2: a: first\nf.yaml:3:4: b: second");
}

TEST(YamlDecoder, FailOnAMissingNodeHasNoPosition) {
  YamlDecoder d("f.yaml");
  YAML::Node map = Load("a: 1\n");
  d.Fail(map["missing"], "missing", "not here");
  ASSERT_EQ(d.errors().size(), 1u);
  EXPECT_EQ(d.errors()[0].line, 0);
  EXPECT_EQ(d.errors()[0].column, 0);
}

TEST(YamlDecoder, StringReadsScalarsAndRejectsCollections) {
  YamlDecoder d("f.yaml");
  YAML::Node map = Load("name: web\nnumber: 12\nlist: [a]\nempty:\n");
  std::string out = "unchanged";
  EXPECT_TRUE(d.String(map, "name", "g", &out));
  EXPECT_EQ(out, "web");
  EXPECT_TRUE(d.String(map, "number", "g", &out));
  EXPECT_EQ(out, "12");
  out = "unchanged";
  EXPECT_FALSE(d.String(map, "absent", "g", &out));
  EXPECT_FALSE(d.String(map, "empty", "g", &out)) << "null is absent";
  EXPECT_EQ(out, "unchanged");
  EXPECT_TRUE(d.ok());

  EXPECT_FALSE(d.String(map, "list", "g", &out));
  EXPECT_FALSE(d.String(map, "absent", "g", &out, /*required=*/true));
  ASSERT_EQ(d.errors().size(), 2u);
  EXPECT_EQ(d.errors()[0].path, "g.list");
  EXPECT_EQ(d.errors()[0].line, 3);
  EXPECT_EQ(d.errors()[0].column, 7);
  EXPECT_THAT(d.errors()[0].message, HasSubstr("expected a string, got a list"));
  EXPECT_EQ(d.errors()[1].path, "g.absent");
  EXPECT_THAT(d.errors()[1].message, HasSubstr("required field is missing"));
}

TEST(YamlDecoder, IntChecksSyntaxAndRange) {
  YamlDecoder d("f.yaml");
  YAML::Node map = Load("ok: 42\nneg: -3\nfloat: 3.0\nbig: 101\nword: ten\n");
  int out = 0;
  EXPECT_TRUE(d.Int(map, "ok", "", &out, 0, 100));
  EXPECT_EQ(out, 42);
  EXPECT_TRUE(d.Int(map, "neg", "", &out, -5, 5));
  EXPECT_EQ(out, -3);
  EXPECT_FALSE(d.Int(map, "float", "", &out, 0, 100));
  EXPECT_FALSE(d.Int(map, "big", "", &out, 0, 100));
  EXPECT_FALSE(d.Int(map, "word", "", &out, 0, 100));
  EXPECT_EQ(out, -3) << "a rejected value leaves the output alone";
  ASSERT_EQ(d.errors().size(), 3u);
  EXPECT_THAT(d.errors()[0].message, HasSubstr("expected an integer, got \"3.0\""));
  EXPECT_THAT(d.errors()[1].message, HasSubstr("must be between 0 and 100, got 101"));
  EXPECT_EQ(d.errors()[1].line, 4);
  EXPECT_EQ(d.errors()[1].column, 6);
  EXPECT_THAT(d.errors()[2].message, HasSubstr("expected an integer, got \"ten\""));
}

TEST(YamlDecoder, DoubleRejectsNonFiniteAndOutOfRangeNumbers) {
  YamlDecoder d("f.yaml");
  YAML::Node map = Load("ok: 0.25\nexp: 1e-3\nnan: nan\ninf: 1e999\nhigh: 2\n");
  double out = 0;
  EXPECT_TRUE(d.Double(map, "ok", "", &out, 0, 1));
  EXPECT_DOUBLE_EQ(out, 0.25);
  EXPECT_TRUE(d.Double(map, "exp", "", &out, 0, 1));
  EXPECT_DOUBLE_EQ(out, 0.001);
  EXPECT_FALSE(d.Double(map, "nan", "", &out, 0, 1));
  EXPECT_FALSE(d.Double(map, "inf", "", &out, 0, 1e9));
  EXPECT_FALSE(d.Double(map, "high", "", &out, 0, 1));
  EXPECT_EQ(d.errors().size(), 3u);
}

TEST(YamlDecoder, Uint64AndBoolAreStrict) {
  YamlDecoder d("f.yaml");
  YAML::Node map = Load("seed: 18446744073709551615\nneg: -1\nyes: true\nno: false\nmaybe: yes\n");
  uint64_t seed = 0;
  EXPECT_TRUE(d.Uint64(map, "seed", "", &seed));
  EXPECT_EQ(seed, UINT64_MAX);
  EXPECT_FALSE(d.Uint64(map, "neg", "", &seed));
  bool flag = false;
  EXPECT_TRUE(d.Bool(map, "yes", "", &flag));
  EXPECT_TRUE(flag);
  EXPECT_TRUE(d.Bool(map, "no", "", &flag));
  EXPECT_FALSE(flag);
  EXPECT_FALSE(d.Bool(map, "maybe", "", &flag));
  ASSERT_EQ(d.errors().size(), 2u);
  EXPECT_THAT(d.errors()[1].message, HasSubstr("expected true or false, got \"yes\""));
}

TEST(YamlDecoder, DurationAcceptsGoSyntaxAndEnforcesTheMinimum) {
  YamlDecoder d("f.yaml");
  YAML::Node map =
      Load("a: 300ms\nb: 1m30s\nc: 2h\nd: 0\ne: 5\nf: -1s\ng: 10 s\nh: inf\ni: 50ms\n");
  absl::Duration out;
  EXPECT_TRUE(d.Duration(map, "a", "", &out));
  EXPECT_EQ(out, absl::Milliseconds(300));
  EXPECT_TRUE(d.Duration(map, "b", "", &out));
  EXPECT_EQ(out, absl::Seconds(90));
  EXPECT_TRUE(d.Duration(map, "c", "", &out));
  EXPECT_EQ(out, absl::Hours(2));
  EXPECT_TRUE(d.Duration(map, "d", "", &out));
  EXPECT_EQ(out, absl::ZeroDuration());
  EXPECT_TRUE(d.ok());

  EXPECT_FALSE(d.Duration(map, "e", "", &out)) << "a number without a unit";
  EXPECT_FALSE(d.Duration(map, "f", "", &out)) << "below the default minimum of zero";
  EXPECT_FALSE(d.Duration(map, "g", "", &out));
  EXPECT_FALSE(d.Duration(map, "h", "", &out));
  EXPECT_FALSE(d.Duration(map, "i", "", &out, absl::Milliseconds(100)));
  ASSERT_EQ(d.errors().size(), 5u);
  EXPECT_THAT(d.errors()[4].message, HasSubstr("must be at least 100ms, got 50ms"));
}

TEST(YamlDecoder, StringListAndStringMapCheckEveryElement) {
  YamlDecoder d("f.yaml");
  YAML::Node map = Load(
      "argv: [a, 'b c', 3]\nbad: [a, [b]]\nnot: scalar\nenv: {A: x, B: 2}\n"
      "badenv: {A: [x]}\n");
  std::vector<std::string> argv;
  EXPECT_TRUE(d.StringList(map, "argv", "p", &argv));
  EXPECT_EQ(argv, (std::vector<std::string>{"a", "b c", "3"}));
  std::map<std::string, std::string> env;
  EXPECT_TRUE(d.StringMap(map, "env", "p", &env));
  EXPECT_EQ(env, (std::map<std::string, std::string>{{"A", "x"}, {"B", "2"}}));
  EXPECT_TRUE(d.ok());

  std::vector<std::string> untouched = {"keep"};
  EXPECT_FALSE(d.StringList(map, "bad", "p", &untouched));
  EXPECT_EQ(untouched, std::vector<std::string>{"keep"});
  EXPECT_FALSE(d.StringList(map, "not", "p", &untouched));
  EXPECT_FALSE(d.StringList(map, "absent", "p", &untouched, /*required=*/true));
  std::map<std::string, std::string> bad_env;
  d.StringMap(map, "badenv", "p", &bad_env);
  ASSERT_EQ(d.errors().size(), 4u);
  EXPECT_EQ(d.errors()[0].path, "p.bad[1]");
  EXPECT_EQ(d.errors()[1].path, "p.not");
  EXPECT_EQ(d.errors()[2].path, "p.absent");
  EXPECT_EQ(d.errors()[3].path, "p.badenv.A");
}

TEST(YamlDecoder, EnumListsTheChoicesWhenTheValueIsNotOne) {
  enum class Color { kRed, kBlue };
  YamlDecoder d("f.yaml");
  YAML::Node map = Load("good: blue\nbad: green\n");
  Color color = Color::kRed;
  EXPECT_TRUE(d.Enum(map, "good", "c", &color, {{"red", Color::kRed}, {"blue", Color::kBlue}}));
  EXPECT_EQ(color, Color::kBlue);
  EXPECT_FALSE(d.Enum(map, "bad", "c", &color, {{"red", Color::kRed}, {"blue", Color::kBlue}}));
  EXPECT_EQ(color, Color::kBlue);
  ASSERT_EQ(d.errors().size(), 1u);
  EXPECT_EQ(d.errors()[0].path, "c.bad");
  EXPECT_EQ(d.errors()[0].message, "must be one of red, blue, got \"green\"");
}

TEST(YamlDecoder, RejectUnknownKeysReportsUnknownDuplicateAndNonStringKeys) {
  YamlDecoder d("f.yaml");
  YAML::Node map = Load("a: 1\nb: 2\na: 3\nzzz: 4\n[x]: 5\n");
  d.RejectUnknownKeys(map, "root", {"a", "b"});
  ASSERT_EQ(d.errors().size(), 3u);
  EXPECT_EQ(d.errors()[0].path, "root.a");
  EXPECT_EQ(d.errors()[0].line, 3);
  EXPECT_EQ(d.errors()[0].column, 1);
  EXPECT_EQ(d.errors()[0].message, "duplicate key");
  EXPECT_EQ(d.errors()[1].path, "root.zzz");
  EXPECT_EQ(d.errors()[1].message, "unknown field (allowed here: a, b)");
  EXPECT_EQ(d.errors()[2].message, "keys must be plain strings");
}

TEST(YamlDecoder, ExpectMapAndSequenceDescribeWhatWasFound) {
  YamlDecoder d("f.yaml");
  YAML::Node doc = Load("m: {a: 1}\ns: [1]\nx: text\nn: null\n");
  EXPECT_TRUE(d.ExpectMap(doc["m"], "m"));
  EXPECT_TRUE(d.ExpectSequence(doc["s"], "s"));
  EXPECT_FALSE(d.ExpectMap(doc["x"], "x"));
  EXPECT_FALSE(d.ExpectSequence(doc["n"], "n"));
  EXPECT_FALSE(d.ExpectMap(doc["s"], "s"));
  ASSERT_EQ(d.errors().size(), 3u);
  EXPECT_EQ(d.errors()[0].message, "expected a mapping, got \"text\"");
  EXPECT_EQ(d.errors()[1].message, "expected a list, got null");
  EXPECT_EQ(d.errors()[2].message, "expected a mapping, got a list");
}

TEST(YamlDecoder, ToJsonInfersPlainScalarTypesAndKeepsQuotedOnesStrings) {
  YamlDecoder d("f.yaml");
  YAML::Node doc = Load(R"(
int: 42
negative: -7
float: 2.5
exponent: 1e3
true: true
false: false
nothing: null
tilde: ~
empty:
word: hello
version: 1.2.3
quoted_int: "42"
quoted_bool: 'true'
quoted_null: "null"
quoted_empty: ""
list: [1, two, 3.5, null]
nested: {a: {b: [x]}}
)");
  nlohmann::json json = d.ToJson(doc, "c");
  EXPECT_TRUE(d.ok());
  EXPECT_EQ(json, nlohmann::json::parse(R"({
    "int": 42, "negative": -7, "float": 2.5, "exponent": 1000.0, "true": true,
    "false": false, "nothing": null, "tilde": null, "empty": null, "word": "hello",
    "version": "1.2.3", "quoted_int": "42", "quoted_bool": "true", "quoted_null": "null",
    "quoted_empty": "", "list": [1, "two", 3.5, null], "nested": {"a": {"b": ["x"]}}})"));
  EXPECT_TRUE(json["int"].is_number_integer());
  EXPECT_TRUE(json["float"].is_number_float());
}

TEST(YamlDecoder, ToJsonFollowsTheCoreSchemaSpellings) {
  // YAML 1.2 core schema: capitalised booleans and nulls, 0x and 0o integers. YAML 1.1's
  // yes/no/on/off are plain strings.
  YamlDecoder d("f.yaml");
  YAML::Node doc = Load(
      "a: True\nb: FALSE\nc: Null\nd: NULL\ne: 0x1F\nf: 0o17\ng: yes\nh: off\ni: tRUE\n"
      "j: 0xZZ\nk: 0x-5\n");
  nlohmann::json json = d.ToJson(doc, "c");
  EXPECT_EQ(json, nlohmann::json::parse(R"({"a": true, "b": false, "c": null, "d": null,
      "e": 31, "f": 15, "g": "yes", "h": "off", "i": "tRUE", "j": "0xZZ", "k": "0x-5"})"));
}

TEST(YamlDecoder, ToJsonReportsDuplicateAndNonStringKeys) {
  YamlDecoder d("f.yaml");
  YAML::Node doc = Load("a: 1\nb: {x: 1, x: 2}\n? [k]\n: v\n");
  nlohmann::json json = d.ToJson(doc, "cfg");
  ASSERT_EQ(d.errors().size(), 2u);
  EXPECT_EQ(d.errors()[0].path, "cfg.b.x");
  EXPECT_EQ(d.errors()[0].message, "duplicate key");
  EXPECT_EQ(d.errors()[1].message, "keys must be plain strings");
  EXPECT_EQ(json["b"]["x"], 1) << "the first value is kept";
}

TEST(LoadYamlDocuments, SkipsEmptyDocumentsAndReportsSyntaxErrorsWithTheirPosition) {
  YamlDecoder d("f.yaml");
  std::vector<YAML::Node> docs = LoadYamlDocuments("a: 1\n---\n---\n# c\n---\nb: 2\n", d);
  EXPECT_TRUE(d.ok());
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[1]["b"].Scalar(), "2");

  YamlDecoder bad("f.yaml");
  EXPECT_TRUE(LoadYamlDocuments("a: 1\nb: [1, 2\nc: 3\n", bad).empty());
  ASSERT_EQ(bad.errors().size(), 1u);
  EXPECT_EQ(bad.errors()[0].line, 3);
  EXPECT_GT(bad.errors()[0].column, 0);
  EXPECT_THAT(bad.errors()[0].message, HasSubstr("YAML syntax error"));
}

}  // namespace
}  // namespace shadowfleet
