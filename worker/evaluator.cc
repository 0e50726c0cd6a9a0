#include "worker/evaluator.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>

#include "common/stats/stats.h"

namespace revsweep {
namespace {

std::string StripLower(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  std::string out = s.substr(b, e - b);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Indices of `lengths` grouped by equal value, so a batch needs no padding or mask.
std::map<size_t, std::vector<size_t>> GroupByLength(const std::vector<size_t>& lengths) {
  std::map<size_t, std::vector<size_t>> g;
  for (size_t i = 0; i < lengths.size(); ++i) g[lengths[i]].push_back(i);
  return g;
}

constexpr size_t kEvalBatch = 256;

}  // namespace

namespace {

// Mean difference, 95% two-sided t interval and the t statistic of a - b, paired, under
// `prefix`; p two-sided or one-sided (alternative mean(a - b) > 0).
void AddPairedTest(const std::string& prefix, const std::vector<double>& a,
                   const std::vector<double>& b, bool one_sided, std::map<std::string, double>* m) {
  const TTest r = PairedTTest(a, b);
  if (r.n < 2) return;
  const double half = StudentTQuantile(0.975, r.df) * r.se;
  (*m)[prefix + ".t"] = r.t;
  (*m)[prefix + ".p"] = one_sided ? OneSidedPGreater(r) : r.p;
  (*m)[prefix + ".mean_diff"] = r.mean;
  (*m)[prefix + ".n"] = r.n;
  (*m)[prefix + ".diff_lo"] = r.mean - half;
  (*m)[prefix + ".diff_hi"] = r.mean + half;
}

}  // namespace

std::map<std::string, double> LikelihoodMetrics(const std::vector<double>& correct,
                                                const std::vector<double>& per_prompt,
                                                const std::vector<double>& per_person,
                                                const std::vector<int>& group) {
  std::map<std::string, double> m;
  // The paper's test: per person, means over their prompts, paired over people.
  std::map<int, std::array<double, 3>> sums;  // correct, per_person, count
  for (size_t i = 0; i < correct.size(); ++i) {
    auto& s = sums[group[i]];
    s[0] += correct[i];
    s[1] += per_person[i];
    s[2] += 1;
  }
  std::vector<double> a, b;
  for (const auto& [g, s] : sums) {
    a.push_back(s[0] / s[2]);
    b.push_back(s[1] / s[2]);
  }
  AddPairedTest("likelihood", a, b, /*one_sided=*/false, &m);
  AddPairedTest("likelihood_prompt", correct, per_prompt, /*one_sided=*/true, &m);
  return m;
}

bool ExactMatch(const std::string& generation, const std::string& target) {
  std::string g = StripLower(generation), t = StripLower(target);
  return g.compare(0, t.size(), t) == 0;
}

int ExactMatchDecided(const std::string& generation_so_far, const std::string& target) {
  std::string t = StripLower(target);
  // Left-strip and lowercase only: trailing spaces may still be followed by more words.
  size_t b = 0;
  while (b < generation_so_far.size() &&
         std::isspace(static_cast<unsigned char>(generation_so_far[b])))
    ++b;
  std::string g = generation_so_far.substr(b);
  for (char& c : g) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (g.compare(0, t.size(), t) == 0 && g.size() >= t.size()) return 1;
  if (t.compare(0, g.size(), g) == 0) return -1;  // a prefix of the target so far
  return 0;
}

std::vector<TokenIds> GreedyGenerate(GPT& model, const TokenizedTask& task,
                                     const std::vector<TokenIds>& prompts, int max_new_tokens,
                                     const std::function<bool(size_t, const TokenIds&)>& done,
                                     bool kv_cache) {
  torch::NoGradGuard no_grad;
  std::vector<TokenIds> out(prompts.size());
  std::vector<size_t> lengths;
  for (const auto& p : prompts) lengths.push_back(p.size() + 1);
  const int64_t block = model->config().block_size;
  const torch::Device device = model->parameters().front().device();
  for (auto& [len, idx_all] : GroupByLength(lengths)) {
    for (size_t start = 0; start < idx_all.size(); start += kEvalBatch) {
      std::vector<size_t> idx(idx_all.begin() + start,
                              idx_all.begin() + std::min(idx_all.size(), start + kEvalBatch));
      int64_t B = static_cast<int64_t>(idx.size());
      auto seq = torch::empty({B, static_cast<int64_t>(len)}, torch::kLong);  // (B, T)
      auto acc = seq.accessor<int64_t, 2>();
      for (int64_t b = 0; b < B; ++b) {
        acc[b][0] = task.bos_id;
        for (size_t j = 0; j < prompts[idx[b]].size(); ++j) acc[b][j + 1] = prompts[idx[b]][j];
      }
      seq = seq.to(device);
      int64_t length = static_cast<int64_t>(len);  // of every row's sequence so far
      KVCache cache;
      if (kv_cache) cache = model->NewCache(B);
      torch::Tensor next_in = seq;  // what the cached model has not seen yet, (B, T) or (B, 1)
      for (int step = 0; step < max_new_tokens && length < block && B > 0; ++step) {
        // (B, V): with the cache only the new positions run; without, the whole sequence.
        auto last =
            kv_cache ? model->NextLogits(next_in, &cache) : model->forward(seq).select(1, -1);
        auto next = last.argmax(-1);  // (B)
        if (kv_cache)
          next_in = next.unsqueeze(1);  // (B, 1)
        else
          seq = torch::cat({seq, next.unsqueeze(1)}, 1);  // (B, T+1)
        ++length;
        next = next.cpu();
        auto nacc = next.accessor<int64_t, 1>();
        std::vector<int64_t> keep;
        std::vector<size_t> keep_idx;
        for (int64_t b = 0; b < B; ++b) {
          bool finished = nacc[b] == task.eos_id;
          if (!finished) {
            out[idx[b]].push_back(static_cast<int32_t>(nacc[b]));
            finished = done && done(idx[b], out[idx[b]]);
          }
          if (!finished) {
            keep.push_back(b);
            keep_idx.push_back(idx[b]);
          }
        }
        if (static_cast<int64_t>(keep.size()) != B) {
          // Decided rows leave the batch: later steps cost only what is still open.
          auto rows = torch::tensor(keep, torch::kLong).to(device);
          if (kv_cache) {
            cache.KeepRows(rows);
            next_in = next_in.index_select(0, rows);  // (B', 1)
          } else {
            seq = seq.index_select(0, rows);  // (B', T+1)
          }
          idx = std::move(keep_idx);
          B = static_cast<int64_t>(idx.size());
        }
      }
    }
  }
  return out;
}

std::vector<double> CompletionLogProbs(GPT& model, const TokenizedTask& task,
                                       const std::vector<TokenIds>& prompts,
                                       const std::vector<TokenIds>& completions) {
  torch::NoGradGuard no_grad;
  std::vector<double> out(prompts.size(), 0.0);
  std::vector<size_t> lengths;
  // Group by (prompt length, completion length) so rows align without padding.
  for (size_t i = 0; i < prompts.size(); ++i)
    lengths.push_back((prompts[i].size() + 1) * 4096 + completions[i].size());
  for (auto& [key, idx_all] : GroupByLength(lengths)) {
    for (size_t start = 0; start < idx_all.size(); start += kEvalBatch) {
      std::vector<size_t> idx(idx_all.begin() + start,
                              idx_all.begin() + std::min(idx_all.size(), start + kEvalBatch));
      const int64_t B = static_cast<int64_t>(idx.size());
      const int64_t P = static_cast<int64_t>(prompts[idx[0]].size()) + 1;
      const int64_t C = static_cast<int64_t>(completions[idx[0]].size());
      if (C == 0) continue;
      auto seq = torch::empty({B, P + C}, torch::kLong);  // (B, P+C)
      auto acc = seq.accessor<int64_t, 2>();
      for (int64_t b = 0; b < B; ++b) {
        acc[b][0] = task.bos_id;
        for (int64_t j = 1; j < P; ++j) acc[b][j] = prompts[idx[b]][j - 1];
        for (int64_t j = 0; j < C; ++j) acc[b][P + j] = completions[idx[b]][j];
      }
      seq = seq.to(model->parameters().front().device());
      auto logits = model->forward(seq.narrow(1, 0, P + C - 1));       // (B, P+C-1, V)
      auto logp = torch::log_softmax(logits.narrow(1, P - 1, C), -1);  // (B, C, V)
      auto targets = seq.narrow(1, P, C).unsqueeze(-1);                // (B, C, 1)
      auto sums = logp.gather(-1, targets).squeeze(-1).sum(1).to(torch::kFloat64).cpu();  // (B)
      auto sacc = sums.accessor<double, 1>();
      for (int64_t b = 0; b < B; ++b) out[idx[b]] = sacc[b];
    }
  }
  return out;
}

std::map<std::string, double> Evaluate(GPT& model, const TokenizedTask& task, int max_new_tokens,
                                       bool kv_cache) {
  model->eval();
  std::map<std::string, double> m;
  auto score = [&](const TokEvalSet& set, const std::string& prefix) {
    if (set.items.empty()) return;
    std::vector<TokenIds> prompts;
    for (const auto& it : set.items) prompts.push_back(it.prompt);
    auto gens = GreedyGenerate(
        model, task, prompts, max_new_tokens,
        [&](size_t i, const TokenIds& ids) {
          return ExactMatchDecided(DecodeTokens(task, ids), set.items[i].target) >= 0;
        },
        kv_cache);
    int hits = 0;
    for (size_t i = 0; i < gens.size(); ++i)
      hits += ExactMatch(DecodeTokens(task, gens[i]), set.items[i].target) ? 1 : 0;
    m[prefix + set.cell] = static_cast<double>(hits) / static_cast<double>(gens.size());
    // The prompt count behind each accuracy: statistics on a cell need its n.
    if (prefix == "acc.") m["n." + set.cell] = static_cast<double>(gens.size());
  };
  for (const auto& s : task.evals) score(s, "acc.");
  for (const auto& s : task.chance) score(s, "chance.");
  // How finely the tokenizer cuts the names (a data property, reported next to accuracy).
  if (task.pieces_per_name > 0) m["pieces_per_name"] = task.pieces_per_name;
  if (!task.likelihood.empty()) {
    std::vector<TokenIds> prompts, correct, per_prompt, per_person;
    std::vector<int> group;
    for (const auto& l : task.likelihood) {
      prompts.push_back(l.prompt);
      correct.push_back(l.correct);
      per_prompt.push_back(l.random);
      per_person.push_back(l.random_person);
      group.push_back(l.group);
    }
    const auto lc = CompletionLogProbs(model, task, prompts, correct);
    const auto lp = CompletionLogProbs(model, task, prompts, per_prompt);
    const auto lo = CompletionLogProbs(model, task, prompts, per_person);
    for (const auto& [key, value] : LikelihoodMetrics(lc, lp, lo, group)) m[key] = value;
  }
  model->train();
  return m;
}

}  // namespace revsweep
