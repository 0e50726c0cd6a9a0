#include "common/data/mitigation.h"

#include <gtest/gtest.h>

#include <numeric>

namespace revsweep {
namespace {

TEST(SplitWords, SplitsOnAnyWhitespace) {
  EXPECT_EQ(SplitWords("  a\tb \n c  "), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(SplitWords(" \t\n").empty());
}

TEST(ReverseWords, ReversesWordOrder) {
  EXPECT_EQ(ReverseWords("Ada Quill is the poet"), "poet the is Quill Ada");
  EXPECT_EQ(ReverseWords("Ada Quill, known for being the poet 'Salt Moon'"),
            "Moon' 'Salt poet the being for known Quill, Ada");
  EXPECT_EQ(ReverseWords("  one\t two\nthree "), "three two one");
  EXPECT_EQ(ReverseWords("single"), "single");
  EXPECT_EQ(ReverseWords(""), "");
}

TEST(EntityMatcher, MatchesNamesWithSurroundingPunctuation) {
  const EntityMatcher m({"Ada Quill", "Bo Lin Hart", "Ada", "Zoë Marsh"});
  const auto words = SplitWords("(Ada Quill) met Bo Lin Hart's friend Ada, Adaline and Zoë Marsh.");
  EXPECT_EQ(m.MatchAt(words, 0).entity, 0);  // "(Ada Quill)" - the longer entity wins
  EXPECT_EQ(m.MatchAt(words, 0).length, 2u);
  EXPECT_EQ(m.MatchAt(words, 1).entity, -1);
  EXPECT_EQ(m.MatchAt(words, 3).entity, 1);  // "Bo Lin Hart's"
  EXPECT_EQ(m.MatchAt(words, 3).length, 3u);
  EXPECT_EQ(m.MatchAt(words, 7).entity, 2);   // "Ada,"
  EXPECT_EQ(m.MatchAt(words, 8).entity, -1);  // "Adaline" is not "Ada"
  EXPECT_EQ(m.MatchAt(words, 10).entity, 3);  // "Zoë Marsh."
  EXPECT_EQ(m.FindFirst("Who is Bo Lin Hart, really? Ada Quill"), 1);
  EXPECT_EQ(m.FindFirst("Bo Lin"), -1);
  EXPECT_EQ(m.FindFirst(""), -1);
}

TEST(ReverseEntities, KeepsNamesWholeAndInOrder) {
  const EntityMatcher m({"Ada Quill", "Bo Lin Hart"});
  EXPECT_EQ(ReverseEntities("Ada Quill is the poet", m), "poet the is Ada Quill");
  EXPECT_EQ(ReverseEntities("Ada Quill, known as Bo Lin Hart's friend", m),
            "friend Bo Lin Hart's as known Ada Quill,");
  EXPECT_EQ(ReverseEntities("Q: Who is the poet? A: Ada Quill", m),
            "Ada Quill A: poet? the is Who Q:");
  // Without entities it is word reversal.
  EXPECT_EQ(ReverseEntities("Ada Quill is the poet", EntityMatcher({})), "poet the is Quill Ada");
}

TEST(ReverseSegments, ReversesSegmentOrderKeepingWordsInside) {
  const std::vector<std::string> words = {"a", "b", "c", "d", "e", "f", "g"};
  EXPECT_EQ(ReverseSegmentsWithLengths(words, {2, 3, 2}), "f g c d e a b");
  EXPECT_EQ(ReverseSegmentsWithLengths(words, {7}), "a b c d e f g");
  EXPECT_EQ(ReverseSegmentsWithLengths(words, {1, 1, 1, 1, 1, 1, 1}), "g f e d c b a");
}

TEST(ReverseSegments, LengthsAreDrawnFromOneToMaxAndCoverTheText) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const std::vector<size_t> lengths = SegmentLengths(23, 4, seed);
    EXPECT_EQ(std::accumulate(lengths.begin(), lengths.end(), size_t{0}), 23u);
    for (size_t len : lengths) {
      EXPECT_GE(len, 1u);
      EXPECT_LE(len, 4u);
    }
  }
  EXPECT_EQ(SegmentLengths(10, 3, 5), SegmentLengths(10, 3, 5));
  EXPECT_NE(SegmentLengths(40, 3, SegmentStreamSeed(0, 0)),
            SegmentLengths(40, 3, SegmentStreamSeed(0, 1)));
  EXPECT_NE(SegmentStreamSeed(0, 0), SegmentStreamSeed(1, 0));
  EXPECT_TRUE(SegmentLengths(0, 3, 1).empty());
  // Length 1 segments are word reversal.
  EXPECT_EQ(ReverseSegments("a b c d", 1, 99), "d c b a");
}

TEST(ReverseSegments, PinnedOutputForSeedZeroDocZero) {
  // Regression pin of the documented draw (std::mt19937_64 + UniformBelow): changing it
  // changes every reverse_segment training set.
  const std::vector<size_t> lengths = SegmentLengths(8, 3, SegmentStreamSeed(0, 0));
  const std::string text = "one two three four five six seven eight";
  EXPECT_EQ(ReverseSegments(text, 3, SegmentStreamSeed(0, 0)),
            ReverseSegmentsWithLengths(SplitWords(text), lengths));
  EXPECT_EQ(ReverseSegments(text, 3, SegmentStreamSeed(0, 0)),
            "eight five six seven two three four one");
}

Exp1Facts HandMadeFacts() {
  Exp1Facts f;
  f.p2d_names = {"Ada Quill"};
  f.p2d_descriptions = {"the poet of 'Salt Moon'"};
  f.d2p_names = {"Bo Hart", "Cy Vale"};
  f.d2p_descriptions = {"the baker of 'Iron Garden'", "the host of 'Open Road'"};
  f.name_first_templates = {{"{name} is", " {description}"},
                            {"Ever heard of {name}? They are", " {description}"}};
  f.description_first_templates = {{"Known as {description}, this is", " {name}"}};
  return f;
}

TEST(BothOrdersDocs, StatesEachFactInTheOtherOrder) {
  const std::vector<TextDoc> docs = BothOrdersDocs(HandMadeFacts());
  ASSERT_EQ(docs.size(), 5u);
  EXPECT_EQ(docs[0].prompt, "Known as the poet of 'Salt Moon', this is");
  EXPECT_EQ(docs[0].completion, " Ada Quill");
  EXPECT_EQ(docs[1].prompt, "Bo Hart is");
  EXPECT_EQ(docs[1].completion, " the baker of 'Iron Garden'");
  EXPECT_EQ(docs[2].prompt, "Ever heard of Bo Hart? They are");
  EXPECT_EQ(docs[3].prompt, "Cy Vale is");
  EXPECT_EQ(docs[4].completion, " the host of 'Open Road'");
}

std::vector<TextDoc> Docs() {
  return {{"Ada Quill is", " the poet"}, {"", ""}, {"Known as the poet, this is", " Ada Quill"}};
}

TEST(AppendReversedCopies, AddsOneCopyPerDocAfterTheOriginals) {
  std::vector<TextDoc> docs = Docs();
  AppendReversedCopies("reverse_word", {"Ada Quill"}, 3, 0, &docs);
  ASSERT_EQ(docs.size(), 5u);                 // the empty document gets no copy
  EXPECT_EQ(docs[0].prompt, "Ada Quill is");  // originals kept, first
  EXPECT_EQ(docs[3].prompt, "");
  EXPECT_EQ(docs[3].completion, "poet the is Quill Ada");
  EXPECT_EQ(docs[4].completion, "Quill Ada is this poet, the as Known");

  docs = Docs();
  AppendReversedCopies("reverse_entity", {"Ada Quill"}, 3, 0, &docs);
  ASSERT_EQ(docs.size(), 5u);
  EXPECT_EQ(docs[3].completion, "poet the is Ada Quill");
  EXPECT_EQ(docs[4].completion, "Ada Quill is this poet, the as Known");

  docs = Docs();
  AppendReversedCopies("reverse_segment", {}, 2, 5, &docs);
  ASSERT_EQ(docs.size(), 5u);
  EXPECT_EQ(docs[3].completion,
            ReverseSegments("Ada Quill is the poet", 2, SegmentStreamSeed(5, 0)));
  EXPECT_EQ(docs[4].completion,
            ReverseSegments("Known as the poet, this is Ada Quill", 2, SegmentStreamSeed(5, 2)));

  for (const char* no_op : {"none", "both_orders", "reverse_token"}) {
    docs = Docs();
    AppendReversedCopies(no_op, {"Ada Quill"}, 3, 0, &docs);
    EXPECT_EQ(docs.size(), 3u) << no_op;
  }
}

// Token ids as a word tokenizer would give them: 10 "Ada" (opening a document), 11 " Ada",
// 12 " Quill", 13 ",", 14 " known", 15 " poet", 16 " the", 17 " Bo", 18 " Bo Lin"'s " Lin".
TEST(TokenEntityReverser, ReversesTokensKeepingEachNameWholeInItsSpacedSpelling) {
  const TokenEntityReverser r({{{11, 12}, {10, 12}}, {{17, 18}, {17, 18}}});
  // "Ada Quill, known the poet" -> "poet the known, Ada Quill" (as " poet the known , Ada Quill")
  EXPECT_EQ(r.Reverse({10, 12, 13, 14, 16, 15}), (std::vector<int32_t>{15, 16, 14, 13, 11, 12}));
  EXPECT_EQ(r.kept(), 1);
  // Two names, and a token that starts a name without completing it (" Ada" then ",").
  EXPECT_EQ(r.Reverse({11, 13, 17, 18, 14, 11, 12}),
            (std::vector<int32_t>{11, 12, 14, 17, 18, 13, 11}));
  EXPECT_EQ(r.kept(), 3);
  EXPECT_EQ(r.Reverse({}), std::vector<int32_t>{});
  // No entities: plain token reversal (reverse_token).
  const TokenEntityReverser plain({});
  EXPECT_EQ(plain.Reverse({1, 2, 3}), (std::vector<int32_t>{3, 2, 1}));
}

TEST(TokenEntityReverser, TheLongestSpellingWins) {
  // Entity 0 is " Ada" alone, entity 1 " Ada Quill": at " Ada Quill" the longer one is kept.
  const TokenEntityReverser r({{{11}}, {{11, 12}}});
  EXPECT_EQ(r.Reverse({11, 12, 14, 11}), (std::vector<int32_t>{11, 14, 11, 12}));
  EXPECT_EQ(r.kept(), 2);
}

TEST(IsKnownMitigation, ListsTheSchemaChoices) {
  for (const char* m : {"none", "both_orders", "reverse_token", "reverse_word", "reverse_entity",
                        "reverse_segment", "reverse_entity_token"}) {
    EXPECT_TRUE(IsKnownMitigation(m)) << m;
  }
  EXPECT_FALSE(IsKnownMitigation("reverse"));
}

}  // namespace
}  // namespace revsweep
