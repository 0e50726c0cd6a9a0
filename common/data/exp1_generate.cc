#include <algorithm>
#include <limits>
#include <unordered_set>

#include "common/data/exp1_data.h"
#include "common/text_util.h"
#include "common/user_error.h"

// The Experiment 1 generator (docs/DATA.md): people, descriptions, plain or paraphrased, and
// paraphrase templates of our own, as the rows of the authors' files. exp1_data.cc loads and
// derives; this file only makes.
namespace revsweep {
namespace {

// Independent random streams per purpose, so that e.g. changing the template counts does not
// change who the people are.
enum Stream : uint64_t {
  kNamesStream = 1,
  kDescriptionsStream = 2,
  kCoinedStream = 3,
  kWordingStream = 4,
  kRandomizedStream = 16,
};

// Unique full names: "First Last" while they are plentiful, "First M. Last" beyond that.
std::vector<std::string> MakeNames(int64_t seed, size_t count) {
  const auto& first = FirstNamePool();
  const auto& last = LastNamePool();
  const uint64_t plain = first.size() * last.size();
  std::mt19937_64 rng(StreamSeed(seed, kNamesStream));
  std::vector<std::string> names;
  if (count <= plain / 2) {
    for (uint64_t idx : DistinctIndexes(rng, plain, count)) {
      names.push_back(first[idx / last.size()] + " " + last[idx % last.size()]);
    }
    return names;
  }
  const uint64_t extended = plain * 26;
  if (count > extended / 2) {
    throw UserError("", 0, 0, "dataset.names_per_subset",
                    "at most " + std::to_string(extended / 6) + " people per subset can be named");
  }
  for (uint64_t idx : DistinctIndexes(rng, extended, count)) {
    const uint64_t l = idx % last.size(), rest = idx / last.size();
    const char initial = static_cast<char>('A' + rest % 26);
    names.push_back(first[rest / 26] + " " + initial + ". " + last[l]);
  }
  return names;
}

// Unique "the <adjective> <role> '<head> of <tail>'" descriptions; titles are unique too
// while there are many more titles than people, so each person is easy to tell apart.
std::vector<std::string> MakeDescriptions(int64_t seed, size_t count) {
  const auto& adjectives = DescriptionAdjectives();
  const auto& roles = DescriptionRoles();
  const auto& heads = TitleHeads();
  const auto& tails = TitleTails();
  const uint64_t titles = heads.size() * tails.size();
  const uint64_t capacity = titles * adjectives.size() * roles.size();
  if (count > capacity / 2) {
    throw UserError(
        "", 0, 0, "dataset.names_per_subset",
        "at most " + std::to_string(capacity / 6) + " people per subset can be described");
  }
  std::mt19937_64 rng(StreamSeed(seed, kDescriptionsStream));
  const bool unique_titles = count <= titles / 2;
  std::vector<uint64_t> title_order;
  if (unique_titles) title_order = DistinctIndexes(rng, titles, count);
  std::unordered_set<uint64_t> seen;
  std::vector<std::string> out;
  while (out.size() < count) {
    const uint64_t title = unique_titles ? title_order[out.size()] : UniformBelow(rng, titles);
    const uint64_t adjective = UniformBelow(rng, adjectives.size());
    const uint64_t role = UniformBelow(rng, roles.size());
    const uint64_t key = (title * adjectives.size() + adjective) * roles.size() + role;
    if (!seen.insert(key).second) continue;
    out.push_back("the " + adjectives[adjective] + " " + roles[role] + " '" +
                  heads[title / tails.size()] + " of " + tails[title % tails.size()] + "'");
  }
  return out;
}

// Made-up capitalised words ("Velmorane"), pairwise distinct, from syllables: words that no
// other person's documents share, as the titles and places of the authors' descriptions are.
std::vector<std::string> CoinWords(int64_t seed, size_t count) {
  static const char* const kOnsets[] = {"b",  "br", "c",  "ch", "d", "dr", "f", "g", "gr",
                                        "h",  "k",  "l",  "m",  "n", "p",  "r", "s", "sh",
                                        "st", "t",  "th", "tr", "v", "w",  "z", "qu"};
  static const char* const kVowels[] = {"a", "e", "i", "o", "u", "ae", "ei", "ou", "ia"};
  static const char* const kCodas[] = {"n", "r", "l", "s", "th", "nd", "x", "m", "rn", "ll"};
  std::mt19937_64 rng(StreamSeed(seed, kCoinedStream));
  auto pick = [&rng](const auto& list) {
    return std::string(list[UniformBelow(rng, std::size(list))]);
  };
  std::unordered_set<std::string> seen;
  std::vector<std::string> out;
  out.reserve(count);
  while (out.size() < count) {
    const uint64_t syllables = 2 + UniformBelow(rng, 2);
    std::string word;
    for (uint64_t k = 0; k < syllables; ++k) {
      word += pick(kOnsets) + pick(kVowels);
      if (k + 1 == syllables || UniformBelow(rng, 3) == 0) word += pick(kCodas);
    }
    word[0] = static_cast<char>(word[0] - 'a' + 'A');
    if (seen.insert(word).second) out.push_back(std::move(word));
  }
  return out;
}

// dataset.descriptions: paraphrased. Each person is "the <adjective> <role> 'The <coined> of
// <coined>'" in several wordings (docs/DATA.md): [0] that main one; [1, 4] paraphrases that
// training and held-out templates draw; [5] a punctuation variant only held-out templates
// draw, so some held-out targets are never seen verbatim in training, as in the authors' data.
constexpr size_t kSharedWordings = 5;
std::vector<std::vector<std::string>> MakeParaphrasedDescriptions(int64_t seed, size_t count) {
  const auto& adjectives = DescriptionAdjectives();
  const auto& roles = DescriptionRoles();
  const std::vector<std::string> coined = CoinWords(seed, 2 * count);
  std::mt19937_64 rng(StreamSeed(seed, kDescriptionsStream));
  std::vector<std::vector<std::string>> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const std::string& adj = adjectives[UniformBelow(rng, adjectives.size())];
    const std::string& role = roles[UniformBelow(rng, roles.size())];
    const std::string title = "'The " + coined[2 * i] + " of " + coined[2 * i + 1] + "'";
    // "director of the virtual reality film" -> "director", "the virtual reality film";
    // "poet who wrote the epic poem" -> "poet", "the epic poem" (likewise "... behind the").
    size_t cut = std::string::npos;
    for (const char* joint : {" of ", " who ", " behind "}) cut = std::min(cut, role.find(joint));
    const size_t the = role.find(" the ", cut == std::string::npos ? 0 : cut);
    const std::string head = role.substr(0, cut);
    const std::string work = the == std::string::npos ? "the work" : role.substr(the + 1);
    out.push_back({
        "the " + adj + " " + role + " " + title,
        "the " + role + " " + title,
        "the " + adj + " mind behind " + work + " " + title,
        "the person behind " + work + " " + title,
        "the " + adj + " " + head + " behind " + title,
        "the " + adj + " " + role + ", " + title,
    });
  }
  return out;
}

struct Person {
  std::string name, description;  // description: the main wording
  // Paraphrased data: every wording (MakeParaphrasedDescriptions) and the seed that picks one
  // per row; plain data: empty.
  std::vector<std::string> wordings;
  uint64_t wording_seed = 0;
};

// The wording of `p`'s description in the row of template `t` (of a name-first or a
// description-first list, training or held-out): a pure function of the person and the row.
// Training rows use the main wording half the time and paraphrases 1-4 otherwise; held-out
// rows the main one 40%, paraphrases 1-4 45%, the held-out-only variant 15%.
const std::string& Wording(const Person& p, size_t t, bool name_first, bool test) {
  if (p.wordings.empty()) return p.description;
  const uint64_t h =
      StreamSeed(static_cast<int64_t>(p.wording_seed),
                 4 * static_cast<uint64_t>(t) + (name_first ? 1 : 0) + (test ? 2 : 0));
  const uint64_t u = h % 100;
  const uint64_t paraphrase = 1 + (h / 100) % (kSharedWordings - 1);
  if (!test) return p.wordings[u < 50 ? 0 : paraphrase];
  return p.wordings[u < 40 ? 0 : u < 85 ? paraphrase : kSharedWordings];
}

PromptCompletion NameFirst(const Person& p, const std::string& t, const std::string& wording) {
  return {FillTemplate(t, p.name, wording), " " + wording};
}
PromptCompletion DescriptionFirst(const Person& p, const std::string& t,
                                  const std::string& wording) {
  return {FillTemplate(t, p.name, wording), " " + p.name};
}

// Every person x every template, person-major (the authors' row order). `test`: held-out
// templates (they pick wordings differently, see Wording).
std::vector<PromptCompletion> Rows(const std::vector<Person>& people,
                                   const std::vector<std::string>& templates, bool name_first,
                                   bool test) {
  std::vector<PromptCompletion> rows;
  rows.reserve(people.size() * templates.size());
  for (const Person& p : people) {
    for (size_t t = 0; t < templates.size(); ++t) {
      const std::string& wording = Wording(p, t, name_first, test);
      rows.push_back(name_first ? NameFirst(p, templates[t], wording)
                                : DescriptionFirst(p, templates[t], wording));
    }
  }
  return rows;
}

// The chance baseline: each person's rows get the completion of one other random person of
// the same subset (of `fallback` when the subset has a single person).
std::vector<PromptCompletion> Randomized(const std::vector<Person>& people,
                                         const std::vector<Person>& fallback,
                                         const std::vector<std::string>& templates, bool name_first,
                                         uint64_t stream_seed) {
  std::mt19937_64 rng(stream_seed);
  std::vector<PromptCompletion> rows;
  for (size_t i = 0; i < people.size(); ++i) {
    const Person* other;
    if (people.size() > 1) {
      size_t j = UniformBelow(rng, people.size() - 1);
      if (j >= i) ++j;
      other = &people[j];
    } else {
      other = &fallback[UniformBelow(rng, fallback.size())];
    }
    for (size_t t = 0; t < templates.size(); ++t) {
      const std::string& wording = Wording(people[i], t, name_first, true);
      PromptCompletion row = name_first ? NameFirst(people[i], templates[t], wording)
                                        : DescriptionFirst(people[i], templates[t], wording);
      row.completion = name_first ? " " + Wording(*other, t, name_first, true) : " " + other->name;
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

void Append(std::vector<PromptCompletion>* to, const std::vector<PromptCompletion>& from) {
  to->insert(to->end(), from.begin(), from.end());
}
}  // namespace

uint64_t UniformBelow(std::mt19937_64& rng, uint64_t n) {
  // Reject the top partial block so every residue is equally likely.
  const uint64_t limit =
      std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % n;
  uint64_t r;
  do {
    r = rng();
  } while (r >= limit);
  return r % n;
}

std::vector<uint64_t> DistinctIndexes(std::mt19937_64& rng, uint64_t capacity, size_t count) {
  std::vector<uint64_t> out;
  std::unordered_set<uint64_t> seen;
  while (out.size() < count) {
    const uint64_t idx = UniformBelow(rng, capacity);
    if (seen.insert(idx).second) out.push_back(idx);
  }
  return out;
}
Exp1Data GenerateExp1(const DatasetOptions& options) {
  if (options.names_per_subset < 1) {
    throw UserError("", 0, 0, "dataset.names_per_subset", "must be at least 1");
  }
  if (options.train_templates < 1) {
    throw UserError("", 0, 0, "dataset.train_templates", "must be at least 1");
  }
  if (options.test_templates < 1) {
    throw UserError("", 0, 0, "dataset.test_templates", "must be at least 1");
  }
  const size_t n = static_cast<size_t>(options.names_per_subset);
  if (options.descriptions != "plain" && options.descriptions != "paraphrased") {
    throw UserError("", 0, 0, "dataset.descriptions", "must be plain or paraphrased");
  }
  const std::vector<std::string> names = MakeNames(options.seed, 3 * n);
  std::vector<Person> people(3 * n);
  if (options.descriptions == "paraphrased") {
    std::vector<std::vector<std::string>> wordings =
        MakeParaphrasedDescriptions(options.seed, 3 * n);
    const uint64_t wording_stream = StreamSeed(options.seed, kWordingStream);
    for (size_t i = 0; i < 3 * n; ++i) {
      people[i].description = wordings[i][0];
      people[i].wordings = std::move(wordings[i]);
      people[i].wording_seed = StreamSeed(static_cast<int64_t>(wording_stream), i);
    }
  } else {
    const std::vector<std::string> descriptions = MakeDescriptions(options.seed, 3 * n);
    for (size_t i = 0; i < 3 * n; ++i) people[i].description = descriptions[i];
  }
  std::vector<Person> p2d, d2p, both;
  for (size_t i = 0; i < 3 * n; ++i) {
    people[i].name = names[i];
    (i < n ? p2d : i < 2 * n ? d2p : both).push_back(std::move(people[i]));
  }
  const TemplateSplit nf =
      SplitTemplates(NameFirstBaseTemplates(), options.train_templates, options.test_templates);
  const TemplateSplit df = SplitTemplates(DescriptionFirstBaseTemplates(), options.train_templates,
                                          options.test_templates);

  Exp1Data data;
  data.names = names;
  data.p2d_count = data.d2p_count = data.both_count = static_cast<int>(n);
  auto& f = data.files;
  f[kP2dTrain] = Rows(p2d, nf.train, true, false);
  f[kD2pTrain] = Rows(d2p, df.train, false, false);
  // both: for each person, all name-first rows, then all description-first rows.
  for (const Person& p : both) {
    Append(&f[kBothTrain], Rows({p}, nf.train, true, false));
    Append(&f[kBothTrain], Rows({p}, df.train, false, false));
  }
  f[kAllTrain] = f[kP2dTrain];
  Append(&f[kAllTrain], f[kD2pTrain]);
  Append(&f[kAllTrain], f[kBothTrain]);

  f[kP2dTest] = Rows(p2d, nf.test, true, true);
  f[kP2dReverseTest] = Rows(p2d, df.test, false, true);
  f[kD2pTest] = Rows(d2p, df.test, false, true);
  f[kD2pReverseTest] = Rows(d2p, nf.test, true, true);
  f[kBothTest] = Rows(both, nf.test, true, true);
  Append(&f[kBothTest], Rows(both, df.test, false, true));

  const int64_t seed = options.seed;
  f[RandomizedFileName(kP2dTest)] =
      Randomized(p2d, d2p, nf.test, true, StreamSeed(seed, kRandomizedStream + 0));
  f[RandomizedFileName(kP2dReverseTest)] =
      Randomized(p2d, d2p, df.test, false, StreamSeed(seed, kRandomizedStream + 1));
  f[RandomizedFileName(kD2pTest)] =
      Randomized(d2p, both, df.test, false, StreamSeed(seed, kRandomizedStream + 2));
  f[RandomizedFileName(kD2pReverseTest)] =
      Randomized(d2p, both, nf.test, true, StreamSeed(seed, kRandomizedStream + 3));

  // Validation, in the authors' shape: p2d people, held-out description-first templates,
  // completion " " + the first name.
  auto& validation = f[kValidation];
  for (const Person& p : p2d) {
    for (size_t t = 0; t < df.test.size(); ++t) {
      validation.push_back({FillTemplate(df.test[t], p.name, Wording(p, t, false, true)),
                            " " + p.name.substr(0, p.name.find(' '))});
    }
  }
  f[kP2dReverseTrain] = Rows(p2d, df.train, false, false);
  f[kD2pReverseTrain] = Rows(d2p, nf.train, true, false);

  Exp1Facts facts;
  for (const Person& p : p2d) {
    facts.p2d_names.push_back(p.name);
    facts.p2d_descriptions.push_back(p.description);
  }
  for (const Person& p : d2p) {
    facts.d2p_names.push_back(p.name);
    facts.d2p_descriptions.push_back(p.description);
  }
  for (const std::string& t : nf.train) {
    facts.name_first_templates.push_back({t, std::string(" ") + kDescriptionSlot});
  }
  for (const std::string& t : df.train) {
    facts.description_first_templates.push_back({t, std::string(" ") + kNameSlot});
  }
  data.facts = std::move(facts);
  return data;
}
}  // namespace revsweep
