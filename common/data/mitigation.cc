#include "common/data/mitigation.h"

#include <algorithm>
#include <random>

namespace revsweep {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Letters, digits and every non-ASCII byte (so "Zoë" stays one word core).
bool IsWordChar(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return u >= 0x80 || (u >= '0' && u <= '9') || (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z');
}

std::string StripLeadingPunctuation(const std::string& w) {
  size_t i = 0;
  while (i < w.size() && !IsWordChar(w[i])) ++i;
  return w.substr(i);
}

// True when `word` is `expected` followed by nothing or by a non-word character ("Quill,").
bool MatchesWithSuffix(const std::string& word, const std::string& expected) {
  if (word.compare(0, expected.size(), expected) != 0) return false;
  return word.size() == expected.size() || !IsWordChar(word[expected.size()]);
}

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::string ReverseUnits(std::vector<std::string> units) {
  std::reverse(units.begin(), units.end());
  return JoinWords(units, 0, units.size());
}

}  // namespace

std::vector<std::string> SplitWords(const std::string& text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsSpace(text[i])) ++i;
    const size_t start = i;
    while (i < text.size() && !IsSpace(text[i])) ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

std::string JoinWords(const std::vector<std::string>& words, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) {
    if (i > begin) out.push_back(' ');
    out += words[i];
  }
  return out;
}

EntityMatcher::EntityMatcher(const std::vector<std::string>& entities) {
  for (size_t e = 0; e < entities.size(); ++e) {
    entity_words_.push_back(SplitWords(entities[e]));
    if (entity_words_.back().empty()) continue;
    by_first_word_[entity_words_.back().front()].push_back(static_cast<int>(e));
  }
}

void EntityMatcher::AddCandidates(const std::string& key, std::vector<int>* out) const {
  auto it = by_first_word_.find(key);
  if (it == by_first_word_.end()) return;
  for (int e : it->second) {
    if (std::find(out->begin(), out->end(), e) == out->end()) out->push_back(e);
  }
}

EntityMatcher::Match EntityMatcher::MatchAt(const std::vector<std::string>& words, size_t i) const {
  Match best;
  if (i >= words.size() || by_first_word_.empty()) return best;
  // The first word may be "(Ada", "Ada" or, for a one-word entity, "Ada," or "Ada's": look
  // up the word without leading punctuation, and that with its non-word tail cut off.
  const std::string first = StripLeadingPunctuation(words[i]);
  std::vector<int> candidates;
  AddCandidates(first, &candidates);
  size_t cut = 0;
  while (cut < first.size() && IsWordChar(first[cut])) ++cut;
  if (cut < first.size()) AddCandidates(first.substr(0, cut), &candidates);
  if (candidates.empty()) {
    // Names with inner punctuation ("Anne-Marie"): try each non-word boundary.
    for (size_t k = 1; k < first.size(); ++k) {
      if (!IsWordChar(first[k])) AddCandidates(first.substr(0, k), &candidates);
    }
  }
  for (int e : candidates) {
    const std::vector<std::string>& ew = entity_words_[e];
    const size_t k = ew.size();
    if (i + k > words.size() || k <= best.length) continue;
    bool ok = k == 1 ? MatchesWithSuffix(first, ew[0]) : first == ew[0];
    for (size_t j = 1; ok && j + 1 < k; ++j) ok = words[i + j] == ew[j];
    if (ok && k > 1) ok = MatchesWithSuffix(words[i + k - 1], ew[k - 1]);
    if (ok) best = {e, k};
  }
  return best;
}

int EntityMatcher::FindFirst(const std::string& text) const {
  const std::vector<std::string> words = SplitWords(text);
  for (size_t i = 0; i < words.size(); ++i) {
    const Match m = MatchAt(words, i);
    if (m.entity >= 0) return m.entity;
  }
  return -1;
}

std::string ReverseWords(const std::string& text) { return ReverseUnits(SplitWords(text)); }

std::string ReverseEntities(const std::string& text, const EntityMatcher& matcher) {
  const std::vector<std::string> words = SplitWords(text);
  std::vector<std::string> units;
  size_t i = 0;
  while (i < words.size()) {
    const EntityMatcher::Match m = matcher.MatchAt(words, i);
    const size_t len = m.entity >= 0 ? m.length : 1;
    units.push_back(JoinWords(words, i, i + len));
    i += len;
  }
  return ReverseUnits(std::move(units));
}

TokenEntityReverser::TokenEntityReverser(
    const std::vector<std::vector<std::vector<int32_t>>>& forms) {
  for (size_t e = 0; e < forms.size(); ++e) {
    canonical_.push_back(forms[e].empty() ? std::vector<int32_t>{} : forms[e].front());
    for (const std::vector<int32_t>& f : forms[e]) {
      if (!f.empty()) by_first_[f.front()].push_back({static_cast<int>(e), f});
    }
  }
}

std::vector<int32_t> TokenEntityReverser::Reverse(const std::vector<int32_t>& ids) const {
  std::vector<std::pair<size_t, size_t>> units;  // [begin, end) in ids, or an entity (below)
  std::vector<int> unit_entity;                  // -1: ids[begin, end) as they are
  size_t i = 0;
  while (i < ids.size()) {
    size_t len = 1;
    int entity = -1;
    auto it = by_first_.find(ids[i]);
    if (it != by_first_.end()) {
      for (const Spelling& s : it->second) {
        const size_t k = s.ids.size();
        if (k < len || (k == len && entity >= 0) || i + k > ids.size()) continue;
        if (std::equal(s.ids.begin(), s.ids.end(), ids.begin() + static_cast<ptrdiff_t>(i))) {
          len = k;
          entity = s.entity;
        }
      }
    }
    units.emplace_back(i, i + len);
    unit_entity.push_back(entity);
    if (entity >= 0) ++kept_;
    i += len;
  }
  std::vector<int32_t> out;
  out.reserve(ids.size());
  for (size_t u = units.size(); u-- > 0;) {
    if (unit_entity[u] >= 0) {
      const std::vector<int32_t>& c = canonical_[unit_entity[u]];
      out.insert(out.end(), c.begin(), c.end());
    } else {
      out.insert(out.end(), ids.begin() + static_cast<ptrdiff_t>(units[u].first),
                 ids.begin() + static_cast<ptrdiff_t>(units[u].second));
    }
  }
  return out;
}

std::vector<size_t> SegmentLengths(size_t n_words, int max_length, uint64_t stream_seed) {
  std::vector<size_t> lengths;
  const uint64_t max = static_cast<uint64_t>(std::max(1, max_length));
  std::mt19937_64 rng(stream_seed);
  size_t covered = 0;
  while (covered < n_words) {
    const size_t len = std::min<size_t>(1 + UniformBelow(rng, max), n_words - covered);
    lengths.push_back(len);
    covered += len;
  }
  return lengths;
}

std::string ReverseSegmentsWithLengths(const std::vector<std::string>& words,
                                       const std::vector<size_t>& lengths) {
  std::vector<std::string> units;
  size_t i = 0;
  for (size_t len : lengths) {
    const size_t end = std::min(words.size(), i + len);
    if (end > i) units.push_back(JoinWords(words, i, end));
    i = end;
  }
  return ReverseUnits(std::move(units));
}

std::string ReverseSegments(const std::string& text, int max_length, uint64_t stream_seed) {
  const std::vector<std::string> words = SplitWords(text);
  return ReverseSegmentsWithLengths(words, SegmentLengths(words.size(), max_length, stream_seed));
}

uint64_t SegmentStreamSeed(int64_t seed, size_t doc_index) {
  return SplitMix64(SplitMix64(static_cast<uint64_t>(seed)) ^ static_cast<uint64_t>(doc_index));
}

std::vector<TextDoc> BothOrdersDocs(const Exp1Facts& facts) {
  std::vector<TextDoc> docs;
  const auto add = [&docs](const std::vector<std::string>& names,
                           const std::vector<std::string>& descriptions,
                           const std::vector<Exp1Template>& templates) {
    for (size_t p = 0; p < names.size(); ++p) {
      for (const Exp1Template& t : templates) {
        docs.push_back({FillTemplate(t.prompt, names[p], descriptions[p]),
                        FillTemplate(t.completion, names[p], descriptions[p])});
      }
    }
  };
  add(facts.p2d_names, facts.p2d_descriptions, facts.description_first_templates);
  add(facts.d2p_names, facts.d2p_descriptions, facts.name_first_templates);
  return docs;
}

void AppendReversedCopies(const std::string& mitigation, const std::vector<std::string>& entities,
                          int segment_length, int64_t seed, std::vector<TextDoc>* train) {
  if (mitigation != "reverse_word" && mitigation != "reverse_entity" &&
      mitigation != "reverse_segment") {
    return;
  }
  const EntityMatcher matcher(mitigation == "reverse_entity" ? entities
                                                             : std::vector<std::string>{});
  const size_t n = train->size();
  std::vector<TextDoc> copies;
  copies.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string text = (*train)[i].prompt + (*train)[i].completion;
    std::string reversed;
    if (mitigation == "reverse_word") {
      reversed = ReverseWords(text);
    } else if (mitigation == "reverse_entity") {
      reversed = ReverseEntities(text, matcher);
    } else {
      reversed = ReverseSegments(text, segment_length, SegmentStreamSeed(seed, i));
    }
    if (!reversed.empty()) copies.push_back({"", std::move(reversed)});
  }
  train->insert(train->end(), copies.begin(), copies.end());
}

bool IsKnownMitigation(const std::string& mitigation) {
  static const char* const kNames[] = {
      "none",           "both_orders",     "reverse_token",       "reverse_word",
      "reverse_entity", "reverse_segment", "reverse_entity_token"};
  for (const char* name : kNames) {
    if (mitigation == name) return true;
  }
  return false;
}

}  // namespace revsweep
