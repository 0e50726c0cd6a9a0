// Part of the revsweep_sentencepiece target: the only code that links sentencepiece.
#include <fcntl.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <unordered_set>

#include "common/data/mitigation.h"
#include "common/data/text_task.h"
#include "common/data/token_cache.h"
#include "common/data/trial_data.h"
#include "common/file_io.h"
#include "common/tokenize/gpt2_bpe.h"
#include "common/tokenize/word_tokenizer.h"
#include "common/user_error.h"

namespace revsweep {
namespace fs = std::filesystem;

namespace {

constexpr int kUnk = 0, kBos = 1, kEos = 2, kPad = 3;

// Adds every character (UTF-8 sequence) of `text` to `chars`.
void AddChars(const std::string& text, std::unordered_set<std::string>* chars) {
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const size_t n = c < 0x80           ? 1
                     : (c >> 5) == 0x6  ? 2
                     : (c >> 4) == 0xE  ? 3
                     : (c >> 3) == 0x1E ? 4
                                        : 1;
    chars->insert(text.substr(i, n));
    i += n;
  }
}

// Whether some text the task encodes (its evaluation prompts, targets and likelihood names)
// has a character the tokenizer's corpus lacks. Only then does the tokenizer need byte
// fallback: with character_coverage 1.0 every corpus character has a piece of its own.
bool NeedsByteFallback(const TextTask& task, const std::string& corpus) {
  std::unordered_set<std::string> seen;
  AddChars(corpus, &seen);
  std::unordered_set<std::string> more;
  for (const auto* sets : {&task.evals, &task.chance})
    for (const EvalSet& s : *sets)
      for (const EvalItem& it : s.items) {
        AddChars(it.prompt, &more);
        AddChars(it.target, &more);
      }
  for (const LikelihoodItem& l : task.likelihood)
    for (const std::string* t : {&l.prompt, &l.correct, &l.random, &l.random_person})
      AddChars(*t, &more);
  for (const std::string& c : more)
    if (!seen.count(c)) return true;
  return false;
}

// Trains a sentencepiece model on the training documents unless one with the same content
// hash exists. Returns the model path.
//
// The vocabulary budget (tokenizer.vocab_size) goes to learned pieces: byte fallback, which
// adds 256 byte pieces, is on only when an evaluation text has a character the corpus lacks,
// and then the 256 come on top of the budget (with vocab_size 600 they used to leave 344
// pieces, and a name came out as ~9 pieces).
std::string TrainOrReuseTokenizer(const TextTask& task, const TokenizerOptions& opt,
                                  const std::string& cache_dir, bool* reused) {
  // The dataset's own documents only: every mitigation arm of a dataset shares one tokenizer.
  std::string corpus;
  for (size_t i = 0; i < task.base_train_docs; ++i) {
    corpus += task.train[i].prompt + task.train[i].completion + "\n";
  }
  const bool byte_fallback = NeedsByteFallback(task, corpus);
  const int spm_vocab = opt.vocab_size + (byte_fallback ? 256 : 0);
  std::string key = opt.type + ":" + std::to_string(opt.vocab_size) + ":" + kDataCacheVersion +
                    (byte_fallback ? ":bytes:" : ":") + corpus;
  std::string dir = cache_dir + "/tok-" + Hex64(Fnv1a64(key.data(), key.size()));
  std::string model = dir + "/spm.model";
  *reused = fs::exists(model);
  if (*reused) return model;
  fs::create_directories(dir);
  std::string tmp_prefix = dir + "/spm.tmp" + std::to_string(getpid());
  std::string corpus_path = tmp_prefix + ".txt";
  WriteFileAtomic(corpus_path, corpus);
  // identity normalization and no dummy prefix: text round-trips exactly and a prompt's ids
  // followed by its completion's ids equal the ids of the whole document.
  std::string args = "--input=" + corpus_path + " --model_prefix=" + tmp_prefix +
                     " --model_type=" + opt.type + " --vocab_size=" + std::to_string(spm_vocab) +
                     " --hard_vocab_limit=false --character_coverage=1.0 --byte_fallback=" +
                     (byte_fallback ? "true" : "false") +
                     " --normalization_rule_name=identity --add_dummy_prefix=false"
                     " --remove_extra_whitespaces=false --split_digits=true"
                     " --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=3 --num_threads=1"
                     " --minloglevel=2";
  // The trainer logs its whole command line to stderr whatever minloglevel says: silence it.
  fflush(stderr);
  int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
  if (devnull >= 0) dup2(devnull, 2);
  auto status = sentencepiece::SentencePieceTrainer::Train(args);
  fflush(stderr);
  if (saved >= 0) dup2(saved, 2);
  if (saved >= 0) close(saved);
  if (devnull >= 0) close(devnull);
  fs::remove(corpus_path);
  if (!status.ok()) {
    const std::string m = status.ToString();
    if (m.find("ocab") != std::string::npos)  // "Vocabulary size is smaller than required ..."
      throw UserError("", 0, 0, "tokenizer.vocab_size",
                      std::to_string(opt.vocab_size) + " does not fit this dataset: " + m);
    throw std::runtime_error("tokenizer training failed: " + m);
  }
  fs::rename(tmp_prefix + ".model", model);
  fs::remove(tmp_prefix + ".vocab");
  return model;
}

TokenIds Encode(const sentencepiece::SentencePieceProcessor& sp, const std::string& text) {
  std::vector<int> ids = sp.EncodeAsIds(text);
  return TokenIds(ids.begin(), ids.end());
}

}  // namespace

// Fills the sizes PrepareTrialData reports from a tokenized task.
static PreparedData FinishPrepared(const TokenizedTask& tok, const TrialConfig& trial,
                                   PreparedData out);

PreparedData PrepareTrialData(const TrialConfig& trial, const std::string& cache_dir) {
  PreparedData out;
  fs::create_directories(cache_dir);
  out.task_path = TaskCachePath(trial, cache_dir);
  TokenizedTask tok;
  if (fs::exists(out.task_path)) {
    try {
      tok = ReadTokenizedTask(out.task_path);
      out.task_cached = out.tokenizer_cached = true;
    } catch (const std::exception& e) {
      // A cache that fails its checksum is never trusted: rebuild it.
      fprintf(stderr, "warning: %s; rebuilding\n", e.what());
    }
  }
  if (!out.task_cached) {
    TextTask text = BuildTextTask(trial.dataset);
    std::function<TokenIds(const std::string&)> encode;
    sentencepiece::SentencePieceProcessor sp;
    std::optional<WordVocab> words;
    std::optional<Gpt2Bpe> bpe;
    tok.bos_id = kBos;
    tok.eos_id = kEos;
    tok.pad_id = kPad;
    if (trial.tokenizer.type == "gpt2") {
      // GPT-2's byte-level BPE (for fine-tuning GPT-2 checkpoints): <|endoftext|> is bos, eos
      // and pad; it has no training step, so the tokenizer "cache" is the encoder files.
      bpe.emplace(Gpt2Bpe::FromDir(trial.tokenizer.gpt2_dir));
      tok.bos_id = tok.eos_id = tok.pad_id = bpe->eos_id();
      tok.pieces = bpe->pieces();
      tok.decoder = "gpt2";
      out.tokenizer_cached = true;
      encode = [&](const std::string& t) { return bpe->Encode(t); };
    } else if (trial.tokenizer.type == "word") {
      std::vector<std::string> corpus;
      for (size_t i = 0; i < text.base_train_docs; ++i) {
        corpus.push_back(text.train[i].prompt + text.train[i].completion);
      }
      words.emplace(corpus, trial.tokenizer.vocab_size);
      out.distinct_words = words->distinct_pieces();
      tok.pieces = words->pieces();
      tok.decoder = "word";
      encode = [&](const std::string& t) { return words->Encode(t); };
    } else {
      const std::string model =
          TrainOrReuseTokenizer(text, trial.tokenizer, cache_dir, &out.tokenizer_cached);
      const auto st = sp.Load(model);
      if (!st.ok()) throw std::runtime_error(model + ": cannot load tokenizer: " + st.ToString());
      for (int i = 0; i < sp.GetPieceSize(); ++i) tok.pieces.push_back(sp.IdToPiece(i));
      tok.decoder = "sentencepiece";
      encode = [&](const std::string& t) { return Encode(sp, t); };
    }
    static_assert(WordVocab::kBos == kBos && WordVocab::kEos == kEos && WordVocab::kPad == kPad);
    tok.vocab_size = bpe ? bpe->vocab_size() : static_cast<int>(tok.pieces.size());
    tok.key = DataKey(trial);
    for (const TextDoc& d : text.train)
      tok.train.push_back({encode(d.prompt), encode(d.completion)});
    if (text.token_reverse) {
      // Reverse training by token (Golovneva et al. 2024): a reversed copy of every document,
      // for reverse_entity_token with each name's tokens kept whole, spelled as after a word
      // (" Ada Quill", the form the evaluation's targets have) wherever it stood.
      std::vector<std::vector<TokenIds>> forms;
      if (text.token_reverse_keeps_entities) {
        for (const std::string& e : text.entities) forms.push_back({encode(" " + e), encode(e)});
      }
      const TokenEntityReverser reverser(forms);
      size_t n = tok.train.size();
      for (size_t i = 0; i < n; ++i) {
        TokenIds all = tok.train[i].prompt;
        all.insert(all.end(), tok.train[i].completion.begin(), tok.train[i].completion.end());
        tok.train.push_back({{}, reverser.Reverse(all)});
      }
    }
    if (!text.entities.empty()) {
      size_t pieces = 0;
      for (const std::string& e : text.entities) pieces += encode(" " + e).size();
      tok.pieces_per_name = static_cast<double>(pieces) / static_cast<double>(text.entities.size());
    }
    auto convert = [&](const std::vector<EvalSet>& sets, std::vector<TokEvalSet>* dst) {
      for (const EvalSet& s : sets) {
        TokEvalSet ts;
        ts.cell = s.cell;
        for (const EvalItem& it : s.items)
          ts.items.push_back({encode(it.prompt), it.target, it.group});
        dst->push_back(std::move(ts));
      }
    };
    convert(text.evals, &tok.evals);
    convert(text.chance, &tok.chance);
    for (const LikelihoodItem& l : text.likelihood)
      tok.likelihood.push_back({encode(l.prompt), encode(l.correct), encode(l.random), l.group,
                                encode(l.random_person)});
    WriteTokenizedTask(out.task_path, tok);
  }
  return FinishPrepared(tok, trial, out);
}

static PreparedData FinishPrepared(const TokenizedTask& tok, const TrialConfig& trial,
                                   PreparedData out) {
  out.vocab_size = tok.vocab_size;
  out.pieces_per_name = tok.pieces_per_name;
  int longest = 0;
  for (const TokDoc& d : tok.train) {
    int n = static_cast<int>(d.prompt.size() + d.completion.size()) + 2;
    longest = std::max(longest, n);
    out.train_tokens += n;
  }
  int longest_eval = 0;
  for (const auto& s : tok.evals)
    for (const auto& it : s.items) longest_eval = std::max<int>(longest_eval, it.prompt.size() + 1);
  for (const auto& l : tok.likelihood)
    longest_eval = std::max<int>(
        longest_eval, l.prompt.size() + 1 +
                          std::max({l.correct.size(), l.random.size(), l.random_person.size()}));
  out.block_size = std::max(longest, longest_eval + trial.train.eval_max_new_tokens);
  out.train_docs = static_cast<int64_t>(tok.train.size());
  return out;
}

}  // namespace revsweep
