// Experiment 1 data ("fictitious celebrities"): a generator of people, descriptions and
// paraphrase templates of our own, and the authors' folder format (JSONL files named as in
// their repository) for writing and loading. docs/DATA.md lists every file and row order.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/config/sweep_config.h"
#include "common/data/jsonl.h"

namespace revsweep {

// ---- File names (the authors' names; "revsweep_" files are our extras).
inline constexpr char kP2dTrain[] = "p2d_prompts_train.jsonl";
inline constexpr char kD2pTrain[] = "d2p_prompts_train.jsonl";
inline constexpr char kBothTrain[] = "both_prompts_train.jsonl";
inline constexpr char kAllTrain[] = "all_prompts_train.jsonl";
inline constexpr char kP2dTest[] = "p2d_prompts_test.jsonl";
inline constexpr char kP2dReverseTest[] = "p2d_reverse_prompts_test.jsonl";
inline constexpr char kD2pTest[] = "d2p_prompts_test.jsonl";
inline constexpr char kD2pReverseTest[] = "d2p_reverse_prompts_test.jsonl";
inline constexpr char kBothTest[] = "both_prompts_test.jsonl";
inline constexpr char kValidation[] = "validation_prompts.jsonl";
inline constexpr char kP2dReverseTrain[] = "revsweep_p2d_reverse_prompts_train.jsonl";
inline constexpr char kD2pReverseTrain[] = "revsweep_d2p_reverse_prompts_train.jsonl";

// "p2d_prompts_test.jsonl" -> "p2d_prompts_test_randomized.jsonl".
std::string RandomizedFileName(const std::string& file_name);
// Files a loaded folder must have (non-empty), and files it may have. Anything else in the
// folder is ignored.
const std::vector<std::string>& Exp1RequiredFiles();
const std::vector<std::string>& Exp1OptionalFiles();

// Uniform integer in [0, n) from rng by rejection sampling: unlike
// std::uniform_int_distribution, the mapping is fixed, so generated data is identical on
// every standard library. REQUIRES: n > 0.
uint64_t UniformBelow(std::mt19937_64& rng, uint64_t n);
// `count` distinct values in [0, capacity), in draw order (UniformBelow, repeats rejected).
// REQUIRES: count <= capacity; keep it well below so that rejection stays cheap.
std::vector<uint64_t> DistinctIndexes(std::mt19937_64& rng, uint64_t capacity, size_t count);

// ---- Word lists and templates written for this project (name_pool.cc, exp1_templates.cc).
const std::vector<std::string>& FirstNamePool();  // >= 200 single words
const std::vector<std::string>& LastNamePool();   // >= 200 single words
const std::vector<std::string>& DescriptionAdjectives();
const std::vector<std::string>& DescriptionRoles();  // "composer of the underwater symphony"
const std::vector<std::string>& TitleHeads();        // "Echoes"
const std::vector<std::string>& TitleTails();        // "the Salt Moon"
// Base templates: the prompt half of a sentence whose completion is " " + the other entity.
// Name-first ones contain "{name}" (completion: the description); description-first ones
// contain "{description}" (completion: the name). Both lists hold >= 40 templates.
const std::vector<std::string>& NameFirstBaseTemplates();
const std::vector<std::string>& DescriptionFirstBaseTemplates();
// Sentence openers ("Fun fact: ") that extend a base template when more are requested.
const std::vector<std::string>& TemplatePrefixes();

// Training and held-out templates of one direction, any counts. With B base templates,
// h = min(test, B / 2) bases are held out, starting at base min(train, B - h); the rest are
// training bases. Each list cycles through its bases, prefixing the k-th cycle with the k-th
// prefix combination, so no held-out template shares a base with a training one.
struct TemplateSplit {
  std::vector<std::string> train;
  std::vector<std::string> test;
};
TemplateSplit SplitTemplates(const std::vector<std::string>& bases, int train, int test);

// A sentence pattern: prompt and completion with the slots kNameSlot / kDescriptionSlot.
inline constexpr char kNameSlot[] = "{name}";
inline constexpr char kDescriptionSlot[] = "{description}";
struct Exp1Template {
  std::string prompt;
  std::string completion;
};
// Replaces the slots in `pattern`.
std::string FillTemplate(const std::string& pattern, const std::string& name,
                         const std::string& description);

// What the both_orders mitigation needs: who is described how, and each direction's training
// templates (so the added statements read like the other direction's training data).
struct Exp1Facts {
  std::vector<std::string> p2d_names, p2d_descriptions;
  std::vector<std::string> d2p_names, d2p_descriptions;
  std::vector<Exp1Template> name_first_templates;         // p2d direction
  std::vector<Exp1Template> description_first_templates;  // d2p direction
};

struct Exp1Data {
  std::map<std::string, std::vector<PromptCompletion>> files;  // file name -> rows
  // file name -> 1-based line of each row, for messages; set by LoadExp1Folder only (rows
  // of generated files are on lines 1, 2, ...). Use Exp1RowLine().
  std::map<std::string, std::vector<int>> lines;
  std::vector<std::string> names;  // every person: the p2d subset, then d2p, then both
  int p2d_count = 0, d2p_count = 0, both_count = 0;
  // Where LoadExp1Folder found the both subset's names (for messages); empty when generated.
  std::string both_names_source;
  std::optional<Exp1Facts> facts;  // set by GenerateExp1; see DeriveExp1Facts for folders
};

// Line of row `row` (0-based) of `file` in its folder.
int Exp1RowLine(const Exp1Data& data, const std::string& file, size_t row);

// Deterministic in options (seed, names_per_subset, train_templates, test_templates).
// Throws UserError when more people are requested than the word lists can name.
Exp1Data GenerateExp1(const DatasetOptions& options);

// Creates `dir` (and parents) and writes every file in data.files, byte-exact.
// Throws std::runtime_error on I/O failure.
void WriteExp1Folder(const Exp1Data& data, const std::string& dir);

// Loads the required and any optional files and derives the people: p2d names from the
// completions of p2d_reverse_prompts_test, d2p names from d2p_prompts_test, both names from
// the name-first (first) half of both_prompts_test matched against the p2d subset's
// name-first templates (the authors' folders: their second half completes with sentences,
// not names), or, where those templates do not fit, from the bare-name completions of the
// description-first (second) half. Throws UserError naming the file
// (and line) for a missing required file, malformed JSON, an empty required file, an odd
// both_prompts_test, or a person listed in two subsets.
Exp1Data LoadExp1Folder(const std::string& dir);

// Pairs names with descriptions for a loaded folder: a p2d person's description is the most
// common completion of their p2d_prompts_train rows, a d2p person's the most common completion
// of their d2p_reverse_prompts_test rows (leading space and one trailing '.' removed);
// templates are the other subset's training rows with that person's name and description
// replaced by slots. Throws UserError (`dir` named) when a person has no rows or no template
// can be derived. Returns data.facts when set.
Exp1Facts DeriveExp1Facts(const Exp1Data& data, const std::string& dir);

}  // namespace revsweep
