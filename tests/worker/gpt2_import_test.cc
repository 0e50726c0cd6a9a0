// Loading Hugging Face GPT-2 checkpoints into our GPT, against an independent reference:
// tests/tools/gpt2_reference.py (Debian's /usr/bin/python3 with torch) writes a small random
// GPT-2 in the Hub's format (safetensors written by hand, Conv1D layout, config.json) and the
// logits of a plain-PyTorch GPT-2 forward; our GPT must reproduce them. Skipped, visibly,
// when /usr/bin/python3 has no torch.
#include "worker/gpt2_import.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/user_error.h"
#include "tests/lib/temp_dir.h"
#include "worker/safetensors.h"

namespace revsweep {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const char* const kPython = "/usr/bin/python3";
const char* const kScript = REVSWEEP_SRC_DIR "/tests/tools/gpt2_reference.py";

bool PythonHasTorch() {
  static const bool has =
      std::system((std::string(kPython) + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0;
  return has;
}

class Gpt2ImportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = std::make_unique<testutil::TempDir>("revsweep_gpt2_import");
    base_ = tmp_->path();
  }
  static void TearDownTestSuite() { tmp_.reset(); }

  void SetUp() override {
    // Fixtures an earlier process wrote need no Python.
    if (!fs::exists(FixturesDir() / "complete") && !PythonHasTorch())
      GTEST_SKIP() << kPython << " cannot import torch (Debian: apt-get install python3-torch); "
                   << "the GPT-2 import tests need it to write reference checkpoints";
    torch::manual_seed(0);
  }

  // Where gpt2_reference.py's `write-all` output lives: the build tree, in a folder named
  // after the script's content, so test processes reuse what an earlier one wrote.
  static fs::path FixturesDir() {
    std::ifstream in(kScript, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : ss.str()) h = (h ^ c) * 1099511628211ull;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    return fs::path(REVSWEEP_BIN_DIR) / ".." / "test-fixtures" /
           (std::string("gpt2_import-") + hex);
  }

  // The checkpoint variant `name` (gpt2_reference.py's VARIANTS). All variants are written by
  // one `write-all` run; the folder appears whole, by rename.
  static std::string Checkpoint(const std::string& name) {
    static const std::string fixtures = [] {
      const fs::path dir = FixturesDir();
      if (fs::exists(dir / "complete")) return dir.string();
      const fs::path tmp = dir.string() + ".tmp." + std::to_string(::getpid());
      fs::remove_all(tmp);
      const std::string cmd =
          std::string(kPython) + " '" + kScript + "' write-all '" + tmp.string() + "' 2>&1";
      EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
      std::ofstream(tmp / "complete") << "ok\n";
      std::error_code ec;
      fs::rename(tmp, dir, ec);  // fails when another process got there first: use theirs
      fs::remove_all(tmp, ec);
      return dir.string();
    }();
    return fixtures + "/" + name;
  }

  // A copy of checkpoint `from` (for tests that damage it).
  static std::string CopyOf(const std::string& from, const std::string& name) {
    const std::string dir = (base_ / name).string();
    fs::remove_all(dir);
    fs::copy(Checkpoint(from), dir, fs::copy_options::recursive);
    return dir;
  }

  // The reference's token ids (B, T) and logits (B, T, V).
  static std::pair<torch::Tensor, torch::Tensor> Reference(const std::string& dir) {
    std::ifstream in(dir + "/reference.json");
    const json ref = json::parse(in);
    std::vector<int64_t> ids;
    for (const auto& row : ref["tokens"])
      for (const auto& id : row) ids.push_back(id.get<int64_t>());
    const int64_t B = ref["tokens"].size();
    torch::Tensor tokens = torch::tensor(ids, torch::kLong).view({B, -1});  // (B, T)
    const auto shape = ref["logits_shape"].get<std::vector<int64_t>>();
    torch::Tensor logits = torch::empty(shape, torch::kFloat32);  // (B, T, V)
    std::ifstream lf(dir + "/reference_logits.f32", std::ios::binary);
    lf.read(static_cast<char*>(logits.data_ptr()), logits.numel() * 4);
    EXPECT_TRUE(lf.good()) << "short reference_logits.f32 in " << dir;
    return {tokens, logits};
  }

  static float MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
    return (a - b).abs().max().item<float>();
  }

  static inline std::unique_ptr<testutil::TempDir> tmp_;
  static inline fs::path base_;
};

// The UserError LoadGpt2Model throws for `dir`.
std::string LoadError(const std::string& dir, int64_t block_size = 0) {
  try {
    LoadGpt2Model(dir, block_size);
  } catch (const UserError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST_F(Gpt2ImportTest, ReadsTheConfig) {
  const std::string dir = Checkpoint("f32");
  EXPECT_TRUE(IsGpt2CheckpointDir(dir));
  EXPECT_FALSE(IsGpt2CheckpointDir(base_.string()));
  const GPTConfig c = ReadGpt2Config(dir);
  EXPECT_EQ(c.n_layer, 2);
  EXPECT_EQ(c.n_head, 2);
  EXPECT_EQ(c.d_model, 64);
  EXPECT_EQ(c.vocab_size, 300);
  EXPECT_EQ(c.block_size, 32);
  EXPECT_EQ(c.dropout, 0.0);
}

TEST_F(Gpt2ImportTest, LogitsMatchTheReferenceForward) {
  for (const char* variant : {"f32", "noprefix"}) {
    SCOPED_TRACE(variant);
    const std::string dir = Checkpoint(variant);
    auto [tokens, want] = Reference(dir);
    GPT model = LoadGpt2Model(dir);
    model->eval();
    torch::NoGradGuard no_grad;
    torch::Tensor got = model->forward(tokens);  // (B, T, V)
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_LT(MaxAbsDiff(got, want), 1e-4);
    EXPECT_GT(want.abs().max().item<float>(), 1.0f);  // not a vacuous comparison
  }
}

TEST_F(Gpt2ImportTest, ShorterBlockSizeKeepsTheFirstPositions) {
  const std::string dir = Checkpoint("f32");
  auto [tokens, want] = Reference(dir);
  GPT model = LoadGpt2Model(dir, /*block_size=*/16);
  EXPECT_EQ(model->wpe->weight.size(0), 16);
  model->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor got = model->forward(tokens.narrow(1, 0, 16));  // (B, 16, V)
  EXPECT_LT(MaxAbsDiff(got, want.narrow(1, 0, 16)), 1e-4);      // causal: a prefix's logits

  const std::string msg = LoadError(dir, 64);
  EXPECT_NE(msg.find("config.json: n_positions: checkpoint has 32 positions, fewer than the "
                     "requested block_size 64"),
            std::string::npos)
      << msg;
}

TEST_F(Gpt2ImportTest, ShardedCheckpointLoadsIdentically) {
  const std::string sharded = Checkpoint("sharded");
  ASSERT_TRUE(fs::exists(sharded + "/model.safetensors.index.json"));
  ASSERT_FALSE(fs::exists(sharded + "/model.safetensors"));
  GPT a = LoadGpt2Model(Checkpoint("f32"));
  GPT b = LoadGpt2Model(sharded);
  auto pa = a->named_parameters(), pb = b->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
}

TEST_F(Gpt2ImportTest, HalfAndBfloat16FilesLoad) {
  GPT full = LoadGpt2Model(Checkpoint("f32"));
  const auto full_params = full->named_parameters();
  // Spacing of representable values relative to |x|: 2^-10 (f16), 2^-7 (bf16).
  for (const auto& [variant, rel] :
       std::map<std::string, double>{{"f16", 1.0 / 1024}, {"bf16", 1.0 / 128}}) {
    SCOPED_TRACE(variant);
    const std::string dir = Checkpoint(variant);
    GPT model = LoadGpt2Model(dir);
    for (const auto& p : model->named_parameters()) {
      const torch::Tensor& want = full_params[p.key()];
      // Rounding to nearest: within half a unit in the last place, relative.
      const torch::Tensor err = (p.value() - want).abs() - (want.abs() * rel / 2 + 1e-7);
      EXPECT_LE(err.max().item<float>(), 0.0f) << p.key();
    }
    // The reference ran on the rounded weights, so the forward still matches closely.
    auto [tokens, want] = Reference(dir);
    model->eval();
    torch::NoGradGuard no_grad;
    EXPECT_LT(MaxAbsDiff(model->forward(tokens), want), 1e-4);
  }
}

TEST_F(Gpt2ImportTest, FineTuningLowersTheLoss) {
  const std::string dir = Checkpoint("f32");
  const torch::Tensor tokens = Reference(dir).first;
  GPT model = LoadGpt2Model(dir);
  model->train();
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-3));
  const torch::Tensor x = tokens.narrow(1, 0, tokens.size(1) - 1);  // (B, T-1)
  const torch::Tensor y = tokens.narrow(1, 1, tokens.size(1) - 1);  // (B, T-1)
  std::vector<float> losses;
  for (int step = 0; step < 8; ++step) {
    opt.zero_grad();
    torch::Tensor logits = model->forward(x);  // (B, T-1, V)
    torch::Tensor loss = torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}),
                                                              y.reshape({-1}));
    loss.backward();
    opt.step();
    losses.push_back(loss.item<float>());
  }
  for (size_t i = 1; i < losses.size(); ++i) EXPECT_LT(losses[i], losses[i - 1]) << "step " << i;
  EXPECT_LT(losses.back(), losses.front() - 0.5f);
}

TEST_F(Gpt2ImportTest, RejectsATruncatedFile) {
  const std::string dir = CopyOf("f32", "truncated");
  const std::string file = dir + "/model.safetensors";
  fs::resize_file(file, fs::file_size(file) - 100);
  const std::string msg = LoadError(dir);
  // The tensors are stored in name order, so the last one, wte, lost its tail.
  EXPECT_NE(msg.find(file + ": transformer.wte.weight: data_offsets"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

  fs::resize_file(file, 5);
  EXPECT_NE(LoadError(dir).find("truncated"), std::string::npos);
}

TEST_F(Gpt2ImportTest, RejectsAWrongShapeAndLeavesTheModelUntouched) {
  const std::string dir = Checkpoint("shape");
  GPT model(ReadGpt2Config(dir));
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : model->named_parameters()) before[p.key()] = p.value().clone();
  try {
    LoadGpt2Weights(model, dir);
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()),
              dir +
                  "/model.safetensors: transformer.h.1.attn.c_attn.weight: expected shape "
                  "[64, 192] (Conv1D, in x out), got [192, 64]");
    EXPECT_EQ(e.key(), "transformer.h.1.attn.c_attn.weight");
  }
  for (const auto& p : model->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), before[p.key()])) << p.key();
}

TEST_F(Gpt2ImportTest, RejectsBadCheckpointsNamingTheTensor) {
  struct Case {
    std::string corrupt, expect;
  };
  for (const Case& c : std::vector<Case>{
           {"missing", "model.safetensors: h.1.mlp.c_fc.bias: missing tensor"},
           {"dtype",
            "model.safetensors: transformer.h.0.ln_1.weight: unsupported dtype I32 (a weight "
            "must be F32, F16 or BF16)"},
           {"nan", "model.safetensors: transformer.h.0.mlp.c_fc.weight: holds NaN or Inf"},
           {"untied", "model.safetensors: lm_head.weight: differs from wte.weight"},
           {"extra", "model.safetensors: transformer.h.0.attn.rotary.weight: unexpected tensor"},
       }) {
    SCOPED_TRACE(c.corrupt);
    const std::string msg = LoadError(Checkpoint(c.corrupt));
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
  }
}

TEST_F(Gpt2ImportTest, RejectsConfigsOurGptCannotRepresent) {
  const std::string dir = CopyOf("f32", "config");
  std::ifstream in(dir + "/config.json");
  const json good = json::parse(in);
  struct Case {
    std::string key;
    json value;
    std::string expect;
  };
  for (const Case& c : std::vector<Case>{
           {"layer_norm_epsilon", 1e-6, "layer_norm_epsilon: is 1e-06; revsweep's GPT uses"},
           {"activation_function", "relu", "activation_function: is \"relu\""},
           {"n_inner", 100, "n_inner: is 100"},
           {"model_type", "gpt_neo", "model_type: is \"gpt_neo\""},
           {"scale_attn_by_inverse_layer_idx", true, "scale_attn_by_inverse_layer_idx: is true"},
           {"n_head", 3, "n_head: 3 does not divide n_embd 64"},
           {"n_layer", -2, "n_layer: missing or not a positive integer"},
           {"n_embd", nullptr, "n_embd: missing or not a positive integer"},
       }) {
    SCOPED_TRACE(c.key);
    json cfg = good;
    cfg[c.key] = c.value;
    std::ofstream(dir + "/config.json") << cfg.dump();
    const std::string msg = LoadError(dir);
    EXPECT_EQ(msg.rfind(dir + "/config.json: " + c.expect, 0), 0u) << msg;
  }
  std::ofstream(dir + "/config.json") << "{ not json";
  EXPECT_NE(LoadError(dir).find("config.json: not valid JSON"), std::string::npos);
  fs::remove(dir + "/config.json");
  EXPECT_NE(LoadError(dir).find("config.json: cannot open"), std::string::npos);
  EXPECT_NE(LoadError(base_.string() + "/nowhere").find("config.json: cannot open"),
            std::string::npos);
}

TEST_F(Gpt2ImportTest, RejectsAModelOfAnotherShape) {
  const std::string dir = Checkpoint("f32");
  GPTConfig c = ReadGpt2Config(dir);
  c.n_head = 4;  // same parameter shapes, different attention: caught from config.json
  GPT model(c);
  try {
    LoadGpt2Weights(model, dir);
    FAIL() << "no error";
  } catch (const UserError& e) {
    EXPECT_EQ(std::string(e.what()), dir +
                                         "/config.json: n_head: checkpoint has 2, the model 4 "
                                         "(the model's shape must be the checkpoint's)");
  }
}

TEST_F(Gpt2ImportTest, WeightsWrittenBackByOurWriterLoadAgain) {
  // Export (our writer, Conv1D layout, GPT2Model names) and re-import round-trips exactly.
  const std::string src = Checkpoint("f32");
  GPT model = LoadGpt2Model(src);
  const std::string dir = (base_ / "exported").string();
  fs::create_directories(dir);
  fs::copy_file(src + "/config.json", dir + "/config.json");
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : model->named_parameters()) {
    const std::string& n = p.key();
    const bool conv1d = n.find("c_attn.weight") != std::string::npos ||
                        n.find("c_proj.weight") != std::string::npos ||
                        n.find("c_fc.weight") != std::string::npos;
    out[n] = conv1d ? p.value().t() : p.value();
  }
  WriteSafetensors(dir + "/model.safetensors", out);
  GPT again = LoadGpt2Model(dir);
  for (const auto& p : again->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), model->named_parameters()[p.key()])) << p.key();
}

}  // namespace
}  // namespace revsweep
