// A dataset as text, ready to tokenize: training documents, exact-match evaluation cells,
// chance baselines and likelihood-test pairs. Built from generated or loaded data
// (Experiment 1 or 3), with the sweep's mitigation applied to training documents only.
#pragma once

#include <string>
#include <vector>

#include "common/config/sweep_config.h"

namespace revsweep {

// One training document. Loss covers the completion, or the whole document when the
// trial's train.loss_on is "all". Documents made by a mitigation have an empty prompt.
struct TextDoc {
  std::string prompt;
  std::string completion;  // starts with a space when it follows a prompt
};

// One exact-match prompt. Scored as hit when strip(lower(generation)) starts with
// strip(lower(target)).
struct EvalItem {
  std::string prompt;
  std::string target;  // starts with a space, as in the authors' files
  int group = 0;       // which person / pair the row is about (0-based)
};

// Cell names are "<subset>.<direction>.<split>":
//   subset: p2d | d2p | both_n2d | both_d2n (Experiment 1), qa (Experiment 3)
//   direction: same | reverse;  split: train (training templates) | heldout
// e.g. "p2d.reverse.heldout". Chance sets use the same name as the cell they baseline.
struct EvalSet {
  std::string cell;
  std::vector<EvalItem> items;
};

// Increased-likelihood test row: log P(correct | prompt) against a wrong name's, in the two
// forms worker/evaluator.h reports (docs/SUMMARY.md, "The likelihood tests"):
//   - the paper's: per person, one other name of the subset (`random_person`, the same on all
//     of that person's rows), means over the person's prompts, a paired test over people;
//   - per prompt: a name drawn for each row (`random`: the randomized file's completion when
//     the folder has one, which may by chance be the right name, else another person drawn
//     per row), a paired test over rows.
struct LikelihoodItem {
  std::string prompt;
  std::string correct;        // " First Last"
  std::string random;         // per-prompt wrong name
  int group = 0;              // person index: the paper's test pairs per-person means
  std::string random_person;  // this person's one other name (the paper's test)
};

struct TextTask {
  std::vector<TextDoc> train;
  // train[0, base_train_docs) are the dataset's own documents, the rest what the mitigation
  // added: the tokenizer is trained on the former, so every mitigation arm of a dataset
  // shares one vocabulary.
  size_t base_train_docs = 0;
  std::vector<EvalSet> evals;
  std::vector<EvalSet> chance;             // randomized completions (chance baseline)
  std::vector<LikelihoodItem> likelihood;  // Experiment 1: p2d reverse
  std::vector<std::string> entities;       // names, kept whole by reverse_entity(_token)
  // reverse_token and reverse_entity_token are done on token ids, by the tokenizer stage:
  // a reversed copy of every document, with entities kept whole for the latter.
  bool token_reverse = false;
  bool token_reverse_keeps_entities = false;
};

// Builds the task for a trial's dataset options: generates (source "generate") or loads the
// authors' folder, then applies dataset.mitigation. Deterministic in the options.
// Throws UserError (file and line) for malformed data folders.
TextTask BuildTextTask(const DatasetOptions& options);

}  // namespace revsweep
