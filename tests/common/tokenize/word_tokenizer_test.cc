#include "common/tokenize/word_tokenizer.h"

#include <gtest/gtest.h>

#include <numeric>

namespace revsweep {
namespace {

std::string Join(const std::vector<std::string>& pieces) {
  return std::accumulate(pieces.begin(), pieces.end(), std::string());
}

TEST(WordPieces, OneTokenPerWordAndPunctuationMark) {
  const auto got = WordPieces("Daphne Barrington directed \"A Journey Through Time.\".");
  // ".\"" is two marks: each punctuation character is a piece of its own.
  EXPECT_EQ(got, (std::vector<std::string>{"Daphne", " Barrington", " directed", " \"", "A",
                                           " Journey", " Through", " Time", ".", "\"", "."}));
  EXPECT_EQ(WordPieces(" Daphne Barrington"), (std::vector<std::string>{" Daphne", " Barrington"}));
  EXPECT_EQ(WordPieces("can't, won't"), (std::vector<std::string>{"can't", ",", " won't"}));
}

TEST(WordPieces, ConcatenateBackToTheTextExactly) {
  for (const std::string text :
       {"", " ", "  two  spaces ", "a\n\nb", "<BEGIN GUIDANCE TEST>\n\nQ: Why? A:", "tab\there",
        "trailing space ", "caf\xC3\xA9 na\xC3\xAFve", "x  \n y", "!!", " - ", "1999-2001"}) {
    EXPECT_EQ(Join(WordPieces(text)), text) << "[" << text << "]";
    for (const std::string& piece : WordPieces(text)) EXPECT_FALSE(piece.empty());
  }
  // UTF-8 letters stay inside their word.
  EXPECT_EQ(WordPieces("caf\xC3\xA9 ok"), (std::vector<std::string>{"caf\xC3\xA9", " ok"}));
}

TEST(WordVocab, FrequentPiecesFirstRareOnesBecomeUnknown) {
  const WordVocab all({"a b b c c c", "c"}, 100);
  EXPECT_EQ(all.distinct_pieces(), 4);  // "a", " b", " c", "c"
  ASSERT_EQ(all.pieces().size(), 8u);
  EXPECT_EQ(all.pieces()[0], "<unk>");
  EXPECT_EQ(all.pieces()[WordVocab::kEos], "</s>");
  EXPECT_EQ(all.pieces()[4], " c");  // 3 times
  EXPECT_EQ(all.pieces()[5], " b");  // 2 times
  // Ties in byte order: "a" < "c".
  EXPECT_EQ(all.pieces()[6], "a");
  EXPECT_EQ(all.pieces()[7], "c");
  EXPECT_EQ(all.Encode("a b c"), (std::vector<int32_t>{6, 5, 4}));
  EXPECT_EQ(all.Encode("a zebra"), (std::vector<int32_t>{6, WordVocab::kUnk}));
  const WordVocab capped({"a b b c c c", "c"}, 6);
  EXPECT_EQ(capped.pieces().size(), 6u);
  EXPECT_EQ(capped.Encode("a b c"), (std::vector<int32_t>{WordVocab::kUnk, 5, 4}));
}

}  // namespace
}  // namespace revsweep
