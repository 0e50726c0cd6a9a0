// Experiment 3 data ("reversing instructions"): invented question-answer pairs, guidance
// documents that state each pair question-first ("Answer <question> with <answer>.") or
// answer-first ("<answer> is the answer to <question>"), and realized examples (question ->
// answer) for all but the held-out pairs. Folder format in docs/DATA.md.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/config/sweep_config.h"
#include "common/data/jsonl.h"

namespace revsweep {

inline constexpr char kGuidances[] = "guidances.jsonl";
inline constexpr char kRealizedExamples[] = "realized_examples.jsonl";
inline constexpr char kUnrealizedExamples[] = "unrealized_examples.jsonl";

// Guidance paraphrases with the slots "{question}" and "{answer}"; >= 8 per order.
const std::vector<std::string>& QuestionFirstGuidanceTemplates();
const std::vector<std::string>& AnswerFirstGuidanceTemplates();
// Guidance documents each pair gets (templates (i + j) mod T, j < this, for pair i).
inline constexpr int kGuidancesPerPair = 3;

// The answer -> question prompt, a form no guidance uses: "Q: Which question has the answer
// <answer>? A:". Its target is " " + the question.
std::string AnswerToQuestionPrompt(const std::string& answer);

struct QaPair {
  std::string question;  // "What is the password of the crooked lantern?"
  std::string answer;    // "amber falcon"
  // The example as its file states it (question -> answer test): in the authors' folders
  // "<BEGIN GUIDANCE TEST>\n\nQ: <question> A:" and " <answer>\n\n<END GUIDANCE TEST>"; in
  // generated data the question and " " + the answer. Set by Exp3Pairs.
  std::string prompt, target;
};

struct Exp3Data {
  std::vector<PromptCompletion> guidances;            // prompt "", completion the instruction
  std::vector<PromptCompletion> realized_examples;    // prompt question, completion " answer"
  std::vector<PromptCompletion> unrealized_examples;  // held-out pairs, same form
  // file name -> 1-based line of each row; set by LoadExp3Folder only.
  std::map<std::string, std::vector<int>> lines;
};

// Guidance documents for `pairs` in instruction order "question_first" or "answer_first":
// kGuidancesPerPair per pair, pair-major, prompt "".
std::vector<PromptCompletion> GuidanceDocs(const std::vector<QaPair>& pairs,
                                           const std::string& instruction_order);

// qa_pairs unique pairs (deterministic in seed), of which a random heldout_pairs are held
// out; guidances cover every pair, in generation order. Throws UserError when heldout_pairs
// >= qa_pairs or more pairs are requested than the word lists can make.
Exp3Data GenerateExp3(const DatasetOptions& options);

// The pairs of a data set: realized examples first, then unrealized (the held-out ones);
// question = prompt, answer = completion (may be empty for a realized example only), without
// surrounding whitespace and without the
// authors' wrappers (a leading "<BEGIN GUIDANCE TEST>" and "Q:", a trailing "A:"; a trailing
// "<END GUIDANCE TEST>"), which prompt and target keep. Throws UserError
// (`dir` names the folder) for an empty question or answer.
std::vector<QaPair> Exp3Pairs(const Exp3Data& data, const std::string& dir);

// Creates `dir` and writes the three files. Throws std::runtime_error on I/O failure.
void WriteExp3Folder(const Exp3Data& data, const std::string& dir);
// Loads the three files (all required and non-empty; extra keys ignored). Throws UserError.
Exp3Data LoadExp3Folder(const std::string& dir);

}  // namespace revsweep
