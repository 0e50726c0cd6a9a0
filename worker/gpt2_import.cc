#include "worker/gpt2_import.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/text_util.h"
#include "common/user_error.h"
#include "worker/safetensors.h"

namespace revsweep {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kPrefix = "transformer.";

// GPT-2's Conv1D modules store weight as (in, out); torch::nn::Linear as (out, in).
bool IsConv1DWeight(const std::string& name) {
  return EndsWith(name, ".attn.c_attn.weight") || EndsWith(name, ".attn.c_proj.weight") ||
         EndsWith(name, ".mlp.c_fc.weight") || EndsWith(name, ".mlp.c_proj.weight");
}

// Buffers a GPT-2 file may carry that are not parameters: the causal mask and its fill value.
bool IsSkippedBuffer(const std::string& name) {
  return EndsWith(name, ".attn.bias") || EndsWith(name, ".attn.masked_bias");
}

std::string ConfigPath(const std::string& dir) { return (fs::path(dir) / "config.json").string(); }

// A required positive integer field of config.json.
int64_t PositiveInt(const json& cfg, const std::string& path, const std::string& key) {
  auto it = cfg.find(key);
  if (it == cfg.end() || !it->is_number_unsigned() || it->get<int64_t>() <= 0)
    throw UserError(path, 0, 0, key, "missing or not a positive integer");
  return it->get<int64_t>();
}

}  // namespace

bool IsGpt2CheckpointDir(const std::string& dir) {
  std::error_code ec;
  const fs::path d(dir);
  return fs::is_regular_file(d / "config.json", ec) &&
         (fs::exists(d / "model.safetensors", ec) ||
          fs::exists(d / "model.safetensors.index.json", ec));
}

GPTConfig ReadGpt2Config(const std::string& dir) {
  const std::string path = ConfigPath(dir);
  std::ifstream in(path);
  if (!in)
    throw UserError(path, 0, 0, "",
                    "cannot open (a Hugging Face GPT-2 folder has config.json next to "
                    "model.safetensors)");
  json cfg;
  try {
    cfg = json::parse(in);
  } catch (const json::parse_error& e) {
    throw UserError(path, 0, 0, "",
                    "not valid JSON (error at byte " + std::to_string(e.byte) + ")");
  }
  if (!cfg.is_object()) throw UserError(path, 0, 0, "", "not a JSON object");

  if (cfg.contains("model_type") &&
      !(cfg["model_type"].is_string() && cfg["model_type"].get<std::string>() == "gpt2"))
    throw UserError(path, 0, 0, "model_type",
                    "is " + cfg["model_type"].dump() + "; only GPT-2 (\"gpt2\") checkpoints load");

  GPTConfig c;
  c.n_layer = PositiveInt(cfg, path, "n_layer");
  c.n_head = PositiveInt(cfg, path, "n_head");
  c.d_model = PositiveInt(cfg, path, "n_embd");
  c.vocab_size = PositiveInt(cfg, path, "vocab_size");
  c.block_size = cfg.contains("n_positions") ? PositiveInt(cfg, path, "n_positions")
                                             : PositiveInt(cfg, path, "n_ctx");
  c.dropout = 0.0;
  if (c.d_model % c.n_head != 0)
    throw UserError(
        path, 0, 0, "n_head",
        std::to_string(c.n_head) + " does not divide n_embd " + std::to_string(c.d_model));

  if (cfg.contains("layer_norm_epsilon")) {
    const json& eps = cfg["layer_norm_epsilon"];
    if (!eps.is_number() || std::abs(eps.get<double>() - 1e-5) > 1e-12)
      throw UserError(path, 0, 0, "layer_norm_epsilon",
                      "is " + eps.dump() + "; revsweep's GPT uses LayerNorm eps 1e-5 (GPT-2's)");
  }
  if (cfg.contains("activation_function")) {
    const json& act = cfg["activation_function"];
    const std::string a = act.is_string() ? act.get<std::string>() : act.dump();
    if (a != "gelu_new" && a != "gelu_pytorch_tanh")
      throw UserError(path, 0, 0, "activation_function",
                      "is \"" + a +
                          "\"; revsweep's GPT uses GELU's tanh approximation "
                          "(\"gelu_new\", GPT-2's)");
  }
  if (cfg.contains("n_inner") && !cfg["n_inner"].is_null()) {
    const json& n = cfg["n_inner"];
    if (!n.is_number_integer() || n.get<int64_t>() != 4 * c.d_model)
      throw UserError(path, 0, 0, "n_inner",
                      "is " + n.dump() + "; revsweep's GPT has an MLP of 4 * n_embd = " +
                          std::to_string(4 * c.d_model));
  }
  auto flag = [&](const char* key, bool want) {
    if (cfg.contains(key) && cfg[key].is_boolean() && cfg[key].get<bool>() != want)
      throw UserError(path, 0, 0, key,
                      std::string("is ") + (want ? "false" : "true") +
                          "; revsweep's GPT supports only GPT-2's default (" +
                          (want ? "true" : "false") + ")");
  };
  flag("scale_attn_weights", true);
  flag("scale_attn_by_inverse_layer_idx", false);
  flag("add_cross_attention", false);
  return c;
}

void LoadGpt2Weights(GPT& model, const std::string& dir) {
  const GPTConfig ck = ReadGpt2Config(dir);
  const GPTConfig& mc = model->config();
  const std::string cfg_path = ConfigPath(dir);
  auto same = [&](const char* key, int64_t file_value, int64_t model_value) {
    if (file_value != model_value)
      throw UserError(cfg_path, 0, 0, key,
                      "checkpoint has " + std::to_string(file_value) + ", the model " +
                          std::to_string(model_value) +
                          " (the model's shape must be the checkpoint's)");
  };
  same("n_layer", ck.n_layer, mc.n_layer);
  same("n_head", ck.n_head, mc.n_head);
  same("n_embd", ck.d_model, mc.d_model);
  same("vocab_size", ck.vocab_size, mc.vocab_size);
  if (mc.block_size > ck.block_size)
    throw UserError(cfg_path, 0, 0, "n_positions",
                    "checkpoint has " + std::to_string(ck.block_size) +
                        " positions, fewer than the model's block_size " +
                        std::to_string(mc.block_size));

  const SafetensorsCheckpoint ckpt = SafetensorsCheckpoint::OpenDir(dir);

  // Our parameter name -> the file's name; the tied lm_head's file name, if any.
  auto params = model->named_parameters(/*recurse=*/true);
  std::map<std::string, std::string> file_name;
  std::string lm_head;
  for (const std::string& name : ckpt.Names()) {
    const bool prefixed = name.rfind(kPrefix, 0) == 0;
    const std::string ours = prefixed ? name.substr(std::string(kPrefix).size()) : name;
    const std::string& file = ckpt.FileOf(name).path();
    if (IsSkippedBuffer(ours)) continue;
    if (ours == "lm_head.weight") {
      lm_head = name;
      continue;
    }
    if (!params.contains(ours))
      throw UserError(file, 0, 0, name,
                      "unexpected tensor: not a parameter of GPT-2 (is this a GPT-2 checkpoint?)");
    auto [it, fresh] = file_name.emplace(ours, name);
    if (!fresh)
      throw UserError(file, 0, 0, name, "duplicate of " + it->second + " (same parameter)");
  }

  // Everything the headers can tell, before any weight is touched.
  struct Plan {
    std::string file_name;
    std::vector<int64_t> shape;  // as stored in the file
    bool transpose = false;
    int64_t rows = -1;  // wpe: rows to keep
  };
  std::map<std::string, Plan> plan;
  for (const auto& p : params) {
    const std::string& ours = p.key();
    auto fit = file_name.find(ours);
    if (fit == file_name.end())
      throw UserError(ckpt.path(), 0, 0, ours, "missing tensor (a parameter of the model)");
    Plan pl;
    pl.file_name = fit->second;
    pl.shape = p.value().sizes().vec();
    std::string layout;
    if (IsConv1DWeight(ours)) {
      std::swap(pl.shape[0], pl.shape[1]);
      pl.transpose = true;
      layout = " (Conv1D, in x out)";
    } else if (ours == "wpe.weight") {
      pl.shape[0] = ck.block_size;
      pl.rows = mc.block_size;
      layout = " (n_positions x n_embd)";
    }
    const SafetensorsFile& f = ckpt.FileOf(pl.file_name);
    const SafetensorsEntry& e = f.Entry(pl.file_name);
    if (e.shape != pl.shape)
      throw UserError(f.path(), 0, 0, pl.file_name,
                      "expected shape " + SafetensorsShapeString(pl.shape) + layout + ", got " +
                          SafetensorsShapeString(e.shape));
    if (e.dtype != "F32" && e.dtype != "F16" && e.dtype != "BF16")
      throw UserError(f.path(), 0, 0, pl.file_name,
                      "unsupported dtype " + e.dtype + " (a weight must be F32, F16 or BF16)");
    plan.emplace(ours, std::move(pl));
  }
  if (!lm_head.empty()) {
    const SafetensorsFile& f = ckpt.FileOf(lm_head);
    const std::vector<int64_t> want = {ck.vocab_size, ck.d_model};
    torch::Tensor head = f.Get(lm_head, want);
    torch::Tensor wte = ckpt.Get(plan.at("wte.weight").file_name);
    if (!torch::equal(head, wte))
      throw UserError(f.path(), 0, 0, lm_head,
                      "differs from wte.weight: revsweep's GPT ties its output embedding to the "
                      "input embedding, so untied checkpoints cannot be loaded");
  }

  torch::NoGradGuard no_grad;
  for (auto& p : params) {
    const Plan& pl = plan.at(p.key());
    const SafetensorsFile& f = ckpt.FileOf(pl.file_name);
    torch::Tensor t = f.Get(pl.file_name);  // float32, CPU
    if (!torch::isfinite(t).all().item<bool>())
      throw UserError(f.path(), 0, 0, pl.file_name, "holds NaN or Inf values");
    if (pl.transpose) t = t.t();
    if (pl.rows >= 0) t = t.narrow(0, 0, pl.rows);
    p.value().copy_(t);
  }
}

GPT LoadGpt2Model(const std::string& dir, int64_t block_size, double dropout) {
  GPTConfig c = ReadGpt2Config(dir);
  if (block_size > c.block_size)
    throw UserError(ConfigPath(dir), 0, 0, "n_positions",
                    "checkpoint has " + std::to_string(c.block_size) +
                        " positions, fewer than the requested block_size " +
                        std::to_string(block_size));
  if (block_size > 0) c.block_size = block_size;
  c.dropout = dropout;
  GPT model(c);
  LoadGpt2Weights(model, dir);
  return model;
}

}  // namespace revsweep
