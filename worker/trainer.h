// Trains one trial data-parallel over a group and evaluates it. Every rank of the group calls
// RunTrial with the same arguments; ranks read disjoint shards of every global batch (a seeded
// permutation per epoch), gradients are averaged in buckets, the leader (group rank 0)
// checkpoints, reports progress and evaluates.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/config/sweep_config.h"
#include "common/data/token_cache.h"
#include "common/store/results_store.h"
#include "worker/communicator.h"
#include "worker/gpt.h"

namespace revsweep {

// A trial's own failure. `kind` is the attempt outcome the coordinator records: kCrash
// (retryable within the crash budget) or kFatal (config/data errors: never retried).
class TrialError : public std::runtime_error {
 public:
  TrialError(Outcome kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Outcome kind() const { return kind_; }

 private:
  Outcome kind_;
};

struct TrainHooks {
  // Leader only, about every `progress_every_s`: progress and new loss-curve points.
  std::function<void(const ProgressRow&, const std::vector<std::pair<int64_t, double>>&)>
      on_progress;
  // Polled at every step boundary on every rank; the group stops when any rank says so.
  std::function<bool()> stop_requested;
  // Leader only, once, after the checkpoint restore: the step training starts from.
  std::function<void(int64_t)> on_start;
  // Warnings (e.g. a corrupt checkpoint skipped). Leader only.
  std::function<void(const std::string&)> on_warning;
  double progress_every_s = 2;
};

struct TrainResult {
  bool preempted = false;                 // stopped by a signal after writing a checkpoint
  std::map<std::string, double> metrics;  // leader only, when not preempted
  int64_t params = 0;
  int64_t start_step = 0;  // resumed from (0 = fresh)
  int64_t end_step = 0;
  int64_t total_steps = 0;
};

struct TrainContext {
  std::string checkpoint_dir;  // this trial's checkpoint folder
  int attempt_number = 1;      // 1-based, for test-only fault injection
  double bucket_mb = 4;
  std::string device = "cpu";  // "cpu" or "cuda:N"
  int world_rank = 0;          // this process's rank in the world (fault-pause markers)
  // Steps whose losses may wait on the device before the host reads them (one transfer).
  // 0: 1 on the CPU (read every step: nothing waits there), 32 on CUDA. Any value gives the
  // same numbers; above 1 a non-finite loss is found at the next read (at the latest this
  // many steps later, always before a checkpoint or progress report) instead of before the
  // optimizer step. Tests set it to run the CUDA schedule on the CPU.
  int64_t loss_read_every = 0;
};

// The GPT a trial trains on `task`: the trial's model sizes, the task's vocabulary, and
// model.block_size or, when 0, the longest training document or evaluation sequence.
GPTConfig ModelConfigFor(const TrialConfig& trial, const TokenizedTask& task);

// Throws TrialError for failures of the trial itself (NaN loss, checkpoint write failure).
TrainResult RunTrial(const TrialConfig& trial, const TokenizedTask& task, Communicator& comm,
                     const TrainContext& ctx, const TrainHooks& hooks);

// The permutation of [0, n) used for `epoch`: Fisher-Yates over std::mt19937_64 seeded by
// (seed, epoch), so every rank and every resume computes the same order.
std::vector<int64_t> EpochPermutation(int64_t n, int64_t seed, int64_t epoch);

// Makes glibc malloc keep freed memory in the heap (mmap threshold 32 MiB, trim threshold
// 1 GiB): a training step frees and reallocates the same large tensors, and by default those
// go back to the kernel and are page-faulted in again every step (~10% of a small model's
// CPU time; docs/PERFORMANCE.md). Call once at start-up, before tensors exist. Returns false
// when glibc refuses.
bool KeepFreedMemoryForTraining();

// Steps in one epoch for n documents at global batch b: ceil(n / b).
int64_t StepsPerEpoch(int64_t n, int64_t b);

}  // namespace revsweep
