// Preparing a trial's data: build the text task, train (or reuse) the tokenizer, tokenize,
// and write the token cache the trainer reads. Lives in the torch-free executable because
// sentencepiece and libtorch cannot share a process (see docs/ARCHITECTURE.md).
#pragma once

#include <cstdint>
#include <string>

#include "common/config/sweep_config.h"

namespace revsweep {

struct PreparedData {
  std::string task_path;  // token cache file for this trial's (dataset, tokenizer)
  int vocab_size = 0;
  int block_size = 0;        // longest document in tokens (bos + doc + eos)
  int64_t train_tokens = 0;  // tokens per epoch
  int64_t train_docs = 0;
  bool tokenizer_cached = false;  // the tokenizer model was reused, not trained
  bool task_cached = false;       // the whole token cache was reused
  double pieces_per_name = 0;     // TokenizedTask::pieces_per_name
  int distinct_words = 0;         // tokenizer "word": distinct pieces in the corpus
};

// Bump when tokenization or the cache layout changes, so old caches are not reused
// (data-v2: likelihood items carry the paper's per-person name).
constexpr const char* kDataCacheVersion = "data-v3";  // v3: byte fallback only when needed

// Key of the token cache: hash of every dataset.* and tokenizer.* setting.
std::string DataKey(const TrialConfig& trial);

// <cache_dir>/task-<DataKey>.rstk: where PrepareTrialData writes the trial's token cache.
std::string TaskCachePath(const TrialConfig& trial, const std::string& cache_dir);

// Prepares (or reuses) the cache under `cache_dir`. Deterministic in the trial's dataset and
// tokenizer settings. Throws UserError for bad data, std::runtime_error for I/O failures.
PreparedData PrepareTrialData(const TrialConfig& trial, const std::string& cache_dir);

// Implemented in common/sentencepiece/prepare_trial_data.cc (target revsweep_sentencepiece,
// torch-free executables only).
// Exact parameter count of our GPT (tied embeddings): 12 d^2 + 13 d per layer, V d + B d
// embeddings, 2 d final LayerNorm.
int64_t GptParamCount(int64_t vocab, int64_t block, int64_t n_layer, int64_t d_model);

}  // namespace revsweep
