// A tokenized task, written once per (dataset, tokenizer) by the torch-free `revsweep`
// executable and read by the trainer (which cannot link sentencepiece, see ARCHITECTURE.md).
// The file carries a checksum; a file that fails it is rejected, never trusted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace revsweep {

using TokenIds = std::vector<int32_t>;

struct TokDoc {
  TokenIds prompt, completion;
};
struct TokEvalItem {
  TokenIds prompt;
  std::string target;  // text target, compared after decoding
  int group = 0;
};
struct TokEvalSet {
  std::string cell;
  std::vector<TokEvalItem> items;
};
struct TokLikelihoodItem {  // LikelihoodItem (common/data/text_task.h), tokenized
  TokenIds prompt, correct, random;
  int group = 0;
  TokenIds random_person;
};

struct TokenizedTask {
  int vocab_size = 0;
  int bos_id = -1, eos_id = -1, pad_id = -1;
  std::string decoder;              // "sentencepiece" | "gpt2" | "word"
  std::vector<std::string> pieces;  // id -> piece text, for decoding generations
  std::vector<TokDoc> train;
  std::vector<TokEvalSet> evals;
  std::vector<TokEvalSet> chance;
  std::vector<TokLikelihoodItem> likelihood;
  // Mean tokens of " " + each entity (a name in Experiment 1, an answer in Experiment 3):
  // how finely the tokenizer cuts what the model must recall. 0 when there are none.
  double pieces_per_name = 0;
  std::string key;  // content hash of the settings that produced it
};

// Atomic write (temp file, fsync, rename). Throws std::runtime_error on I/O failure.
void WriteTokenizedTask(const std::string& path, const TokenizedTask& task);
// Throws std::runtime_error naming the file when missing, truncated or checksum-mismatched.
TokenizedTask ReadTokenizedTask(const std::string& path);

// Ids -> text. sentencepiece: pieces joined, U+2581 -> space, <0xNN> byte pieces decoded;
// gpt2: byte-level pieces mapped back to bytes. Special ids (bos/eos/pad) are skipped.
std::string DecodeTokens(const TokenizedTask& task, const TokenIds& ids);

}  // namespace revsweep
