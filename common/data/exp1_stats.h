// Statistics of an Experiment 1 dataset, the same for generated data and the authors' folders,
// so the two can be compared (docs/DATA.md): how much each person's training documents say that
// no other person's do, and how many held-out targets the model has seen verbatim in training
// (a held-out prompt whose completion appears word for word in a training document tests
// recall of that text, not generalisation to a paraphrase).
#pragma once

#include <string>
#include <vector>

#include "common/data/exp1_data.h"

namespace revsweep {

struct Exp1Stats {
  int people = 0;
  int train_docs = 0;               // rows of the *_prompts_train files
  double docs_per_person = 0;       // training documents naming the person, mean over people
  double words_per_person = 0;      // distinct words in those documents, the name's excluded
  double distinctive_words = 0;     // of those, words in no other person's documents
  double distinct_completions = 0;  // distinct completions among a person's name-first documents
  struct Heldout {
    std::string file;
    int rows = 0;
    int seen_verbatim = 0;  // completion (leading space and final '.' removed) in a training text
  };
  std::vector<Heldout> heldout;  // p2d, d2p and both held-out test files present
};

// Words are maximal runs of ASCII letters and digits, lower-cased. A document belongs to each
// person whose full name it contains.
Exp1Stats ComputeExp1Stats(const Exp1Data& data);

// A small aligned table for the terminal.
std::string FormatExp1Stats(const Exp1Stats& stats);

}  // namespace revsweep
