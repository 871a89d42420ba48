// File helpers: atomic replacement of a file's contents, and errors (not crashes) for paths
// that cannot be read or written.
#include "shadowfleet/common/files.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "testing/temp_dir.h"

namespace shadowfleet {
namespace {

using ::shadowfleet::testing::TempDir;

std::vector<std::string> DirectoryEntries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(Files, WriteFileAtomicallyCreatesAFileThatReadFileReturns) {
  TempDir dir;
  std::string contents("binary\0data\nwith\xff bytes", 24);
  ASSERT_TRUE(WriteFileAtomically(dir.File("a.json"), contents).ok());
  absl::StatusOr<std::string> read = ReadFile(dir.File("a.json"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, contents);
}

TEST(Files, WriteFileAtomicallyReplacesLongerContentsAndLeavesNoTemporaryFile) {
  TempDir dir;
  std::string path = dir.File("state.json");
  ASSERT_TRUE(WriteFileAtomically(path, std::string(10'000, 'x')).ok());
  ASSERT_TRUE(WriteFileAtomically(path, "short").ok());
  EXPECT_EQ(ReadFile(path).value_or(""), "short");
  EXPECT_EQ(DirectoryEntries(dir.path()), std::vector<std::string>{"state.json"});
}

TEST(Files, WriteFileAtomicallyWritesAnEmptyFile) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir.File("empty"), "").ok());
  EXPECT_EQ(ReadFile(dir.File("empty")).value_or("missing"), "");
}

TEST(Files, WriteFileAtomicallyFailsInAMissingDirectory) {
  TempDir dir;
  std::string path = dir.File("no/such/dir/file.json");
  absl::Status status = WriteFileAtomically(path, "data");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("no/such/dir"), std::string::npos) << status;
}

TEST(Files, WriteFileAtomicallyOverADirectoryFailsAndCleansUp) {
  TempDir dir;
  std::filesystem::create_directory(dir.File("taken"));
  absl::Status status = WriteFileAtomically(dir.File("taken"), "data");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("taken"), std::string::npos) << status;
  EXPECT_TRUE(std::filesystem::is_directory(dir.File("taken")));
  EXPECT_EQ(DirectoryEntries(dir.path()), std::vector<std::string>{"taken"})
      << "the temporary file must be removed";
}

TEST(Files, ReadFileOfAMissingFileIsNotFound) {
  TempDir dir;
  absl::StatusOr<std::string> read = ReadFile(dir.File("missing.yaml"));
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(read.status().message().find("missing.yaml"), std::string::npos);
}

}  // namespace
}  // namespace shadowfleet
