// Sweep configuration: YAML -> validated, typed structs, and expansion into trials.
// The full key reference is docs/CONFIG.md; the schema table in sweep_config.cc is the
// single source of truth for keys, types, defaults and ranges.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config/settings.h"
#include "common/user_error.h"

namespace revsweep {

// One schema entry: a dotted key under a trial section (dataset, tokenizer, model, train,
// resources) with its type, default and allowed range or values.
struct SchemaEntry {
  std::string key;  // "train.lr"
  enum Type { kBool, kInt, kDouble, kString } type;
  Value default_value;
  double min = 0, max = 0;           // inclusive numeric range when min < max
  std::vector<std::string> choices;  // allowed strings when non-empty
  std::string doc;                   // one line for --help and docs/CONFIG.md
  // A key added after stores existed: at its default it is left out of a trial's settings,
  // so the trial keeps the id (and stored settings) it had before the key existed.
  bool omit_at_default = false;
};
const std::vector<SchemaEntry>& TrialSchema();

// Model size presets (name -> n_layer, n_head, d_model).
struct ModelPreset {
  std::string name;
  int n_layer, n_head, d_model;
};
const std::vector<ModelPreset>& ModelPresets();

// Typed view of one trial's settings. Every field mirrors a schema key.
struct DatasetOptions {
  std::string kind;                    // exp1 | exp2 | exp3
  std::string source;                  // "generate" or a folder in the authors' format
  int names_per_subset;                // exp1: people per subset
  int train_templates;                 // exp1: paraphrase templates per direction used in training
  int test_templates;                  // exp1: held-out templates per direction (test prompts only)
  std::string descriptions = "plain";  // exp1 generator: plain | paraphrased
  int qa_pairs;                        // exp3: question-answer pairs
  int heldout_pairs;                   // exp3: pairs without training examples
  std::string instruction_order;       // exp3: question_first | answer_first
  int64_t seed;                        // generator seed
  std::string mitigation;              // none | both_orders | reverse_token | reverse_word |
                                       // reverse_entity | reverse_segment |
                                       // reverse_entity_token
  int segment_length;                  // reverse_segment: words per segment
};
struct TokenizerOptions {
  std::string type;      // bpe | unigram | word | gpt2
  int vocab_size;        // sentencepiece vocabulary size
  std::string gpt2_dir;  // folder with encoder.json + vocab.bpe (type gpt2)
};
struct ModelOptions {
  std::string size;  // preset name or "custom"
  int n_layer, n_head, d_model;
  int block_size;  // max tokens per document; 0 = longest document + 1
  double dropout;
  std::string init_from;  // "" | revsweep checkpoint | Hugging Face GPT-2 folder
};
struct TrainOptions {
  int epochs;
  int batch_size;  // global batch (split over the group's ranks)
  double lr, min_lr;
  int warmup_steps;
  double weight_decay, beta1, beta2, grad_clip;
  std::string loss_on;  // all | completion
  int64_t seed;
  std::string precision;            // fp32 | bf16 (CUDA only)
  int checkpoint_every_steps;       // 0 = off
  double checkpoint_every_seconds;  // 0 = off
  int eval_max_new_tokens;          // greedy decoding budget
  int fault_nan_at_step;            // test-only: inject a NaN loss at this step (0 = off)
  int fault_nan_attempts;           // ...during this many attempts (then train normally)
  std::string fault_pause_dir;      // test-only: pause controls (worker/fault_pause.h); "" = off
};
struct ResourceOptions {
  int group_size;      // ranks that train one trial together
  int group_size_max;  // moldable up to this many ranks; 0 = group_size (rigid)
  int threads;         // intra-op threads per rank
};

struct TrialConfig {
  std::string id;     // TrialId(settings)
  Settings settings;  // flat, all keys with defaults filled in
  DatasetOptions dataset;
  TokenizerOptions tokenizer;
  ModelOptions model;
  TrainOptions train;
  ResourceOptions resources;
};
// Builds the typed view; its settings lose the keys that are omitted at their default
// (SchemaEntry::omit_at_default), which may also be absent from `settings`. REQUIRES:
// settings validated (every other schema key present).
TrialConfig MakeTrialConfig(const Settings& settings);

// Sweep-level settings that are not part of any trial.
struct RunOptions {
  std::string store;               // default runs/revsweep.db
  std::string run_root;            // default runs/  (run dir is <run_root>/<sweep name>)
  int retries_crash;               // default 2
  int retries_timeout;             // default 1
  double trial_timeout_s;          // 0 = none
  double heartbeat_timeout_s;      // default 120: a silent rank fails its group
  std::string status_bind;         // default 127.0.0.1
  int status_port;                 // 0 = chosen by the OS
  double progress_every_s;         // default 2
  double bucket_mb;                // gradient bucket size, default 4
  double regroup_min_remaining_s;  // default 30: a moldable trial this far from done grows
};

struct SweepConfig {
  std::string name;
  std::string description;
  std::string file;  // path it was loaded from
  std::string yaml;  // verbatim text (frozen into the store and run dir)
  RunOptions run;
  std::vector<TrialConfig> trials;  // expanded, in a deterministic order
};

// Loads, validates and expands. Throws UserError naming file:line:column and key path on:
// unknown key, wrong type, out-of-range value, empty axis, zip lists of unequal length,
// duplicate trial, missing name, unknown preset. Pure: touches nothing but the file.
SweepConfig LoadSweepConfig(const std::string& path);
SweepConfig ParseSweepConfig(const std::string& yaml_text, const std::string& file_name);

// Upper bound on the trials one config may expand to. A sweep this large is almost certainly a
// mistake (a grid axis with a typo'd range), and every trial costs a training run; the bound
// also keeps expansion of hostile input cheap.
constexpr int64_t kMaxSweepTrials = 10000;

// Sweep names are [A-Za-z0-9_.-]{1,64} so they are safe as folder names.
bool IsValidSweepName(const std::string& name);

}  // namespace revsweep
