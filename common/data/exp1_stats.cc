#include "common/data/exp1_stats.h"

#include <cctype>
#include <cstdio>
#include <map>
#include <set>
#include <unordered_map>

#include "common/text_util.h"

namespace revsweep {
namespace {

std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> out;
  std::string w;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      w.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!w.empty()) {
      out.push_back(std::move(w));
      w.clear();
    }
  }
  if (!w.empty()) out.push_back(std::move(w));
  return out;
}

// A completion as a target: without its leading space and one final '.'.
std::string Target(std::string s) {
  if (!s.empty() && s.front() == ' ') s.erase(0, 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

Exp1Stats ComputeExp1Stats(const Exp1Data& data) {
  Exp1Stats st;
  st.people = static_cast<int>(data.names.size());
  // Training documents: the subsets' training files (all_prompts_train is their union).
  std::vector<const PromptCompletion*> train;
  for (const auto& [file, rows] : data.files) {
    if (!EndsWith(file, "_prompts_train.jsonl") || file == "all_prompts_train.jsonl") continue;
    for (const PromptCompletion& r : rows) train.push_back(&r);
  }
  st.train_docs = static_cast<int>(train.size());

  // Per person: the documents naming them, their words, and their name-first completions.
  const size_t n = data.names.size();
  std::vector<std::set<std::string>> words(n);
  std::vector<std::set<std::string>> completions(n);
  std::vector<int> docs(n, 0);
  for (const PromptCompletion* d : train) {
    const std::string text = d->prompt + d->completion;
    std::vector<std::string> doc_words = Words(text);
    for (size_t p = 0; p < n; ++p) {
      if (text.find(data.names[p]) == std::string::npos) continue;
      ++docs[p];
      const std::vector<std::string> name_words = Words(data.names[p]);
      const std::set<std::string> name_set(name_words.begin(), name_words.end());
      for (const std::string& w : doc_words) {
        if (!name_set.count(w)) words[p].insert(w);
      }
      if (d->prompt.find(data.names[p]) != std::string::npos) {
        completions[p].insert(Target(d->completion));
      }
    }
  }
  std::unordered_map<std::string, int> owners;  // word -> people whose documents have it
  for (const auto& ws : words) {
    for (const std::string& w : ws) ++owners[w];
  }
  double sum_docs = 0, sum_words = 0, sum_distinctive = 0, sum_completions = 0;
  int name_first_people = 0;
  for (size_t p = 0; p < n; ++p) {
    sum_docs += docs[p];
    sum_words += static_cast<double>(words[p].size());
    for (const std::string& w : words[p]) sum_distinctive += owners[w] == 1;
    if (!completions[p].empty()) {
      sum_completions += static_cast<double>(completions[p].size());
      ++name_first_people;
    }
  }
  if (n > 0) {
    st.docs_per_person = sum_docs / n;
    st.words_per_person = sum_words / n;
    st.distinctive_words = sum_distinctive / n;
  }
  if (name_first_people > 0) st.distinct_completions = sum_completions / name_first_people;

  // Held-out targets seen verbatim in a training document.
  std::string corpus;
  for (const PromptCompletion* d : train) corpus += d->prompt + d->completion + '\n';
  for (const char* file :
       {"p2d_prompts_test.jsonl", "d2p_prompts_test.jsonl", "both_prompts_test.jsonl"}) {
    auto it = data.files.find(file);
    if (it == data.files.end()) continue;
    Exp1Stats::Heldout h;
    h.file = file;
    for (const PromptCompletion& r : it->second) {
      ++h.rows;
      const std::string target = Target(r.completion);
      if (!target.empty() && corpus.find(target) != std::string::npos) ++h.seen_verbatim;
    }
    st.heldout.push_back(h);
  }
  return st;
}

std::string FormatExp1Stats(const Exp1Stats& s) {
  std::string out;
  char line[256];
  auto add = [&](const char* what, const std::string& value) {
    snprintf(line, sizeof(line), "  %-56s %s\n", what, value.c_str());
    out += line;
  };
  auto num = [](double v, int decimals) {
    char b[32];
    snprintf(b, sizeof(b), "%.*f", decimals, v);
    return std::string(b);
  };
  add("people", std::to_string(s.people));
  add("training documents", std::to_string(s.train_docs));
  add("training documents per person", num(s.docs_per_person, 1));
  add("distinct words per person (name excluded)", num(s.words_per_person, 1));
  add("  of those in no other person's documents", num(s.distinctive_words, 1));
  add("distinct completions per person, name-first documents", num(s.distinct_completions, 1));
  for (const Exp1Stats::Heldout& h : s.heldout) {
    const std::string what = "held-out targets seen verbatim in training, " + h.file;
    snprintf(line, sizeof(line), "  %s\n  %-56s %d of %d (%.0f%%)\n", what.c_str(), "",
             h.seen_verbatim, h.rows, h.rows ? 100.0 * h.seen_verbatim / h.rows : 0.0);
    out += line;
  }
  return out;
}

}  // namespace revsweep
