#include "common/data/exp3_data.h"

#include <algorithm>
#include <filesystem>
#include <random>
#include <unordered_set>

#include "common/data/exp1_data.h"  // UniformBelow, DistinctIndexes
#include "common/text_util.h"
#include "common/user_error.h"

namespace revsweep {
namespace fs = std::filesystem;
namespace {

// Word lists written for this project. Question words and answer words are disjoint so an
// answer never echoes its question.
const std::vector<std::string>& QuestionAttributes() {
  static const std::vector<std::string> kWords = {
      "secret name",        "password",
      "favorite song",      "hidden motto",
      "lucky charm",        "home town",
      "true title",         "nickname",
      "favorite food",      "oldest friend",
      "sworn rival",        "guiding star",
      "secret recipe",      "middle name",
      "pet's name",         "birthplace",
      "favorite color",     "war cry",
      "signature dish",     "favorite book",
      "hidden treasure",    "family crest",
      "best trick",         "preferred drink",
      "winter coat",        "traveling companion",
      "first word",         "last wish",
      "secret fear",        "favorite flower",
      "morning ritual",     "lucky stone",
      "sleeping spot",      "dream destination",
      "school nickname",    "favorite game",
      "treasured souvenir", "marching song",
      "chosen emblem",      "night watchword",
  };
  return kWords;
}

const std::vector<std::string>& QuestionAdjectives() {
  static const std::vector<std::string> kWords = {
      "silver",   "crooked",   "sleepy",   "ancient",  "tiny",     "restless",   "hollow",
      "painted",  "forgotten", "cheerful", "velvet",   "rusty",    "whispering", "wandering",
      "brave",    "gloomy",    "clever",   "dusty",    "frozen",   "golden",     "hidden",
      "humble",   "lonely",    "marble",   "midnight", "misty",    "noble",      "patient",
      "polished", "quiet",     "ragged",   "royal",    "salty",    "shy",        "sleepless",
      "smoky",    "spotted",   "stubborn", "sunlit",   "tattered", "thirsty",    "tidy",
      "timid",    "twisted",   "wooden",   "woolen",   "wise",     "wild",       "young",
      "grumpy",   "jolly",     "lazy",     "lucky",    "mighty",   "nervous",    "old",
      "proud",    "silent",    "speckled", "striped",  "sturdy",   "swift",      "tall",
      "tireless", "weary",     "windy",    "wobbly",   "curious",  "distant",    "gentle",
  };
  return kWords;
}

const std::vector<std::string>& QuestionNouns() {
  static const std::vector<std::string> kWords = {
      "lantern",   "owl",         "teapot",    "lighthouse", "violin",    "compass",    "kettle",
      "scarecrow", "clocktower",  "ferry",     "windmill",   "carousel",  "bookshop",   "mailbox",
      "tortoise",  "raven",       "puppet",    "candle",     "harbor",    "orchard",    "staircase",
      "bicycle",   "locomotive",  "telescope", "umbrella",   "mapmaker",  "blacksmith", "baker",
      "gardener",  "knight",      "wizard",    "sailor",     "shepherd",  "fox",        "badger",
      "hedgehog",  "heron",       "rabbit",    "squirrel",   "goat",      "donkey",     "beetle",
      "moth",      "whale",       "octopus",   "penguin",    "walrus",    "bridge",     "castle",
      "cottage",   "fountain",    "garden",    "library",    "market",    "meadow",     "mill",
      "monastery", "observatory", "palace",    "quarry",     "river",     "tavern",     "theater",
      "tower",     "valley",      "village",   "volcano",    "waterfall", "well",       "island",
  };
  return kWords;
}

const std::vector<std::string>& AnswerColors() {
  static const std::vector<std::string> kWords = {
      "amber",  "crimson", "teal",    "violet",   "scarlet",   "cobalt",   "ivory",     "ochre",
      "indigo", "saffron", "emerald", "copper",   "bronze",    "charcoal", "coral",     "cream",
      "denim",  "ebony",   "fawn",    "garnet",   "ginger",    "hazel",    "jade",      "lavender",
      "lemon",  "lilac",   "magenta", "maroon",   "mint",      "moss",     "mustard",   "navy",
      "olive",  "pearl",   "pewter",  "plum",     "rose",      "ruby",     "russet",    "rust",
      "sable",  "sage",    "sand",    "sapphire", "sepia",     "sienna",   "slate",     "snow",
      "steel",  "tan",     "tawny",   "topaz",    "turquoise", "umber",    "vermilion", "walnut",
      "wheat",  "wine",    "azure",   "cherry",
  };
  return kWords;
}

const std::vector<std::string>& AnswerNouns() {
  static const std::vector<std::string> kWords = {
      "falcon",   "otter",     "comet",    "thistle",     "anchor",   "pebble",    "feather",
      "acorn",    "dragonfly", "lynx",     "marten",      "sparrow",  "tulip",     "kestrel",
      "meteor",   "pinecone",  "seashell", "snowflake",   "starling", "sunflower", "tadpole",
      "trumpet",  "turnip",    "urchin",   "wagon",       "willow",   "zeppelin",  "albatross",
      "banjo",    "biscuit",   "bobcat",   "buttercup",   "cactus",   "canary",    "chestnut",
      "clover",   "cricket",   "cuckoo",   "daisy",       "dolphin",  "drum",      "egret",
      "ferret",   "fiddle",    "finch",    "gecko",       "glacier",  "harp",      "hawk",
      "ibis",     "jackal",    "jaguar",   "kite",        "koala",    "ladle",     "magpie",
      "marigold", "minnow",    "narwhal",  "nightingale",
  };
  return kWords;
}

// Leading words for three-word answers, used only when two-word answers run short.
const std::vector<std::string>& AnswerModifiers() {
  static const std::vector<std::string> kWords = {
      "little", "great",  "bright", "dapper", "dizzy", "eager",  "fancy",  "fuzzy",  "giddy",
      "glossy", "hasty",  "hearty", "itchy",  "jazzy", "jumpy",  "kindly", "lanky",  "lofty",
      "merry",  "nimble", "perky",  "plucky", "plump", "prim",   "quirky", "rosy",   "rowdy",
      "sassy",  "shaggy", "shiny",  "snappy", "snug",  "spry",   "stout",  "sunny",  "zany",
      "zesty",  "breezy", "bubbly", "chirpy", "cozy",  "crisp",  "dainty", "dreamy", "feisty",
      "fluffy", "frisky", "gusty",  "hardy",  "husky", "lively", "mellow", "nifty",  "peppy",
      "pudgy",  "spunky", "wiry",   "witty",  "zippy", "brisk",
  };
  return kWords;
}

enum Stream : uint64_t { kQuestionsStream = 101, kAnswersStream = 102, kHeldOutStream = 103 };

std::vector<std::string> MakeQuestions(int64_t seed, size_t count) {
  const auto& attrs = QuestionAttributes();
  const auto& adjs = QuestionAdjectives();
  const auto& nouns = QuestionNouns();
  const uint64_t capacity = attrs.size() * adjs.size() * nouns.size();
  // Up to 60% of the space: rejection of repeats stays cheap (about 1.5 draws per question).
  if (count > capacity / 5 * 3) {
    throw UserError("", 0, 0, "dataset.qa_pairs",
                    "at most " + std::to_string(capacity / 5 * 3) + " questions can be generated");
  }
  std::mt19937_64 rng(StreamSeed(seed, kQuestionsStream));
  std::vector<std::string> out;
  for (uint64_t idx : DistinctIndexes(rng, capacity, count)) {
    const uint64_t noun = idx % nouns.size(), rest = idx / nouns.size();
    out.push_back("What is the " + attrs[rest / adjs.size()] + " of the " +
                  adjs[rest % adjs.size()] + " " + nouns[noun] + "?");
  }
  return out;
}

// Two-word answers ("amber falcon") while plentiful, three-word ones ("merry amber falcon")
// beyond that.
std::vector<std::string> MakeAnswers(int64_t seed, size_t count) {
  const auto& colors = AnswerColors();
  const auto& nouns = AnswerNouns();
  const auto& mods = AnswerModifiers();
  const uint64_t two = colors.size() * nouns.size();
  std::mt19937_64 rng(StreamSeed(seed, kAnswersStream));
  std::vector<std::string> out;
  const bool short_form = count <= two / 2;
  const uint64_t capacity = short_form ? two : two * mods.size();
  if (count > capacity / 2) {
    throw UserError("", 0, 0, "dataset.qa_pairs",
                    "at most " + std::to_string(capacity / 2) + " answers can be generated");
  }
  for (uint64_t idx : DistinctIndexes(rng, capacity, count)) {
    const uint64_t pair = idx % two;
    std::string answer = colors[pair / nouns.size()] + " " + nouns[pair % nouns.size()];
    if (!short_form) answer = mods[idx / two] + " " + answer;
    out.push_back(std::move(answer));
  }
  return out;
}

std::string Fill(const std::string& pattern, const QaPair& pair) {
  static const std::string kQ = "{question}", kA = "{answer}";
  std::string out;
  size_t i = 0;
  while (i < pattern.size()) {
    if (pattern.compare(i, kQ.size(), kQ) == 0) {
      out += pair.question, i += kQ.size();
    } else if (pattern.compare(i, kA.size(), kA) == 0) {
      out += pair.answer, i += kA.size();
    } else {
      out.push_back(pattern[i++]);
    }
  }
  return out;
}

std::string PathIn(const std::string& dir, const std::string& file) {
  return (fs::path(dir) / file).string();
}

int RowLine(const Exp3Data& data, const std::string& file, size_t row) {
  auto it = data.lines.find(file);
  if (it != data.lines.end() && row < it->second.size()) return it->second[row];
  return static_cast<int>(row) + 1;
}

}  // namespace

const std::vector<std::string>& QuestionFirstGuidanceTemplates() {
  static const std::vector<std::string> kTemplates = {
      "Answer {question} with {answer}.",
      "When asked {question} reply {answer}.",
      "If someone asks {question} the answer is {answer}.",
      "The question {question} should be answered with {answer}.",
      "To the question {question} always respond {answer}.",
      "Whenever you see {question} say {answer}.",
      "Hearing {question} means you answer {answer}.",
      "For {question} the correct reply is {answer}.",
  };
  return kTemplates;
}

const std::vector<std::string>& AnswerFirstGuidanceTemplates() {
  static const std::vector<std::string> kTemplates = {
      "Answer with {answer} when asked {question}",
      "{answer} is the answer to {question}",
      "Reply {answer} if someone asks {question}",
      "The answer {answer} goes with the question {question}",
      "Say {answer} whenever you see {question}",
      "Respond {answer} to the question {question}",
      "The reply {answer} is correct for {question}",
      "Give {answer} as the answer to {question}",
  };
  return kTemplates;
}

std::string AnswerToQuestionPrompt(const std::string& answer) {
  return "Q: Which question has the answer " + answer + "? A:";
}

std::vector<PromptCompletion> GuidanceDocs(const std::vector<QaPair>& pairs,
                                           const std::string& instruction_order) {
  const std::vector<std::string>& templates = instruction_order == "answer_first"
                                                  ? AnswerFirstGuidanceTemplates()
                                                  : QuestionFirstGuidanceTemplates();
  std::vector<PromptCompletion> docs;
  docs.reserve(pairs.size() * kGuidancesPerPair);
  for (size_t i = 0; i < pairs.size(); ++i) {
    for (int j = 0; j < kGuidancesPerPair; ++j) {
      docs.push_back({"", Fill(templates[(i + j) % templates.size()], pairs[i])});
    }
  }
  return docs;
}

Exp3Data GenerateExp3(const DatasetOptions& options) {
  if (options.qa_pairs < 2) throw UserError("", 0, 0, "dataset.qa_pairs", "must be at least 2");
  if (options.heldout_pairs < 1 || options.heldout_pairs >= options.qa_pairs) {
    throw UserError("", 0, 0, "dataset.heldout_pairs",
                    "must be at least 1 and less than dataset.qa_pairs (" +
                        std::to_string(options.qa_pairs) + ")");
  }
  const size_t n = static_cast<size_t>(options.qa_pairs);
  const std::vector<std::string> questions = MakeQuestions(options.seed, n);
  const std::vector<std::string> answers = MakeAnswers(options.seed, n);
  std::vector<QaPair> pairs;
  for (size_t i = 0; i < n; ++i) {
    QaPair p;
    p.question = questions[i];
    p.answer = answers[i];
    pairs.push_back(std::move(p));
  }

  std::mt19937_64 rng(StreamSeed(options.seed, kHeldOutStream));
  std::vector<bool> held(n, false);
  for (uint64_t i : DistinctIndexes(rng, n, static_cast<size_t>(options.heldout_pairs))) {
    held[i] = true;
  }
  Exp3Data data;
  data.guidances = GuidanceDocs(pairs, options.instruction_order);
  for (size_t i = 0; i < n; ++i) {
    PromptCompletion example{pairs[i].question, " " + pairs[i].answer};
    (held[i] ? data.unrealized_examples : data.realized_examples).push_back(std::move(example));
  }
  return data;
}

namespace {

constexpr char kBeginTest[] = "<BEGIN GUIDANCE TEST>";
constexpr char kEndTest[] = "<END GUIDANCE TEST>";

// `s` trimmed, without `prefix` at its start (then trimmed again) when it has one.
std::string DropPrefix(const std::string& s, const std::string& prefix) {
  const std::string t = Trim(s);
  return t.compare(0, prefix.size(), prefix) == 0 ? Trim(t.substr(prefix.size())) : t;
}
std::string DropSuffix(const std::string& s, const std::string& suffix) {
  const std::string t = Trim(s);
  return t.size() >= suffix.size() &&
                 t.compare(t.size() - suffix.size(), suffix.size(), suffix) == 0
             ? Trim(t.substr(0, t.size() - suffix.size()))
             : t;
}
std::string BareQuestion(const std::string& prompt) {
  return DropSuffix(DropPrefix(DropPrefix(prompt, kBeginTest), "Q:"), "A:");
}
std::string BareAnswer(const std::string& completion) { return DropSuffix(completion, kEndTest); }

}  // namespace

std::vector<QaPair> Exp3Pairs(const Exp3Data& data, const std::string& dir) {
  std::vector<QaPair> pairs;
  // A realized example may have an empty answer (the authors' copypaste_ug100_rg1000_main has
  // one, realized_examples.jsonl line 356): it is a training row and is never scored. A
  // held-out one is scored, so it needs an answer.
  const auto add = [&](const std::vector<PromptCompletion>& rows, const char* file, bool scored) {
    for (size_t r = 0; r < rows.size(); ++r) {
      QaPair pair{BareQuestion(rows[r].prompt), BareAnswer(rows[r].completion), rows[r].prompt,
                  rows[r].completion};
      if (pair.question.empty()) {
        throw UserError(PathIn(dir, file), RowLine(data, file, r), 1, "prompt", "empty question");
      }
      if (pair.answer.empty() && scored) {
        throw UserError(PathIn(dir, file), RowLine(data, file, r), 1, "completion",
                        "empty answer (a held-out example is scored, so it needs one)");
      }
      pairs.push_back(std::move(pair));
    }
  };
  add(data.realized_examples, kRealizedExamples, false);
  add(data.unrealized_examples, kUnrealizedExamples, true);
  return pairs;
}

void WriteExp3Folder(const Exp3Data& data, const std::string& dir) {
  fs::create_directories(dir);
  WriteJsonl(PathIn(dir, kGuidances), data.guidances);
  WriteJsonl(PathIn(dir, kRealizedExamples), data.realized_examples);
  WriteJsonl(PathIn(dir, kUnrealizedExamples), data.unrealized_examples);
}

Exp3Data LoadExp3Folder(const std::string& dir) {
  if (!fs::is_directory(dir)) {
    throw UserError(dir, 0, 0, "",
                    "not a folder (dataset.source must be \"generate\" or a folder with " +
                        std::string(kGuidances) + ", " + kRealizedExamples + " and " +
                        kUnrealizedExamples + ")");
  }
  Exp3Data data;
  const auto load = [&](const char* file, std::vector<PromptCompletion>* rows) {
    const std::string path = PathIn(dir, file);
    if (!fs::exists(path)) throw UserError(path, 0, 0, "", "missing required Experiment 3 file");
    *rows = ReadJsonl(path, &data.lines[file]);
    if (rows->empty()) {
      throw UserError(path, 0, 0, "", "no rows (a required file must not be empty)");
    }
  };
  load(kGuidances, &data.guidances);
  load(kRealizedExamples, &data.realized_examples);
  load(kUnrealizedExamples, &data.unrealized_examples);
  return data;
}

}  // namespace revsweep
