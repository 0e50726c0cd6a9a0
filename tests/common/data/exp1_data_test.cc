#include "common/data/exp1_data.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "common/data/exp1_stats.h"
#include "common/user_error.h"
#include "tests/lib/temp_dir.h"

namespace revsweep {
namespace {

namespace fs = std::filesystem;

DatasetOptions Options(int names = 30, int train = 30, int test = 10, int64_t seed = 0) {
  DatasetOptions o;
  o.kind = "exp1";
  o.source = "generate";
  o.names_per_subset = names;
  o.train_templates = train;
  o.test_templates = test;
  o.qa_pairs = 100;
  o.heldout_pairs = 20;
  o.instruction_order = "question_first";
  o.seed = seed;
  o.mitigation = "none";
  o.segment_length = 3;
  return o;
}

using TempDir = testutil::TempDir;

void ExpectUniqueSingleWords(const std::vector<std::string>& words) {
  std::set<std::string> seen;
  for (const std::string& w : words) {
    EXPECT_TRUE(seen.insert(w).second) << "duplicate: " << w;
    EXPECT_EQ(w.find(' '), std::string::npos) << w;
    ASSERT_FALSE(w.empty());
    EXPECT_TRUE(w[0] >= 'A' && w[0] <= 'Z') << w;
  }
}

TEST(Exp1WordLists, AreLargeUniqueAndWellFormed) {
  EXPECT_GE(FirstNamePool().size(), 200u);
  EXPECT_GE(LastNamePool().size(), 200u);
  ExpectUniqueSingleWords(FirstNamePool());
  ExpectUniqueSingleWords(LastNamePool());
  EXPECT_GE(DescriptionAdjectives().size(), 20u);
  EXPECT_GE(DescriptionRoles().size(), 30u);
  EXPECT_GE(TitleHeads().size() * TitleTails().size(), 500u);
}

void ExpectTemplates(const std::vector<std::string>& templates, const std::string& slot,
                     const std::string& other_slot) {
  EXPECT_GE(templates.size(), 40u);
  std::set<std::string> seen(templates.begin(), templates.end());
  EXPECT_EQ(seen.size(), templates.size()) << "duplicate template";
  for (const std::string& t : templates) {
    const size_t at = t.find(slot);
    ASSERT_NE(at, std::string::npos) << t;
    EXPECT_EQ(t.find(slot, at + 1), std::string::npos) << "two slots: " << t;
    EXPECT_EQ(t.find(other_slot), std::string::npos) << t;
    EXPECT_NE(t.back(), ' ') << "prompt must not end with a space: " << t;
  }
}

TEST(Exp1Templates, BaseTemplatesHaveOneSlotAndNoTrailingSpace) {
  ExpectTemplates(NameFirstBaseTemplates(), kNameSlot, kDescriptionSlot);
  ExpectTemplates(DescriptionFirstBaseTemplates(), kDescriptionSlot, kNameSlot);
  for (const std::string& t : DescriptionFirstBaseTemplates()) {
    EXPECT_NE(t.rfind(kDescriptionSlot, 0), 0u) << "starts with a lowercase description: " << t;
  }
  std::set<std::string> prefixes(TemplatePrefixes().begin(), TemplatePrefixes().end());
  EXPECT_EQ(prefixes.size(), TemplatePrefixes().size());
}

TEST(Exp1Templates, DefaultSplitTakesTheNextTemplatesAsHeldOut) {
  const auto& bases = NameFirstBaseTemplates();
  const TemplateSplit split = SplitTemplates(bases, 30, 10);
  EXPECT_EQ(split.train, std::vector<std::string>(bases.begin(), bases.begin() + 30));
  EXPECT_EQ(split.test, std::vector<std::string>(bases.begin() + 30, bases.begin() + 40));
}

TEST(Exp1Templates, AnyCountWorksAndHeldOutNeverSharesABase) {
  const auto& bases = DescriptionFirstBaseTemplates();
  for (auto [train, test] : {std::pair{100, 10}, {1000, 1000}, {1, 1}, {45, 45}, {7, 200}}) {
    const TemplateSplit split = SplitTemplates(bases, train, test);
    ASSERT_EQ(split.train.size(), static_cast<size_t>(train));
    ASSERT_EQ(split.test.size(), static_cast<size_t>(test));
    std::set<std::string> all(split.train.begin(), split.train.end());
    all.insert(split.test.begin(), split.test.end());
    EXPECT_EQ(all.size(), static_cast<size_t>(train + test)) << train << "/" << test;
    // The base of a template is the longest base it ends with.
    const auto base_of = [&](const std::string& t) {
      std::string best;
      for (const std::string& b : bases) {
        if (t.size() >= b.size() && t.compare(t.size() - b.size(), b.size(), b) == 0 &&
            b.size() > best.size()) {
          best = b;
        }
      }
      return best;
    };
    std::set<std::string> train_bases;
    for (const std::string& t : split.train) train_bases.insert(base_of(t));
    for (const std::string& t : split.test) {
      EXPECT_EQ(train_bases.count(base_of(t)), 0u) << "held-out base used in training: " << t;
    }
  }
  const TemplateSplit big = SplitTemplates(bases, 100, 10);
  EXPECT_EQ(big.train[bases.size() - 10], TemplatePrefixes()[0] + bases[0]);
}

TEST(Exp1Templates, FillReplacesBothSlots) {
  EXPECT_EQ(FillTemplate("{name} is {description}, {name}!", "Ada", "the poet"),
            "Ada is the poet, Ada!");
  EXPECT_EQ(FillTemplate("no slots", "Ada", "x"), "no slots");
}

TEST(GenerateExp1, DefaultShapeMatchesTheAuthorsFiles) {
  const Exp1Data data = GenerateExp1(Options());
  const std::map<std::string, size_t> expected = {
      {kP2dTrain, 900},
      {kD2pTrain, 900},
      {kBothTrain, 1800},
      {kAllTrain, 3600},
      {kP2dTest, 300},
      {kP2dReverseTest, 300},
      {kD2pTest, 300},
      {kD2pReverseTest, 300},
      {kBothTest, 600},
      {kValidation, 300},
      {"p2d_prompts_test_randomized.jsonl", 300},
      {"p2d_reverse_prompts_test_randomized.jsonl", 300},
      {"d2p_prompts_test_randomized.jsonl", 300},
      {"d2p_reverse_prompts_test_randomized.jsonl", 300},
      {kP2dReverseTrain, 900},
      {kD2pReverseTrain, 900},
  };
  ASSERT_EQ(data.files.size(), expected.size());
  for (const auto& [file, rows] : expected) {
    ASSERT_EQ(data.files.count(file), 1u) << file;
    EXPECT_EQ(data.files.at(file).size(), rows) << file;
  }
  EXPECT_EQ(data.names.size(), 90u);
  EXPECT_EQ(std::set<std::string>(data.names.begin(), data.names.end()).size(), 90u);
  EXPECT_EQ(data.p2d_count, 30);
  ASSERT_TRUE(data.facts.has_value());
  std::set<std::string> descriptions(data.facts->p2d_descriptions.begin(),
                                     data.facts->p2d_descriptions.end());
  descriptions.insert(data.facts->d2p_descriptions.begin(), data.facts->d2p_descriptions.end());
  EXPECT_EQ(descriptions.size(), 60u);
  for (const auto& [file, rows] : data.files) {
    for (const PromptCompletion& row : rows) {
      ASSERT_FALSE(row.prompt.empty()) << file;
      EXPECT_NE(row.prompt.back(), ' ') << file << ": " << row.prompt;
      ASSERT_GE(row.completion.size(), 2u) << file;
      EXPECT_EQ(row.completion[0], ' ') << file;
      EXPECT_NE(row.completion[1], ' ') << file;
    }
  }
}

TEST(GenerateExp1, RowsStateTheRightFactsInTheRightOrder) {
  const Exp1Data data = GenerateExp1(Options(4, 3, 2));
  const Exp1Facts& f = *data.facts;
  const auto& p2d = data.files.at(kP2dTrain);
  // Person-major: person 0's three templates, then person 1's.
  for (int t = 0; t < 3; ++t) {
    EXPECT_EQ(p2d[t].prompt, FillTemplate(NameFirstBaseTemplates()[t], f.p2d_names[0], ""));
    EXPECT_EQ(p2d[t].completion, " " + f.p2d_descriptions[0]);
  }
  EXPECT_NE(p2d[3].prompt.find(f.p2d_names[1]), std::string::npos);
  const auto& d2p = data.files.at(kD2pTrain);
  EXPECT_EQ(d2p[0].prompt,
            FillTemplate(DescriptionFirstBaseTemplates()[0], "", f.d2p_descriptions[0]));
  EXPECT_EQ(d2p[0].completion, " " + f.d2p_names[0]);
  // Held-out templates come right after the training ones.
  EXPECT_EQ(data.files.at(kP2dTest)[0].prompt,
            FillTemplate(NameFirstBaseTemplates()[3], f.p2d_names[0], ""));
  EXPECT_EQ(data.files.at(kP2dReverseTest)[1].prompt,
            FillTemplate(DescriptionFirstBaseTemplates()[4], "", f.p2d_descriptions[0]));
  EXPECT_EQ(data.files.at(kP2dReverseTest)[1].completion, " " + f.p2d_names[0]);
  EXPECT_EQ(data.files.at(kD2pReverseTest)[0].completion, " " + f.d2p_descriptions[0]);
  // both train: per person, name-first rows then description-first rows.
  const auto& both_train = data.files.at(kBothTrain);
  ASSERT_EQ(both_train.size(), 4u * 6);
  const std::string both0 = data.names[8];
  EXPECT_EQ(both_train[0].prompt.find(both0), 0u);
  EXPECT_EQ(both_train[3].completion, " " + both0);
  // both test: all name-first rows, then all description-first rows.
  const auto& both_test = data.files.at(kBothTest);
  ASSERT_EQ(both_test.size(), 16u);
  for (size_t r = 0; r < 8; ++r) EXPECT_NE(both_test[r].completion, " " + data.names[8 + r / 2]);
  for (size_t r = 8; r < 16; ++r)
    EXPECT_EQ(both_test[r].completion, " " + data.names[8 + (r - 8) / 2]);
  // all = p2d + d2p + both.
  std::vector<PromptCompletion> all = p2d;
  all.insert(all.end(), d2p.begin(), d2p.end());
  all.insert(all.end(), both_train.begin(), both_train.end());
  EXPECT_EQ(data.files.at(kAllTrain), all);
  // Validation: p2d people, held-out description-first templates, the first name.
  EXPECT_EQ(data.files.at(kValidation)[0].prompt, data.files.at(kP2dReverseTest)[0].prompt);
  EXPECT_EQ(data.files.at(kValidation)[0].completion,
            " " + f.p2d_names[0].substr(0, f.p2d_names[0].find(' ')));
  // Extras: reverse direction on training templates.
  EXPECT_EQ(
      data.files.at(kP2dReverseTrain)[0],
      (PromptCompletion{FillTemplate(DescriptionFirstBaseTemplates()[0], "", f.p2d_descriptions[0]),
                        " " + f.p2d_names[0]}));
  EXPECT_EQ(data.files.at(kD2pReverseTrain)[0],
            (PromptCompletion{FillTemplate(NameFirstBaseTemplates()[0], f.d2p_names[0], ""),
                              " " + f.d2p_descriptions[0]}));
}

TEST(GenerateExp1, RandomizedFilesKeepPromptsAndUseAnotherPersonOfTheSubset) {
  const Exp1Data data = GenerateExp1(Options(5, 2, 3, 9));
  for (const std::string file : {kP2dTest, kP2dReverseTest, kD2pTest, kD2pReverseTest}) {
    const auto& original = data.files.at(file);
    const auto& random = data.files.at(RandomizedFileName(file));
    ASSERT_EQ(random.size(), original.size());
    std::set<std::string> subset_completions;
    for (const auto& row : original) subset_completions.insert(row.completion);
    for (size_t r = 0; r < original.size(); ++r) {
      EXPECT_EQ(random[r].prompt, original[r].prompt);
      EXPECT_NE(random[r].completion, original[r].completion) << file << " row " << r;
      EXPECT_EQ(subset_completions.count(random[r].completion), 1u) << file;
      // One other person per person: constant within a person's rows.
      if (r % 3 != 0) {
        EXPECT_EQ(random[r].completion, random[r - 1].completion);
      }
    }
  }
}

TEST(GenerateExp1, IsDeterministicInTheSeed) {
  const Exp1Data a = GenerateExp1(Options(30, 30, 10, 7));
  const Exp1Data b = GenerateExp1(Options(30, 30, 10, 7));
  const Exp1Data c = GenerateExp1(Options(30, 30, 10, 8));
  EXPECT_EQ(a.files, b.files);
  EXPECT_EQ(a.names, b.names);
  EXPECT_NE(a.names, c.names);
  // The people do not depend on the template counts.
  EXPECT_EQ(GenerateExp1(Options(30, 5, 2, 7)).names, a.names);
}

TEST(GenerateExp1, PinnedFirstPersonForSeedZero) {
  // Guards the generator's index mapping against accidental change: a changed value means
  // data sets generated earlier (and their results) can no longer be reproduced.
  const Exp1Data data = GenerateExp1(Options());
  EXPECT_EQ(data.names[0], "Leander Brackengate");
  EXPECT_EQ(data.facts->p2d_descriptions[0],
            "the humble poet who wrote the epic poem 'Wings of the Winter Market'");
  EXPECT_EQ(data.files.at(kD2pTrain)[0].completion, " Clement Umberling");
}

DatasetOptions Paraphrased(int names = 30, int train = 30, int test = 10, int64_t seed = 0) {
  DatasetOptions o = Options(names, train, test, seed);
  o.descriptions = "paraphrased";
  return o;
}

// "'The Velmor of Quastheli'": the title that ends every wording of a paraphrased person.
std::string TitleOf(const std::string& main_wording) {
  return main_wording.substr(main_wording.find(" 'The "));
}

TEST(GenerateExp1, PlainIsTheDefaultAndParaphrasedKeepsPeopleAndShape) {
  EXPECT_EQ(DatasetOptions().descriptions, "plain");
  const Exp1Data plain = GenerateExp1(Options(10, 6, 3, 4));
  const Exp1Data para = GenerateExp1(Paraphrased(10, 6, 3, 4));
  EXPECT_EQ(para.names, plain.names);
  ASSERT_EQ(para.files.size(), plain.files.size());
  for (const auto& [file, rows] : plain.files) {
    EXPECT_EQ(para.files.at(file).size(), rows.size()) << file;
  }
  EXPECT_NE(para.files.at(kP2dTrain)[0].completion, plain.files.at(kP2dTrain)[0].completion);
  EXPECT_EQ(GenerateExp1(Paraphrased(10, 6, 3, 4)).files, para.files);
  EXPECT_NE(GenerateExp1(Paraphrased(10, 6, 3, 5)).files, para.files);
}

TEST(GenerateExp1, ParaphrasedRowsStateEachPersonsOwnTitle) {
  const int n = 5, train = 8, test = 4;
  const Exp1Data data = GenerateExp1(Paraphrased(n, train, test, 2));
  const Exp1Facts& facts = *data.facts;
  std::set<std::string> titles;
  for (int p = 0; p < n; ++p) {
    const std::string title = TitleOf(facts.p2d_descriptions[p]);
    EXPECT_TRUE(titles.insert(title).second) << title;
    for (int t = 0; t < train; ++t) {
      const PromptCompletion& row = data.files.at(kP2dTrain)[p * train + t];
      EXPECT_NE(row.prompt.find(facts.p2d_names[p]), std::string::npos) << row.prompt;
      EXPECT_NE(row.completion.find(title), std::string::npos) << row.completion;
    }
    for (int t = 0; t < test; ++t) {
      const PromptCompletion& row = data.files.at(kP2dReverseTest)[p * test + t];
      EXPECT_NE(row.prompt.find(title), std::string::npos) << row.prompt;
      EXPECT_EQ(row.completion, " " + facts.p2d_names[p]);
    }
    const std::string d2p_title = TitleOf(facts.d2p_descriptions[p]);
    EXPECT_TRUE(titles.insert(d2p_title).second) << d2p_title;
    for (int t = 0; t < train; ++t) {
      const PromptCompletion& row = data.files.at(kD2pTrain)[p * train + t];
      EXPECT_NE(row.prompt.find(d2p_title), std::string::npos) << row.prompt;
      EXPECT_EQ(row.completion, " " + facts.d2p_names[p]);
    }
  }
}

TEST(GenerateExp1, ParaphrasedDataIsAsHardAsTheAuthors) {
  // The statistics docs/DATA.md compares with the authors' folder (5.8 wordings and 4.4
  // words of their own per person, 87% of held-out p2d targets seen verbatim in training).
  const Exp1Stats plain = ComputeExp1Stats(GenerateExp1(Options()));
  const Exp1Stats para = ComputeExp1Stats(GenerateExp1(Paraphrased()));
  EXPECT_DOUBLE_EQ(plain.distinct_completions, 1.0);
  // 30 training templates, each the main wording with p 1/2, else one of 4 paraphrases:
  // a paraphrase is missed with p (7/8)^30 = 1.8%, so E = 4.93 per person (sd of the mean
  // over 60 people ~0.02).
  EXPECT_GT(para.distinct_completions, 4.5);
  // Two made-up title words per person, in every document that names them.
  EXPECT_GE(para.distinctive_words, 1.9);
  EXPECT_GT(para.distinctive_words, plain.distinctive_words + 1);
  // Held-out p2d targets: main wording 40%, a paraphrase 45% (seen unless missed, 1.8%), the
  // held-out-only variant 15%: E = 84% of 300 rows, sd 2.1 points; d2p targets are names.
  for (const Exp1Stats::Heldout& h : para.heldout) {
    const double seen = static_cast<double>(h.seen_verbatim) / h.rows;
    if (h.file == kP2dTest) {
      EXPECT_GT(seen, 0.72) << h.file;
      EXPECT_LT(seen, 0.95) << h.file;
    } else if (h.file == kD2pTest) {
      EXPECT_EQ(seen, 1.0) << h.file;
    }
  }
}

TEST(GenerateExp1, OnePersonPerSubsetStillHasChanceFiles) {
  const Exp1Data data = GenerateExp1(Options(1, 2, 2));
  const auto& random = data.files.at("p2d_reverse_prompts_test_randomized.jsonl");
  ASSERT_EQ(random.size(), 2u);
  EXPECT_EQ(random[0].completion, " " + data.names[1]);  // the d2p person
}

TEST(GenerateExp1, ManyPeopleGetMiddleInitials) {
  const Exp1Data data = GenerateExp1(Options(12000, 1, 1));
  ASSERT_EQ(data.names.size(), 36000u);
  EXPECT_EQ(std::set<std::string>(data.names.begin(), data.names.end()).size(), 36000u);
  EXPECT_NE(data.names[0].find(". "), std::string::npos) << data.names[0];
}

TEST(GenerateExp1, RejectsBadCounts) {
  EXPECT_THROW(GenerateExp1(Options(0)), UserError);
  EXPECT_THROW(GenerateExp1(Options(3, 0, 1)), UserError);
}

std::map<std::string, std::string> FolderBytes(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    out[entry.path().filename().string()] = ReadFileBytes(entry.path().string());
  }
  return out;
}

TEST(Exp1Folder, WriteLoadWriteIsByteExact) {
  TempDir a, b;
  const Exp1Data generated = GenerateExp1(Options(30, 30, 10, 3));
  WriteExp1Folder(generated, a.str());
  EXPECT_EQ(FolderBytes(a.str()).size(), generated.files.size());
  const Exp1Data loaded = LoadExp1Folder(a.str());
  EXPECT_EQ(loaded.files, generated.files);
  EXPECT_EQ(loaded.names, generated.names);
  EXPECT_EQ(loaded.p2d_count, 30);
  EXPECT_EQ(loaded.both_count, 30);
  EXPECT_FALSE(loaded.facts.has_value());
  WriteExp1Folder(loaded, b.str());
  EXPECT_EQ(FolderBytes(a.str()), FolderBytes(b.str()));
  EXPECT_EQ(ReadFileBytes(a / kP2dTrain), FormatJsonl(generated.files.at(kP2dTrain)));
}

TEST(Exp1Folder, DerivedFactsOfAWrittenFolderEqualTheGeneratorsFacts) {
  TempDir dir;
  const Exp1Data generated = GenerateExp1(Options(6, 4, 2, 11));
  WriteExp1Folder(generated, dir.str());
  const Exp1Facts derived = DeriveExp1Facts(LoadExp1Folder(dir.str()), dir.str());
  const Exp1Facts& expected = *generated.facts;
  EXPECT_EQ(derived.p2d_names, expected.p2d_names);
  EXPECT_EQ(derived.p2d_descriptions, expected.p2d_descriptions);
  EXPECT_EQ(derived.d2p_names, expected.d2p_names);
  EXPECT_EQ(derived.d2p_descriptions, expected.d2p_descriptions);
  ASSERT_EQ(derived.name_first_templates.size(), expected.name_first_templates.size());
  ASSERT_EQ(derived.description_first_templates.size(),
            expected.description_first_templates.size());
  for (size_t i = 0; i < derived.name_first_templates.size(); ++i) {
    EXPECT_EQ(derived.name_first_templates[i].prompt, expected.name_first_templates[i].prompt);
    EXPECT_EQ(derived.name_first_templates[i].completion,
              expected.name_first_templates[i].completion);
    EXPECT_EQ(derived.description_first_templates[i].prompt,
              expected.description_first_templates[i].prompt);
  }
}

TEST(Exp1Folder, OptionalFilesMayBeAbsentAndOtherFilesAreIgnored) {
  TempDir dir;
  Exp1Data data = GenerateExp1(Options(3, 2, 1));
  for (const std::string& file : Exp1OptionalFiles()) data.files.erase(file);
  data.files["unrealized_examples.jsonl"] = {{"x", " y"}};
  WriteExp1Folder(data, dir.str());
  const Exp1Data loaded = LoadExp1Folder(dir.str());
  EXPECT_EQ(loaded.files.size(), Exp1RequiredFiles().size());
  EXPECT_EQ(loaded.names.size(), 9u);
}

UserError LoadError(const std::string& dir) {
  try {
    LoadExp1Folder(dir);
  } catch (const UserError& e) {
    return e;
  }
  ADD_FAILURE() << "no UserError";
  return UserError("none");
}

TEST(Exp1Folder, ErrorsNameTheFile) {
  TempDir dir;
  EXPECT_EQ(LoadError(dir / "absent").file(), dir / "absent");  // not a folder

  Exp1Data data = GenerateExp1(Options(2, 1, 1));
  data.files.erase(kD2pTest);
  WriteExp1Folder(data, dir.str());
  UserError missing = LoadError(dir.str());
  EXPECT_EQ(missing.file(), dir / kD2pTest);
  EXPECT_EQ(missing.message(), "missing required Experiment 1 file");

  WriteJsonl(dir / kD2pTest, {});
  EXPECT_EQ(LoadError(dir.str()).message(), "no rows (a required file must not be empty)");

  // A person in two subsets.
  WriteJsonl(dir / kD2pTest, {{"Who?", " " + data.names[0]}});
  UserError twice = LoadError(dir.str());
  EXPECT_EQ(twice.file(), dir / kD2pTest);
  EXPECT_NE(twice.message().find("p2d"), std::string::npos) << twice.message();
}

TEST(Exp1Folder, FactsCannotBeDerivedWithoutVerbatimDescriptions) {
  TempDir dir;
  Exp1Data data = GenerateExp1(Options(2, 2, 1));
  // d2p training rows that paraphrase the description: no template can be derived.
  for (PromptCompletion& row : data.files[kD2pTrain]) row.prompt = "Someone famous is called";
  WriteExp1Folder(data, dir.str());
  try {
    DeriveExp1Facts(LoadExp1Folder(dir.str()), dir.str());
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_EQ(e.file(), dir / kD2pTrain);
    EXPECT_NE(e.message().find("both_orders"), std::string::npos);
  }
}

TEST(UniformBelow, StaysInRangeAndCoversIt) {
  std::mt19937_64 rng(1);
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    const uint64_t v = UniformBelow(rng, 7);
    ASSERT_LT(v, 7u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 7u);
  const auto picks = DistinctIndexes(rng, 10, 10);
  EXPECT_EQ(std::set<uint64_t>(picks.begin(), picks.end()).size(), 10u);
}

}  // namespace
}  // namespace revsweep
