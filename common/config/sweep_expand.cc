// Expansion of the parsed axes into trials: grid x zip x random x seeds over the fixed
// sections, then model presets, cross-field checks and duplicate detection per trial.
#include <algorithm>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "common/config/sweep_internal.h"

namespace revsweep {
namespace sweep_internal {
namespace {

const char* const kModelDims[] = {"model.n_layer", "model.n_head", "model.d_model"};

int64_t SaturatingProduct(int64_t a, int64_t b) {
  const int64_t cap = kMaxSweepTrials + 1;
  return (a > cap / b) ? cap : std::min(a * b, cap);
}

std::string Count(int64_t n) {
  return n > kMaxSweepTrials ? "more than " + std::to_string(kMaxSweepTrials) : std::to_string(n);
}

std::vector<Row> GridRows(const std::vector<ListAxis>& axes, int64_t count) {
  std::vector<Row> rows;
  for (int64_t g = 0; g < count; ++g) {
    Row row(axes.size());
    int64_t rest = g;
    // The last key varies fastest, like nested loops written in file order.
    for (size_t a = axes.size(); a-- > 0;) {
      const int64_t n = static_cast<int64_t>(axes[a].values.size());
      const auto& [value, origin] = axes[a].values[static_cast<size_t>(rest % n)];
      row[a] = Assignment{axes[a].key, value, origin, rest % n};
      rest /= n;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<Row> ZipRows(const std::vector<ListAxis>& axes) {
  std::vector<Row> rows(axes[0].values.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    for (const auto& axis : axes) {
      rows[i].push_back(
          Assignment{axis.key, axis.values[i].first, axis.values[i].second, int64_t(i)});
    }
  }
  return rows;
}

std::string DescribeRow(const Row& row) {
  std::string s = "{";
  for (size_t i = 0; i < row.size(); ++i) {
    s += (i ? ", " : "") + row[i].key + "=" + Display(row[i].value);
  }
  return s + "}";
}

// Builds and checks one trial at a time; knows where each key was set for error messages.
class TrialChecker {
 public:
  TrialChecker(const Reporter& reporter, const std::map<std::string, FixedValue>& fixed)
      : reporter_(reporter), fixed_(fixed) {}

  Settings Build(const Settings& base, const Row& row) const {
    Settings s = base;
    for (const auto& a : row) s[a.key] = a.value;
    ApplyPreset(row, &s);
    CrossCheck(row, s);
    return s;
  }

 private:
  // Where the user gave `key` for this trial (an axis value beats the fixed section), or
  // nullptr when it is the schema default.
  const Origin* Explicit(const std::string& key, const Row& row) const {
    for (const auto& a : row) {
      if (a.key == key) return &a.origin;
    }
    auto it = fixed_.find(key);
    return it == fixed_.end() ? nullptr : &it->second.origin;
  }

  // The first of `keys` the user gave, so the error points at something they wrote.
  Origin Pick(const Row& row, std::initializer_list<const char*> keys) const {
    for (const char* k : keys) {
      if (const Origin* o = Explicit(k, row)) return *o;
    }
    return Origin{*keys.begin(), 0, 0};
  }

  [[noreturn]] void Fail(const Origin& origin, const Row& row, const std::string& msg) const {
    reporter_.Fail(origin, row.empty() ? msg : msg + " (in trial " + DescribeRow(row) + ")");
  }

  void ApplyPreset(const Row& row, Settings* s) const {
    const std::string& size = GetString(*s, "model.size");
    if (size == "custom") {
      std::string missing;
      for (const char* k : kModelDims) {
        if (Explicit(k, row) == nullptr) missing += (missing.empty() ? "" : ", ") + std::string(k);
      }
      if (!missing.empty()) {
        Fail(Pick(row, {"model.size"}), row,
             "model.size custom needs model.n_layer, model.n_head and model.d_model; missing " +
                 missing);
      }
      return;
    }
    const ModelPreset* preset = FindModelPreset(size);  // the schema's choices guarantee it
    for (const char* k : kModelDims) {
      if (const Origin* o = Explicit(k, row)) {
        Fail(*o, row,
             "model.size \"" + size +
                 "\" is a preset that sets n_layer, n_head and d_model; "
                 "set model.size: custom to give them yourself");
      }
    }
    (*s)["model.n_layer"] = int64_t{preset->n_layer};
    (*s)["model.n_head"] = int64_t{preset->n_head};
    (*s)["model.d_model"] = int64_t{preset->d_model};
  }

  void CrossCheck(const Row& row, const Settings& s) const {
    auto str = [&](const char* k) { return Display(s.at(k)); };
    if (GetInt(s, "model.d_model") % GetInt(s, "model.n_head") != 0) {
      Fail(Pick(row, {"model.n_head", "model.d_model"}), row,
           "model.d_model " + str("model.d_model") + " is not a multiple of model.n_head " +
               str("model.n_head"));
    }
    if (GetDouble(s, "train.min_lr") > GetDouble(s, "train.lr")) {
      Fail(Pick(row, {"train.min_lr", "train.lr"}), row,
           "train.min_lr " + str("train.min_lr") + " must be <= train.lr " + str("train.lr"));
    }
    if (GetString(s, "tokenizer.type") == "gpt2" && GetString(s, "tokenizer.gpt2_dir").empty()) {
      Fail(Pick(row, {"tokenizer.type"}), row,
           "tokenizer.type gpt2 needs tokenizer.gpt2_dir (the folder with encoder.json and "
           "vocab.bpe)");
    }
    if (GetString(s, "dataset.kind") == "exp2") {
      if (GetString(s, "tokenizer.type") != "gpt2") {
        Fail(Pick(row, {"tokenizer.type", "dataset.kind"}), row,
             "dataset.kind exp2 evaluates a pretrained model and has no training documents to "
             "learn a vocabulary from: it needs tokenizer.type gpt2 (docs/DATA.md, "
             "\"Experiment 2\")");
      }
      if (GetString(s, "dataset.source") == "generate") {
        Fail(Pick(row, {"dataset.source", "dataset.kind"}), row,
             "dataset.kind exp2 has no generator: set dataset.source to the authors' "
             "parent_child_pairs.csv (deploy/fetch-authors-data.sh)");
      }
    }
    if (GetInt(s, "train.batch_size") % GetInt(s, "resources.group_size") != 0) {
      Fail(Pick(row, {"resources.group_size", "train.batch_size"}), row,
           "train.batch_size " + str("train.batch_size") +
               " is not a multiple of resources.group_size " + str("resources.group_size"));
    }
    if (GetInt(s, "resources.group_size_max") != 0 &&
        GetInt(s, "resources.group_size_max") < GetInt(s, "resources.group_size")) {
      Fail(Pick(row, {"resources.group_size_max", "resources.group_size"}), row,
           "resources.group_size_max " + str("resources.group_size_max") +
               " is below resources.group_size " + str("resources.group_size") +
               " (0 = no molding)");
    }
    if (GetString(s, "dataset.descriptions") != "plain" &&
        (GetString(s, "dataset.kind") != "exp1" || GetString(s, "dataset.source") != "generate")) {
      Fail(Pick(row, {"dataset.descriptions", "dataset.source", "dataset.kind"}), row,
           "dataset.descriptions " + str("dataset.descriptions") +
               " is an option of the Experiment 1 generator: it needs dataset.kind exp1 and "
               "dataset.source generate (a folder's descriptions are worded as its files say)");
    }
    if (GetInt(s, "dataset.heldout_pairs") >= GetInt(s, "dataset.qa_pairs")) {
      Fail(Pick(row, {"dataset.heldout_pairs", "dataset.qa_pairs"}), row,
           "dataset.heldout_pairs " + str("dataset.heldout_pairs") +
               " must be < dataset.qa_pairs " + str("dataset.qa_pairs"));
    }
  }

  const Reporter& reporter_;
  const std::map<std::string, FixedValue>& fixed_;
};

// Two rows gave the same trial id: point at the first axis value where they part ways.
[[noreturn]] void FailDuplicate(const Reporter& reporter, const Row& first, const Row& second,
                                const Settings& first_settings, const Settings& second_settings,
                                const std::string& id) {
  size_t i = 0;
  while (i < second.size() && first[i].origin.path == second[i].origin.path &&
         first[i].index == second[i].index) {
    ++i;
  }
  const Origin at = i < second.size() ? second[i].origin : Origin{};
  std::string msg = "duplicate trial: ";
  if (i < second.size() && first[i].origin.path == second[i].origin.path) {
    msg += "random sample " + std::to_string(second[i].index) + " " + DescribeRow(second) +
           " is the same trial as sample " + std::to_string(first[i].index) + " " +
           DescribeRow(first) + " (id " + id + "); widen the space or draw fewer samples";
    reporter.Fail(at, msg);
  }
  msg += DescribeRow(second) + " is the same trial as " + DescribeRow(first) + " (id " + id + ")";
  if (CanonicalJson(first_settings) != CanonicalJson(second_settings)) {
    msg += "; their ids collide by chance: change any value slightly";
  } else {
    std::string differing;
    for (size_t k = 0; k < second.size(); ++k) {
      if (first[k].value != second[k].value) {
        differing += (differing.empty() ? "" : ", ") + second[k].key;
      }
    }
    msg += differing.empty() ? "; the same value is given twice"
                             : "; " + differing +
                                   " is not part of the trial id (it does not "
                                   "change what the trial computes)";
  }
  reporter.Fail(at, msg);
}

}  // namespace

std::vector<TrialConfig> ExpandTrials(const Reporter& reporter,
                                      const std::map<std::string, FixedValue>& fixed,
                                      const SearchSpec& search) {
  int64_t grid = 1;
  for (const auto& axis : search.grid) {
    grid = SaturatingProduct(grid, static_cast<int64_t>(axis.values.size()));
  }
  const int64_t zip = search.zip.empty() ? 1 : static_cast<int64_t>(search.zip[0].values.size());
  const int64_t random = search.has_random ? search.random.samples : 1;
  const int64_t seeds = search.has_seeds ? static_cast<int64_t>(search.seeds.values.size()) : 1;
  const int64_t total =
      SaturatingProduct(SaturatingProduct(SaturatingProduct(grid, zip), random), seeds);
  if (total > kMaxSweepTrials) {
    const Origin& where = search.origin.line > 0 ? search.origin : search.seeds.origin;
    reporter.Fail(where, "the sweep expands to " + Count(total) + " trials (grid " + Count(grid) +
                             " x zip " + Count(zip) + " x random " + Count(random) + " x seeds " +
                             Count(seeds) + "), more than the limit of " +
                             std::to_string(kMaxSweepTrials) + "; split it into smaller sweeps");
  }

  const std::vector<Row> empty(1);
  const std::vector<Row> grid_rows = search.grid.empty() ? empty : GridRows(search.grid, grid);
  const std::vector<Row> zip_rows = search.zip.empty() ? empty : ZipRows(search.zip);
  const std::vector<Row> random_rows = search.has_random ? SampleRandom(search.random) : empty;
  const std::vector<Row> seed_rows =
      search.has_seeds ? ZipRows({search.seeds}) : empty;  // one axis zips to itself

  Settings base;
  for (const auto& e : TrialSchema()) base[e.key] = e.default_value;
  for (const auto& [key, fv] : fixed) base[key] = fv.value;

  const TrialChecker checker(reporter, fixed);
  std::vector<TrialConfig> trials;
  std::vector<Row> rows;
  std::map<std::string, size_t> by_id;
  trials.reserve(static_cast<size_t>(total));
  for (const Row& g : grid_rows) {
    for (const Row& z : zip_rows) {
      for (const Row& r : random_rows) {
        for (const Row& sd : seed_rows) {
          Row row = g;
          row.insert(row.end(), z.begin(), z.end());
          row.insert(row.end(), r.begin(), r.end());
          row.insert(row.end(), sd.begin(), sd.end());
          TrialConfig trial = MakeTrialConfig(checker.Build(base, row));
          auto [it, inserted] = by_id.emplace(trial.id, trials.size());
          if (!inserted) {
            FailDuplicate(reporter, rows[it->second], row, trials[it->second].settings,
                          trial.settings, trial.id);
          }
          rows.push_back(std::move(row));
          trials.push_back(std::move(trial));
        }
      }
    }
  }
  return trials;
}

}  // namespace sweep_internal
}  // namespace revsweep
