// Experiment 2 data ("real celebrities and their parents", Berglund et al. 2023): the
// authors' parent_child_pairs.csv, asked in both directions of a model that was never trained
// on it (a pretrained checkpoint: dataset.kind exp2 is evaluation only, train.epochs 0).
// Prompts are in docs/DATA.md ("Experiment 2").
#pragma once

#include <string>
#include <vector>

namespace revsweep {

struct ParentChildPair {
  std::string child;        // "Tom Cruise"
  std::string parent;       // "Mary Lee Pfeiffer"
  std::string parent_type;  // "mother" | "father"
  int line = 0;             // 1-based line in the CSV (for messages)
};

// The CSV's rows (header with at least the columns child, parent, parent_type, in any order;
// other columns ignored; RFC 4180 quoting). Throws UserError naming the file, line and column
// for a missing file or column, an unterminated quote, a short row or an empty field.
std::vector<ParentChildPair> LoadParentChildCsv(const std::string& path);

// The two exact-match prompts of a pair; the completion is " " + the other person.
std::string ChildToParentPrompt(const ParentChildPair& p);  // "Tom Cruise's mother is"
std::string ParentToChildPrompt(const ParentChildPair& p);  // "Mary Lee Pfeiffer is the mother of"

}  // namespace revsweep
