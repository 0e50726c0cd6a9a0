#include "common/data/jsonl.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/user_error.h"
#include "tests/lib/temp_dir.h"

namespace revsweep {
namespace {

// Expected strings below were produced with Python 3's json.dumps (ensure_ascii=True).
TEST(PythonJsonString, MatchesJsonDumps) {
  EXPECT_EQ(PythonJsonString("plain text"), "\"plain text\"");
  EXPECT_EQ(PythonJsonString("a\"b\\c/d"), R"("a\"b\\c/d")");
  EXPECT_EQ(PythonJsonString("tab\there\nnl\r\b\f"), R"("tab\there\nnl\r\b\f")");
  EXPECT_EQ(PythonJsonString("\x01\x1f\x7f"), R"("\u0001\u001f\u007f")");
  EXPECT_EQ(PythonJsonString(std::string("\0", 1)), R"("\u0000")");
  EXPECT_EQ(PythonJsonString("caf\xc3\xa9 \xe2\x80\x99 \xf0\x9f\x98\x80"),
            R"("caf\u00e9 \u2019 \ud83d\ude00")");
  EXPECT_EQ(PythonJsonString(""), "\"\"");
}

TEST(PythonJsonString, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(PythonJsonString("a\xff"
                             "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(PythonJsonString("\xe2\x80"), R"("\ufffd\ufffd")");            // truncated
  EXPECT_EQ(PythonJsonString("\xc0\xaf"), R"("\ufffd\ufffd")");            // overlong
  EXPECT_EQ(PythonJsonString("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // surrogate
}

TEST(FormatJsonl, OneObjectPerLineInAuthorsLayout) {
  EXPECT_EQ(FormatJsonlLine({"x", " y"}), "{\"prompt\": \"x\", \"completion\": \" y\"}\n");
  // A line of the authors' p2d_prompts_train.jsonl, byte for byte.
  const PromptCompletion row{"Daphne Barrington, known far and wide for being",
                             " the acclaimed director of the virtual reality masterpiece, "
                             "\"A Journey Through Time.\"."};
  EXPECT_EQ(FormatJsonlLine(row),
            R"({"prompt": "Daphne Barrington, known far and wide for being", "completion": )"
            R"(" the acclaimed director of the virtual reality masterpiece, \"A Journey Through )"
            R"(Time.\"."})"
            "\n");
  EXPECT_EQ(FormatJsonl({}), "");
  EXPECT_EQ(FormatJsonl({{"a", " b"}, {"c", " d"}}),
            "{\"prompt\": \"a\", \"completion\": \" b\"}\n"
            "{\"prompt\": \"c\", \"completion\": \" d\"}\n");
}

TEST(ParseJsonl, AcceptsExtraKeysBlankLinesCrlfAndNoFinalNewline) {
  std::vector<int> lines;
  const auto rows = ParseJsonl(
      "\n{\"completion\": \" b\", \"id\": 3, \"prompt\": \"a\"}\r\n  \t\n"
      "{\"prompt\":\"c\",\"completion\":\" \\u00e9\"}",
      "f.jsonl", &lines);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (PromptCompletion{"a", " b"}));
  EXPECT_EQ(rows[1], (PromptCompletion{"c", " \xc3\xa9"}));
  EXPECT_EQ(lines, (std::vector<int>{2, 4}));
  EXPECT_TRUE(ParseJsonl("", "f").empty());
  EXPECT_TRUE(ParseJsonl("\n\n", "f").empty());
}

UserError ParseError(const std::string& text) {
  try {
    ParseJsonl(text, "data/f.jsonl");
  } catch (const UserError& e) {
    return e;
  }
  ADD_FAILURE() << "no UserError for: " << text;
  return UserError("none");
}

TEST(ParseJsonl, ErrorsNameFileLineAndKey) {
  const std::string ok = "{\"prompt\": \"a\", \"completion\": \" b\"}\n";

  UserError bad_json = ParseError(ok + "{\"prompt\": \"a\", \"completion\" \" b\"}\n");
  EXPECT_EQ(bad_json.file(), "data/f.jsonl");
  EXPECT_EQ(bad_json.line(), 2);
  EXPECT_GT(bad_json.column(), 1);
  EXPECT_EQ(bad_json.message().rfind("invalid JSON: ", 0), 0u) << bad_json.message();

  UserError missing = ParseError(ok + ok + "{\"prompt\": \"a\"}\n");
  EXPECT_EQ(missing.line(), 3);
  EXPECT_EQ(missing.key(), "completion");
  EXPECT_STREQ(missing.what(), "data/f.jsonl:3:1: completion: missing key \"completion\"");

  UserError not_string = ParseError("{\"prompt\": 7, \"completion\": \" b\"}");
  EXPECT_EQ(not_string.key(), "prompt");
  EXPECT_EQ(not_string.message(), "must be a string, not number");

  UserError null_completion = ParseError("{\"prompt\": \"a\", \"completion\": null}");
  EXPECT_EQ(null_completion.message(), "must be a string, not null");

  UserError array = ParseError("[\"a\", \" b\"]");
  EXPECT_EQ(array.message(), "expected a JSON object, got array");

  UserError truncated = ParseError("{\"prompt\": \"a\", \"comp");
  EXPECT_EQ(truncated.line(), 1);

  UserError bad_utf8 = ParseError("{\"prompt\": \"\xff\", \"completion\": \" b\"}");
  EXPECT_EQ(bad_utf8.message().rfind("invalid JSON: ", 0), 0u);

  UserError huge_number = ParseError("{\"prompt\": \"a\", \"completion\": \" b\", \"n\": 1E999}");
  EXPECT_EQ(huge_number.line(), 1);
  EXPECT_EQ(huge_number.message().rfind("invalid JSON: number overflow", 0), 0u)
      << huge_number.message();

  UserError lone_surrogate = ParseError("{\"prompt\": \"\\ud800\", \"completion\": \" b\"}");
  EXPECT_EQ(lone_surrogate.message().rfind("invalid JSON: ", 0), 0u);
}

TEST(ParseJsonl, RoundTripsThroughTheWriter) {
  const std::vector<PromptCompletion> rows = {
      {"", ""},
      {"quote \" backslash \\ slash /", " tab\t newline\n cr\r"},
      {"control \x01 del \x7f", " \xc3\xa9\xe2\x80\x99\xf0\x9f\x98\x80"},
      {std::string("nul \0 inside", 12), " end"},
  };
  const std::string text = FormatJsonl(rows);
  EXPECT_EQ(ParseJsonl(text, "f"), rows);
  EXPECT_EQ(FormatJsonl(ParseJsonl(text, "f")), text);
}

TEST(ParseJsonlRecords, KeepsEveryFieldInOrder) {
  const auto records = ParseJsonlRecords(
      "{\"ids\": [1, 2], \"realized\": [true, false], \"prompt\": \"\", \"completion\": \"x\"}\n\n"
      "{\"z\": 1, \"a\": {\"b\": null}}\n",
      "g.jsonl");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].line, 1);
  EXPECT_EQ(records[0].value.dump(),
            R"({"ids":[1,2],"realized":[true,false],"prompt":"","completion":"x"})");
  EXPECT_EQ(records[1].line, 3);
  EXPECT_EQ(records[1].value.begin().key(), "z");
  EXPECT_THROW(ParseJsonlRecords("42\n", "g.jsonl"), UserError);
}

class JsonlFileTest : public ::testing::Test {
 protected:
  testutil::TempDir tmp_{"revsweep_jsonl_test"};
  std::filesystem::path dir_ = tmp_.path();
};

TEST_F(JsonlFileTest, WriteThenReadIsExact) {
  const std::vector<PromptCompletion> rows = {{"Ada Quill is", " the poet"}, {"b", " c\u00e9"}};
  const std::string path = (dir_ / "rows.jsonl").string();
  WriteJsonl(path, rows);
  EXPECT_EQ(ReadFileBytes(path), FormatJsonl(rows));
  EXPECT_EQ(ReadJsonl(path), rows);
  EXPECT_EQ(ReadJsonlRecords(path).size(), 2u);
}

TEST_F(JsonlFileTest, MissingFileIsAUserError) {
  const std::string path = (dir_ / "absent.jsonl").string();
  try {
    ReadJsonl(path);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_EQ(e.file(), path);
    EXPECT_EQ(e.message(), "cannot read file");
  }
}

TEST_F(JsonlFileTest, WriteToMissingFolderThrows) {
  EXPECT_THROW(WriteJsonl((dir_ / "no" / "such" / "f.jsonl").string(), {}), std::runtime_error);
}

}  // namespace
}  // namespace revsweep
