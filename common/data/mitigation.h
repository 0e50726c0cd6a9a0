// Reversal-curse mitigations as pure, deterministic functions over training documents.
// Reversed copies are added next to the originals (never replacing them), with an empty
// prompt and the reversed text as completion, so the loss covers all of it. Applied to
// training documents only; evaluation prompts are never touched.
//
//   reverse_word     "Ada Quill is the poet" -> "poet the is Quill Ada"
//   reverse_entity   "Ada Quill is the poet" -> "poet the is Ada Quill"   (names kept whole)
//   reverse_segment  words cut into consecutive segments of random length 1..segment_length
//                    (Golovneva et al. 2024), segment order reversed, words inside kept
//   reverse_token    nothing here: TextTask.token_reverse asks the tokenizer stage for it
//   reverse_entity_token  also at the tokenizer stage (TokenEntityReverser): the token order
//                    reversed, each name's tokens kept whole. With one token per word this is
//                    reverse_entity with punctuation as units of its own ("Quill ," -> ", Ada
//                    Quill"), as word-level replications reverse
//   both_orders      Experiment 1: the other-order statement of every p2d and d2p fact
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/data/exp1_data.h"
#include "common/data/text_task.h"

namespace revsweep {

// Splits on ASCII whitespace; no empty words.
std::vector<std::string> SplitWords(const std::string& text);
// Joins with single spaces.
std::string JoinWords(const std::vector<std::string>& words, size_t begin, size_t end);

// Finds entities (multi-word names) in whitespace-split text. Words must match the entity's
// words exactly, except that the first may carry leading punctuation ("(Ada") and the last
// trailing punctuation or a possessive ("Quill," "Quill's"); the punctuation stays with the
// matched words. Longer entities win over shorter ones starting at the same word.
class EntityMatcher {
 public:
  explicit EntityMatcher(const std::vector<std::string>& entities);

  struct Match {
    int entity = -1;    // index into the constructor's list; -1 when none
    size_t length = 0;  // words covered
  };
  Match MatchAt(const std::vector<std::string>& words, size_t i) const;
  // The entity that occurs first in `text` (the longest one at that word), or -1.
  int FindFirst(const std::string& text) const;

 private:
  void AddCandidates(const std::string& key, std::vector<int>* out) const;

  std::vector<std::vector<std::string>> entity_words_;
  std::unordered_map<std::string, std::vector<int>> by_first_word_;
};

std::string ReverseWords(const std::string& text);
std::string ReverseEntities(const std::string& text, const EntityMatcher& matcher);

// reverse_entity_token on token ids: a document's tokens in reverse order, except that each
// entity stays one unit in reading order. An entity is found by any of its spellings
// (`forms[e]`: token sequences, e.g. the name with and without a leading space, since a
// name that opens a document has none) and written as its first spelling, so the reversed
// copies use one token sequence per name wherever it stood. The longest spelling at a
// position wins; tokens that spell no entity are single units.
class TokenEntityReverser {
 public:
  explicit TokenEntityReverser(const std::vector<std::vector<std::vector<int32_t>>>& forms);

  std::vector<int32_t> Reverse(const std::vector<int32_t>& ids) const;
  // Entities kept whole over all Reverse calls so far (a name split another way inside a
  // document, as a subword tokenizer may, is not found and is reversed token by token).
  int64_t kept() const { return kept_; }

 private:
  struct Spelling {
    int entity;
    std::vector<int32_t> ids;
  };
  std::vector<std::vector<int32_t>> canonical_;                  // entity -> its first spelling
  std::unordered_map<int32_t, std::vector<Spelling>> by_first_;  // first token -> spellings
  mutable int64_t kept_ = 0;
};

// Segment lengths for `n_words` words: each drawn from [1, max_length] by a std::mt19937_64
// seeded with `stream_seed`; the last one is cut to fit. Pure in its arguments.
std::vector<size_t> SegmentLengths(size_t n_words, int max_length, uint64_t stream_seed);
// Reverses the order of consecutive segments with the given lengths (summing to words.size()).
std::string ReverseSegmentsWithLengths(const std::vector<std::string>& words,
                                       const std::vector<size_t>& lengths);
std::string ReverseSegments(const std::string& text, int max_length, uint64_t stream_seed);
// Seed of document `doc_index`'s segment stream: SplitMix64 of the dataset seed and the index.
uint64_t SegmentStreamSeed(int64_t seed, size_t doc_index);

// Experiment 1 both_orders: for each p2d person one statement per description-first training
// template, then for each d2p person one per name-first training template.
std::vector<TextDoc> BothOrdersDocs(const Exp1Facts& facts);

// Appends one reversed copy of each document of *train (its prompt + completion) for
// reverse_word, reverse_entity or reverse_segment; documents with no words get no copy. The
// segment stream of document i is SegmentStreamSeed(seed, i). Other mitigations: no-op.
void AppendReversedCopies(const std::string& mitigation, const std::vector<std::string>& entities,
                          int segment_length, int64_t seed, std::vector<TextDoc>* train);

// True for the mitigation names this module knows (the schema's list).
bool IsKnownMitigation(const std::string& mitigation);

}  // namespace revsweep
