// Shared fixtures for worker tests: a synthetic tokenized task and trial settings built from
// the schema defaults, so tests need no tokenizer and no files.
#pragma once

#include <random>

#include "common/config/sweep_config.h"
#include "common/data/token_cache.h"

namespace revsweep::testing {

// Documents "a b -> c d" over a small vocabulary: prompt of 3 ids, completion of 3 ids.
inline TokenizedTask SyntheticTask(int docs = 24, int vocab = 32, uint64_t seed = 1) {
  TokenizedTask t;
  t.vocab_size = vocab;
  t.bos_id = 1;
  t.eos_id = 2;
  t.pad_id = 3;
  t.decoder = "sentencepiece";
  for (int i = 0; i < vocab; ++i)
    t.pieces.push_back(i < 4 ? "<s" + std::to_string(i) + ">"
                             : "\xE2\x96\x81w" + std::to_string(i));
  std::mt19937_64 rng(seed);
  TokEvalSet same;
  same.cell = "p2d.same.train";
  for (int d = 0; d < docs; ++d) {
    TokDoc doc;
    for (int j = 0; j < 3; ++j) doc.prompt.push_back(4 + static_cast<int>(rng() % (vocab - 4)));
    for (int j = 0; j < 3; ++j) doc.completion.push_back(4 + static_cast<int>(rng() % (vocab - 4)));
    t.train.push_back(doc);
    std::string target;
    for (int id : doc.completion) target += " w" + std::to_string(id);
    same.items.push_back({doc.prompt, target, d});
  }
  t.evals.push_back(same);
  for (int d = 0; d < docs; ++d)
    t.likelihood.push_back({t.train[d].completion, t.train[d].prompt,
                            t.train[(d + 1) % docs].prompt, d, t.train[(d + 2) % docs].prompt});
  return t;
}

inline Settings DefaultSettings() {
  Settings s;
  for (const SchemaEntry& e : TrialSchema()) s[e.key] = e.default_value;
  s["model.size"] = std::string("custom");
  s["model.n_layer"] = int64_t{2};
  s["model.n_head"] = int64_t{2};
  s["model.d_model"] = int64_t{32};
  s["train.epochs"] = int64_t{4};
  s["train.batch_size"] = int64_t{8};
  s["train.warmup_steps"] = int64_t{2};
  s["train.checkpoint_every_steps"] = int64_t{0};
  s["train.checkpoint_every_seconds"] = 0.0;
  s["train.eval_max_new_tokens"] = int64_t{4};
  return s;
}

}  // namespace revsweep::testing
