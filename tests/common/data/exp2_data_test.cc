// Experiment 2 (real celebrities and their parents): the authors' CSV loads as published,
// both directions become evaluation cells, bad files and configs name file, line and key.
#include "common/data/exp2_data.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/config/sweep_config.h"
#include "common/data/text_task.h"
#include "common/user_error.h"
#include "tests/lib/authors_data.h"
#include "tests/lib/temp_dir.h"

namespace revsweep {
namespace {

namespace fs = std::filesystem;

class Exp2Test : public ::testing::Test {
 protected:
  testutil::TempDir tmp_{"revsweep_exp2_test"};
  fs::path dir_ = tmp_.path();
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  // The UserError LoadParentChildCsv throws for `text`.
  UserError ErrorOf(const std::string& text) {
    const std::string path = Write("bad.csv", text);
    try {
      LoadParentChildCsv(path);
    } catch (const UserError& e) {
      EXPECT_EQ(e.file(), path);
      return e;
    }
    ADD_FAILURE() << "no error for: " << text;
    return UserError("none");
  }
};

TEST_F(Exp2Test, ReadsQuotedFieldsReorderedColumnsAndCrlf) {
  const std::string path = Write("p.csv",
                                 "parent_type,child,extra,parent\r\n"
                                 "mother,\"Smith, Jr.\",x,\"Ann \"\"Nan\"\" Smith\"\r\n"
                                 "\n"
                                 "father,Bo Li,,Wei Li\r\n");
  const auto pairs = LoadParentChildCsv(path);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].child, "Smith, Jr.");
  EXPECT_EQ(pairs[0].parent, "Ann \"Nan\" Smith");
  EXPECT_EQ(pairs[0].parent_type, "mother");
  EXPECT_EQ(pairs[0].line, 2);
  EXPECT_EQ(pairs[1].line, 4);  // the blank line is skipped, not renumbered
  EXPECT_EQ(ChildToParentPrompt(pairs[1]), "Bo Li's father is");
  EXPECT_EQ(ParentToChildPrompt(pairs[1]), "Wei Li is the father of");
}

TEST_F(Exp2Test, BadFilesNameLineAndKey) {
  UserError missing = ErrorOf("child,parent\nA,B\n");
  EXPECT_EQ(missing.line(), 1);
  EXPECT_EQ(missing.key(), "parent_type");
  UserError empty = ErrorOf("child,parent,parent_type\nA,B,mother\nC,,father\n");
  EXPECT_EQ(empty.line(), 3);
  EXPECT_EQ(empty.key(), "parent");
  UserError short_row = ErrorOf("child,parent,parent_type\nA,B\n");
  EXPECT_EQ(short_row.line(), 2);
  EXPECT_EQ(short_row.key(), "parent_type");
  UserError quote = ErrorOf("child,parent,parent_type\nA,\"B,mother\nC,D,father\n");
  EXPECT_EQ(quote.line(), 2);
  EXPECT_NE(quote.message().find("never closed"), std::string::npos);
  EXPECT_THROW(LoadParentChildCsv((dir_ / "absent.csv").string()), UserError);
  EXPECT_THROW(LoadParentChildCsv(dir_.string()), UserError);  // a folder
  EXPECT_NE(ErrorOf("child,parent,parent_type\n").message().find("no rows"), std::string::npos);
}

TEST_F(Exp2Test, ConfigNeedsTheGpt2TokenizerAndASource) {
  const std::string csv = Write("p.csv", "child,parent,parent_type\nA B,C B,mother\n");
  const auto error_of = [](const std::string& yaml) {
    try {
      ParseSweepConfig(yaml, "c.yaml");
    } catch (const UserError& e) {
      return std::string(e.key()) + ": " + e.message();
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of("name: a\ndataset: {kind: exp2, source: " + csv + "}\ntrain: {epochs: 0}\n")
                .find("dataset.kind: dataset.kind exp2 evaluates a pretrained model"),
            std::string::npos);
  EXPECT_NE(error_of("name: a\ndataset: {kind: exp2}\n"
                     "tokenizer: {type: gpt2, gpt2_dir: /x}\ntrain: {epochs: 0}\n")
                .find("dataset.kind: dataset.kind exp2 has no generator"),
            std::string::npos);
  EXPECT_EQ(error_of("name: a\ndataset: {kind: exp2, source: " + csv +
                     "}\ntokenizer: {type: gpt2, gpt2_dir: /x}\ntrain: {epochs: 0}\n"),
            "no error");
}

TEST(AuthorsExp2, CsvLoadsAndBecomesTwoCellsOfEveryPair) {
  REVSWEEP_AUTHORS_FOLDER_OR_SKIP(dir, "exp2_celebrity_relations");
  const std::string csv = dir + "/parent_child_pairs.csv";
  const auto pairs = LoadParentChildCsv(csv);
  ASSERT_EQ(pairs.size(), 1513u);
  EXPECT_EQ(pairs.front().child, "Sasha Calle");
  EXPECT_EQ(pairs.front().parent, "Samira Calle");
  std::set<std::string> types;
  for (const auto& p : pairs) types.insert(p.parent_type);
  EXPECT_EQ(types, (std::set<std::string>{"father", "mother"}));

  const TextTask task = BuildTextTask(testing::AuthorsDatasetOptions("exp2", csv));
  EXPECT_TRUE(task.train.empty());
  EXPECT_EQ(task.base_train_docs, 0u);
  ASSERT_EQ(task.evals.size(), 2u);
  EXPECT_EQ(task.evals[0].cell, "c2p.same.heldout");
  EXPECT_EQ(task.evals[1].cell, "p2c.reverse.heldout");
  for (const EvalSet& set : task.evals) EXPECT_EQ(set.items.size(), 1513u);
  EXPECT_EQ(task.evals[0].items[0].prompt, "Sasha Calle's mother is");
  EXPECT_EQ(task.evals[0].items[0].target, " Samira Calle");
  EXPECT_EQ(task.evals[1].items[0].prompt, "Samira Calle is the mother of");
  EXPECT_EQ(task.evals[1].items[0].target, " Sasha Calle");
  EXPECT_EQ(task.chance.size(), 2u);
  EXPECT_TRUE(task.likelihood.empty());
}

}  // namespace
}  // namespace revsweep
