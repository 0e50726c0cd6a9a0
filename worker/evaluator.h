// Evaluation as the paper defines it (see docs/ARCHITECTURE.md, "Evaluation"):
//  - exact match: greedy decoding; strip and lowercase both strings; a hit when the
//    generation starts with the target. Accuracy per cell = mean over the cell's rows.
//  - chance baseline: the same scoring against randomized completions.
//  - increased likelihood (p2d reverse), two forms (LikelihoodMetrics).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/data/token_cache.h"
#include "worker/gpt.h"

namespace revsweep {

// Exact-match rule on text. Both strings are stripped of surrounding whitespace and
// lowercased (ASCII); true when `generation` starts with `target`.
bool ExactMatch(const std::string& generation, const std::string& target);

// Greedy continuation of each prompt (bos + prompt), up to max_new_tokens or eos, batched by
// prompt length. Returns the generated ids (without the prompt). When `done(i, ids)` says a
// row is decided, that row leaves the batch early (exact match is usually decided after a
// few tokens: a wrong first word is already a miss). With `kv_cache` (the default) each step
// runs only the new token against the cached keys and values of the sequence so far (GPT::
// NextLogits); without it, every step runs the whole sequence again (the reference the cached
// path is tested and benchmarked against). Both give the same ids up to ties within rounding.
std::vector<TokenIds> GreedyGenerate(
    GPT& model, const TokenizedTask& task, const std::vector<TokenIds>& prompts, int max_new_tokens,
    const std::function<bool(size_t, const TokenIds&)>& done = nullptr, bool kv_cache = true);

// -1 while a generation can still match `target`, else 1 (hit) or 0 (miss).
int ExactMatchDecided(const std::string& generation_so_far, const std::string& target);

// Summed log P(completion | bos + prompt) for each pair.
std::vector<double> CompletionLogProbs(GPT& model, const TokenizedTask& task,
                                       const std::vector<TokenIds>& prompts,
                                       const std::vector<TokenIds>& completions);

// The increased-likelihood tests from per-row summed log-probabilities of the correct name
// (`correct`), of the row's per-prompt wrong name (`per_prompt`) and of its person's one other
// name (`per_person`); `group` is each row's person. Keys:
//   likelihood.{t,p,mean_diff,n,diff_lo,diff_hi}: the paper's test (Berglund et al., their
//     notebook plot_reverse_results_june): per person, the mean over their prompts of
//     correct minus the mean of per_person; paired two-sided t-test over the n people;
//     95% t interval of the mean difference;
//   likelihood_prompt.{t,p,mean_diff,n,diff_lo,diff_hi}: per row, correct minus per_prompt;
//     one-sided t-test (alternative: the correct name is more likely) over the n rows; 95%
//     two-sided t interval of the mean difference.
// A test with n < 2 is left out. REQUIRES: the four vectors have equal sizes.
std::map<std::string, double> LikelihoodMetrics(const std::vector<double>& correct,
                                                const std::vector<double>& per_prompt,
                                                const std::vector<double>& per_person,
                                                const std::vector<int>& group);

// Every metric: acc.<cell>, n.<cell> (its prompt count), chance.<cell>, and the likelihood
// tests (LikelihoodMetrics). Puts the model in eval mode and restores train mode. `kv_cache`
// as in GreedyGenerate.
std::map<std::string, double> Evaluate(GPT& model, const TokenizedTask& task, int max_new_tokens,
                                       bool kv_cache = true);

}  // namespace revsweep
