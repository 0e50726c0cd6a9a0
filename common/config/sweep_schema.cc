// The schema tables: every trial key, every `run:` key and the model presets. Everything else
// (validation, docs/CONFIG.md, --help) derives from these tables.
#include <algorithm>
#include <string>
#include <vector>

#include "common/config/sweep_config.h"
#include "common/config/sweep_internal.h"

namespace revsweep {
namespace {

SchemaEntry Entry(std::string key, SchemaEntry::Type type, Value def, double min, double max,
                  std::vector<std::string> choices, std::string doc) {
  SchemaEntry e;
  e.key = std::move(key);
  e.type = type;
  e.default_value = std::move(def);
  e.min = min;
  e.max = max;
  e.choices = std::move(choices);
  e.doc = std::move(doc);
  return e;
}

SchemaEntry Int(std::string key, int64_t def, double min, double max, std::string doc) {
  return Entry(std::move(key), SchemaEntry::kInt, Value(def), min, max, {}, std::move(doc));
}

SchemaEntry Dbl(std::string key, double def, double min, double max, std::string doc) {
  return Entry(std::move(key), SchemaEntry::kDouble, Value(def), min, max, {}, std::move(doc));
}

SchemaEntry Str(std::string key, std::string def, std::vector<std::string> choices,
                std::string doc) {
  return Entry(std::move(key), SchemaEntry::kString, Value(std::move(def)), 0, 0,
               std::move(choices), std::move(doc));
}

SchemaEntry OmitAtDefault(SchemaEntry e) {
  e.omit_at_default = true;
  return e;
}

std::vector<std::string> ModelSizeChoices() {
  std::vector<std::string> out;
  for (const auto& p : ModelPresets()) out.push_back(p.name);
  out.push_back("custom");
  return out;
}

std::vector<SchemaEntry> BuildTrialSchema() {
  constexpr double kInt32Max = 2147483647;
  constexpr double kBillion = 1000000000;
  // The model.n_layer/n_head/d_model defaults are the "tiny" preset, the default size; the
  // loader overwrites them from whichever preset a trial uses.
  const ModelPreset& tiny = *sweep_internal::FindModelPreset("tiny");
  return {
      Str("dataset.kind", "exp1", {"exp1", "exp2", "exp3"},
          "experiment: exp1 (names and descriptions), exp2 (real celebrities' parents: "
          "evaluation of a pretrained model) or exp3 (question answering)"),
      Str("dataset.source", "generate", {},
          "\"generate\", or a folder in the authors' format (exp2: their "
          "parent_child_pairs.csv), relative to the config file"),
      Int("dataset.names_per_subset", 30, 1, 100000, "exp1: people per subset"),
      Int("dataset.train_templates", 30, 1, 1000,
          "exp1: paraphrase templates per direction used in training"),
      Int("dataset.test_templates", 10, 1, 1000,
          "exp1: held-out templates per direction (test prompts only)"),
      OmitAtDefault(Str("dataset.descriptions", "plain", {"plain", "paraphrased"},
                        "exp1 generator: one wording per description (plain), or several "
                        "wordings per person with made-up words no one else shares, as in the "
                        "authors' data (paraphrased; docs/DATA.md)")),
      Int("dataset.qa_pairs", 100, 2, 100000, "exp3: question-answer pairs"),
      Int("dataset.heldout_pairs", 20, 1, 100000,
          "exp3: pairs without training examples (must be < qa_pairs)"),
      Str("dataset.instruction_order", "question_first", {"question_first", "answer_first"},
          "exp3: which half of the instruction comes first"),
      Int("dataset.seed", 0, 0, kInt32Max, "dataset generator seed"),
      Str("dataset.mitigation", "none",
          {"none", "both_orders", "reverse_token", "reverse_word", "reverse_entity",
           "reverse_segment", "reverse_entity_token"},
          "reversal mitigation applied to training documents"),
      Int("dataset.segment_length", 3, 1, 64, "reverse_segment: words per segment"),

      Str("tokenizer.type", "bpe", {"bpe", "unigram", "word", "gpt2"},
          "sentencepiece bpe/unigram trained on the dataset, one token per word, or the GPT-2 "
          "vocabulary"),
      Int("tokenizer.vocab_size", 1000, 64, 1000000,
          "sentencepiece vocabulary size; for word, the most pieces kept (rarer ones are <unk>)"),
      Str("tokenizer.gpt2_dir", "", {},
          "folder with encoder.json + vocab.bpe (required for type gpt2)"),

      Str("model.size", "tiny", ModelSizeChoices(),
          "preset that sets n_layer, n_head and d_model, or custom"),
      Int("model.n_layer", tiny.n_layer, 1, 128, "transformer blocks (size: custom only)"),
      Int("model.n_head", tiny.n_head, 1, 128, "attention heads (size: custom only)"),
      Int("model.d_model", tiny.d_model, 8, 16384,
          "embedding width, a multiple of n_head (size: custom only)"),
      Int("model.block_size", 0, 0, 8192, "max tokens per document; 0 = longest document + 1"),
      Dbl("model.dropout", 0.0, 0, 0.9, "dropout probability"),
      Str("model.init_from", "", {}, "\"\", a revsweep checkpoint, or a Hugging Face GPT-2 folder"),

      Int("train.epochs", 20, 0, 100000,
          "passes over the training documents (0: evaluate the initial model only)"),
      Int("train.batch_size", 32, 1, 65536, "global batch, a multiple of resources.group_size"),
      Dbl("train.lr", 1e-3, 1e-12, 10, "peak learning rate (AdamW)"),
      Dbl("train.min_lr", 1e-4, 0, 10, "final learning rate of the cosine decay (<= lr)"),
      Int("train.warmup_steps", 100, 0, kBillion, "linear warmup steps"),
      Dbl("train.weight_decay", 0.1, 0, 10, "AdamW weight decay"),
      Dbl("train.beta1", 0.9, 0, 0.999999, "AdamW beta1"),
      Dbl("train.beta2", 0.99, 0, 0.999999, "AdamW beta2"),
      Dbl("train.grad_clip", 1.0, 0, 1e6, "gradient norm clip; 0 = off"),
      Str("train.loss_on", "all", {"all", "completion"},
          "loss over the whole document or the completion only"),
      Int("train.seed", 0, 0, kInt32Max, "initialization and data order seed"),
      Str("train.precision", "fp32", {"fp32", "bf16"}, "fp32, or bf16 autocast (CUDA or CPU)"),
      Int("train.checkpoint_every_steps", 200, 0, kBillion, "checkpoint period; 0 = off"),
      Dbl("train.checkpoint_every_seconds", 60, 0, 1e9, "checkpoint period; 0 = off"),
      Int("train.eval_max_new_tokens", 64, 1, 512,
          "greedy decoding budget per prompt (rows stop once decided)"),
      Int("train.fault_nan_at_step", 0, 0, kBillion,
          "test only: inject a NaN loss at this step (0 = off)"),
      Int("train.fault_nan_attempts", 1, 0, 1000,
          "test only: inject the NaN during this many attempts"),
      Str("train.fault_pause_dir", "", {},
          "test only: a folder of pause controls checked after every step (docs/TESTING.md)"),

      Int("resources.group_size", 1, 1, 4096, "ranks that train one trial together"),
      Int("resources.threads", 1, 1, 256, "intra-op threads per rank"),
      Int("resources.group_size_max", 0, 0, 4096,
          "moldable: up to this many ranks when ranks would otherwise idle; 0 = group_size"),
  };
}

std::vector<SchemaEntry> BuildRunSchema() {
  return {
      Str("store", "runs/revsweep.db", {}, "SQLite result store"),
      Str("run_root", "runs", {}, "run directories are <run_root>/<sweep name>"),
      Int("retries_crash", 2, 0, 1000, "retries after a crashed trial"),
      Int("retries_timeout", 1, 0, 1000, "retries after a timed-out trial"),
      Dbl("trial_timeout_s", 0, 0, 1e9, "wall-clock limit per trial; 0 = none"),
      Dbl("heartbeat_timeout_s", 120, 1, 1e6,
          "a rank silent this long (stopped, dead, hung) fails its group and ends the job"),
      Str("status_bind", "127.0.0.1", {}, "address of the status HTTP server"),
      Int("status_port", 0, 0, 65535, "port of the status server; 0 = chosen by the OS"),
      Dbl("progress_every_s", 2, 0.1, 3600, "progress report period"),
      Dbl("bucket_mb", 4, 0.001, 4096, "gradient all-reduce bucket size in MiB"),
      Dbl("regroup_min_remaining_s", 30, 0, 1e9,
          "a moldable trial with this many seconds left moves to idle ranks; 0 = never"),
  };
}

}  // namespace

const std::vector<ModelPreset>& ModelPresets() {
  static const std::vector<ModelPreset> presets = {
      {"nano", 2, 2, 32},        {"micro", 2, 2, 64},           {"tiny", 4, 4, 128},
      {"small", 4, 4, 256},      {"medium", 6, 6, 384},         {"base", 8, 8, 512},
      {"gpt2", 12, 12, 768},     {"gpt2-medium", 24, 16, 1024}, {"gpt2-large", 36, 20, 1280},
      {"gpt2-xl", 48, 25, 1600},
  };
  return presets;
}

const std::vector<SchemaEntry>& TrialSchema() {
  static const std::vector<SchemaEntry> schema = BuildTrialSchema();
  return schema;
}

TrialConfig MakeTrialConfig(const Settings& s) {
  auto i32 = [&](const char* key) { return static_cast<int>(GetInt(s, key)); };
  TrialConfig t;
  t.settings = s;
  for (const SchemaEntry& e : TrialSchema()) {
    if (!e.omit_at_default) continue;
    auto it = t.settings.find(e.key);
    if (it != t.settings.end() && it->second == e.default_value) t.settings.erase(it);
  }
  t.id = TrialId(t.settings);
  const auto string_or_default = [&t](const char* key, const char* def) {
    auto it = t.settings.find(key);
    return it == t.settings.end() ? std::string(def) : std::get<std::string>(it->second);
  };
  DatasetOptions& d = t.dataset;
  d.kind = GetString(s, "dataset.kind");
  d.source = GetString(s, "dataset.source");
  d.names_per_subset = i32("dataset.names_per_subset");
  d.train_templates = i32("dataset.train_templates");
  d.test_templates = i32("dataset.test_templates");
  d.descriptions = string_or_default("dataset.descriptions", "plain");
  d.qa_pairs = i32("dataset.qa_pairs");
  d.heldout_pairs = i32("dataset.heldout_pairs");
  d.instruction_order = GetString(s, "dataset.instruction_order");
  d.seed = GetInt(s, "dataset.seed");
  d.mitigation = GetString(s, "dataset.mitigation");
  d.segment_length = i32("dataset.segment_length");
  TokenizerOptions& k = t.tokenizer;
  k.type = GetString(s, "tokenizer.type");
  k.vocab_size = i32("tokenizer.vocab_size");
  k.gpt2_dir = GetString(s, "tokenizer.gpt2_dir");
  ModelOptions& m = t.model;
  m.size = GetString(s, "model.size");
  m.n_layer = i32("model.n_layer");
  m.n_head = i32("model.n_head");
  m.d_model = i32("model.d_model");
  m.block_size = i32("model.block_size");
  m.dropout = GetDouble(s, "model.dropout");
  m.init_from = GetString(s, "model.init_from");
  TrainOptions& r = t.train;
  r.epochs = i32("train.epochs");
  r.batch_size = i32("train.batch_size");
  r.lr = GetDouble(s, "train.lr");
  r.min_lr = GetDouble(s, "train.min_lr");
  r.warmup_steps = i32("train.warmup_steps");
  r.weight_decay = GetDouble(s, "train.weight_decay");
  r.beta1 = GetDouble(s, "train.beta1");
  r.beta2 = GetDouble(s, "train.beta2");
  r.grad_clip = GetDouble(s, "train.grad_clip");
  r.loss_on = GetString(s, "train.loss_on");
  r.seed = GetInt(s, "train.seed");
  r.precision = GetString(s, "train.precision");
  r.checkpoint_every_steps = i32("train.checkpoint_every_steps");
  r.checkpoint_every_seconds = GetDouble(s, "train.checkpoint_every_seconds");
  r.eval_max_new_tokens = i32("train.eval_max_new_tokens");
  r.fault_nan_at_step = i32("train.fault_nan_at_step");
  r.fault_nan_attempts = i32("train.fault_nan_attempts");
  r.fault_pause_dir = GetString(s, "train.fault_pause_dir");
  t.resources.group_size = i32("resources.group_size");
  t.resources.group_size_max = i32("resources.group_size_max");
  t.resources.threads = i32("resources.threads");
  return t;
}

bool IsValidSweepName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  // "." and ".." are valid characters but would escape or alias the run root.
  if (name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

namespace sweep_internal {

const SchemaEntry* FindSchemaEntry(const std::string& key) {
  for (const auto& e : TrialSchema()) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

const ModelPreset* FindModelPreset(const std::string& name) {
  for (const auto& p : ModelPresets()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const std::vector<SchemaEntry>& RunSchema() {
  static const std::vector<SchemaEntry> schema = BuildRunSchema();
  return schema;
}

std::vector<std::string> SectionKeys(const std::string& section) {
  std::vector<std::string> out;
  const std::string prefix = section + ".";
  for (const auto& e : TrialSchema()) {
    if (e.key.rfind(prefix, 0) == 0) out.push_back(e.key.substr(prefix.size()));
  }
  return out;
}

std::vector<std::string> AllTrialKeys() {
  std::vector<std::string> out;
  for (const auto& e : TrialSchema()) out.push_back(e.key);
  return out;
}

}  // namespace sweep_internal
}  // namespace revsweep
