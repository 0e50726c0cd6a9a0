// tokenizer.type "word": one token per word, as from-scratch replications of the reversal
// curse use (a name is two tokens, so no tokenizer merge decides whether it is learned whole).
// A piece is an optional single leading space followed by a run of word characters (ASCII
// letters, digits, apostrophes, and every byte >= 0x80, so UTF-8 words stay whole), or by
// one punctuation character; any other whitespace is a piece of its own. Pieces concatenate
// back to the text exactly. Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace revsweep {

// The pieces of `text`, in order; their concatenation equals `text`.
std::vector<std::string> WordPieces(const std::string& text);

// Ids 0-3 are <unk>, <s>, </s>, <pad> (the sentencepiece path's ids); then the pieces of the
// training corpus by descending count (ties: byte order), at most max_size in all. A piece
// not in the vocabulary encodes as <unk>.
class WordVocab {
 public:
  static constexpr int kUnk = 0, kBos = 1, kEos = 2, kPad = 3;

  // `corpus`: the training texts. REQUIRES: max_size > 4.
  WordVocab(const std::vector<std::string>& corpus, int max_size);

  std::vector<int32_t> Encode(const std::string& text) const;
  const std::vector<std::string>& pieces() const { return pieces_; }  // id -> piece text
  int distinct_pieces() const { return distinct_; }  // in the corpus, before the cap

 private:
  std::vector<std::string> pieces_;
  std::unordered_map<std::string, int32_t> ids_;
  int distinct_ = 0;
};

}  // namespace revsweep
