// What the trainer benches train on: synthetic documents shaped like Experiment 1's, a custom
// GPT shape, the trial settings of a timing run (one epoch, no checkpoints, one thread), and
// each step's documents exactly as RunTrial slices them.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/config/settings.h"
#include "common/config/sweep_config.h"
#include "common/data/token_cache.h"
#include "worker/trainer.h"

namespace revsweep::bench {

struct Size {
  std::string name;
  int n_layer, n_head, d_model;
};

// `n_docs` documents of random tokens in [3, vocab): prompts of [prompt_min, prompt_max]
// tokens and completions of [completion_min, completion_max]. The defaults are exp1's shape
// (prompt 4-16 tokens, completion 4-20).
inline TokenizedTask SyntheticTask(int64_t n_docs, int vocab, uint64_t seed, int prompt_min = 4,
                                   int prompt_max = 16, int completion_min = 4,
                                   int completion_max = 20) {
  TokenizedTask t;
  t.vocab_size = vocab;
  t.pad_id = 0;
  t.bos_id = 1;
  t.eos_id = 2;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> tok(3, vocab - 1), np(prompt_min, prompt_max),
      nc(completion_min, completion_max);
  for (int64_t i = 0; i < n_docs; ++i) {
    TokDoc d;
    for (int j = np(rng); j > 0; --j) d.prompt.push_back(tok(rng));
    for (int j = nc(rng); j > 0; --j) d.completion.push_back(tok(rng));
    t.train.push_back(std::move(d));
  }
  return t;
}

// Every trial key at its default, then a custom model of shape `s`, one epoch of `batch`,
// 10 warm-up steps, no checkpoints, one thread.
inline Settings TimingSettings(const Size& s, int batch, int block_size) {
  Settings st;
  for (const auto& e : TrialSchema()) st[e.key] = e.default_value;
  st["model.size"] = std::string("custom");
  st["model.n_layer"] = int64_t{s.n_layer};
  st["model.n_head"] = int64_t{s.n_head};
  st["model.d_model"] = int64_t{s.d_model};
  st["model.block_size"] = int64_t{block_size};
  st["train.epochs"] = int64_t{1};
  st["train.batch_size"] = int64_t{batch};
  st["train.warmup_steps"] = int64_t{10};
  st["train.checkpoint_every_steps"] = int64_t{0};
  st["train.checkpoint_every_seconds"] = 0.0;
  st["resources.threads"] = int64_t{1};
  return st;
}

// Each step's documents, exactly as RunTrial slices them (one rank).
inline std::vector<std::vector<int64_t>> Schedule(const TrialConfig& trial, int64_t n_docs) {
  const int64_t b = trial.train.batch_size, spe = StepsPerEpoch(n_docs, b);
  std::vector<std::vector<int64_t>> steps;
  for (int64_t e = 0; e < trial.train.epochs; ++e) {
    auto perm = EpochPermutation(n_docs, trial.train.seed, e);
    for (int64_t s = 0; s < spe; ++s)
      steps.emplace_back(perm.begin() + s * b, perm.begin() + std::min(n_docs, (s + 1) * b));
  }
  return steps;
}

}  // namespace revsweep::bench
