// The trial grid the store benchmarks share (bench_store_scale, bench_settings_json): 5 sizes x
// 10 lr x 5 batch sizes x 5 mitigations x 4 warm-ups x 5 weight decays = 25k settings, x 4
// seeds = 100k trials, in grid order with seeds innermost (as a sweep expands).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "common/config/settings.h"

namespace revsweep::bench_grid {

inline const char* const kSizes[] = {"nano", "micro", "tiny", "small", "medium"};

struct Point {
  int size, lr, batch, mitigation, warmup, weight_decay, seed;
};

// Trial i of the grid.
inline Point At(int i) {
  Point p;
  p.seed = i % 4;
  i /= 4;
  p.weight_decay = i % 5;
  i /= 5;
  p.warmup = i % 4;
  i /= 4;
  p.mitigation = i % 5;
  i /= 5;
  p.batch = i % 5;
  i /= 5;
  p.lr = i % 10;
  i /= 10;
  p.size = i % 5;
  return p;
}

// Sets model.size and the swept train/dataset keys of `p` (the model dimensions are the
// caller's: from the presets, or made up).
inline void Apply(const Point& p, Settings* s) {
  static const char* const kMitigations[] = {"none", "both_orders", "reverse_word",
                                             "reverse_entity", "reverse_segment"};
  (*s)["model.size"] = std::string(kSizes[p.size]);
  (*s)["train.lr"] = 1e-4 * std::pow(10.0, p.lr / 5.0);
  (*s)["train.batch_size"] = static_cast<int64_t>(1) << (p.batch + 2);
  (*s)["dataset.mitigation"] = std::string(kMitigations[p.mitigation]);
  (*s)["train.warmup_steps"] = static_cast<int64_t>(p.warmup * 50);
  (*s)["train.weight_decay"] = 0.05 * p.weight_decay;
  (*s)["train.seed"] = static_cast<int64_t>(p.seed);
}

}  // namespace revsweep::bench_grid
