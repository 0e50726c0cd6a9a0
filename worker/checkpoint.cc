#include "worker/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <vector>

#include "common/config/settings.h"
#include "common/file_io.h"
#include "common/user_error.h"

namespace revsweep {
namespace fs = std::filesystem;
namespace {

constexpr const char* kMagic = "RSCK1";

std::vector<std::pair<int64_t, std::string>> ListCheckpoints(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind("ckpt-", 0) != 0 || e.path().extension() != ".rsck") continue;
    try {
      out.emplace_back(std::stoll(name.substr(5, name.size() - 5 - 5)), e.path().string());
    } catch (...) {
    }
  }
  std::sort(out.rbegin(), out.rend());  // newest first
  return out;
}

std::string StepName(int64_t step) {
  char buf[32];
  snprintf(buf, sizeof(buf), "ckpt-%012lld.rsck", static_cast<long long>(step));
  return buf;
}

}  // namespace

std::optional<torch::Device> ParameterDevice(torch::nn::Module& model) {
  for (const auto& p : model.parameters()) return p.device();
  return std::nullopt;
}

void MoveOptimizerStateTo(torch::optim::Optimizer& optimizer, const torch::Device& device) {
  // Every state entry, whatever the map's key type (a string in libtorch 1.x, a pointer in 2.x):
  // a rank trains on one device, so all of its parameters live there.
  for (auto& entry : optimizer.state()) {
    if (auto* adam = dynamic_cast<torch::optim::AdamWParamState*>(entry.second.get())) {
      adam->exp_avg(adam->exp_avg().to(device));
      adam->exp_avg_sq(adam->exp_avg_sq().to(device));
      if (adam->max_exp_avg_sq().defined()) adam->max_exp_avg_sq(adam->max_exp_avg_sq().to(device));
    }
  }
}

void SaveCheckpoint(const std::string& dir, torch::nn::Module& model,
                    torch::optim::Optimizer& optimizer, const CheckpointState& state, int keep) {
  fs::create_directories(dir);
  torch::serialize::OutputArchive archive;
  {
    torch::NoGradGuard no_grad;
    for (const auto& p : model.named_parameters()) archive.write("model." + p.key(), p.value());
    for (const auto& b : model.named_buffers()) archive.write("buffer." + b.key(), b.value());
  }
  torch::serialize::OutputArchive optim_archive;
  optimizer.save(optim_archive);
  archive.write("optimizer", optim_archive);
  archive.write("step", torch::tensor(state.step, torch::kInt64));
  archive.write("train_seconds", torch::tensor(state.train_seconds, torch::kFloat64));
  archive.write("epoch_loss_sum", torch::tensor(state.last_epoch_loss_sum, torch::kFloat64));
  archive.write("epoch_loss_n", torch::tensor(state.last_epoch_loss_n, torch::kInt64));
  std::vector<int64_t> id_bytes(state.trial_id.begin(), state.trial_id.end());
  archive.write("trial_id", torch::tensor(id_bytes, torch::kInt64));
  {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    archive.write("rng", gen.get_state());
  }
  // The GPU's generator too (dropout, sampling on the device), where this rank trains on one.
  if (const auto device = ParameterDevice(model); device && device->is_cuda()) {
    auto gen = at::globalContext().defaultGenerator(*device);
    std::lock_guard<std::mutex> lock(gen.mutex());
    archive.write("rng_cuda", gen.get_state());
  }
  std::ostringstream body;
  archive.save_to(body);
  std::string bytes = body.str();
  std::string header = std::string(kMagic) + " " + Hex64(Fnv1a64(bytes.data(), bytes.size())) +
                       " " + std::to_string(bytes.size()) + "\n";
  WriteFileAtomic(dir + "/" + StepName(state.step), header + bytes);
  auto all = ListCheckpoints(dir);
  for (size_t i = static_cast<size_t>(keep); i < all.size(); ++i) fs::remove(all[i].second);
}

std::optional<CheckpointState> LoadNewestCheckpoint(
    const std::string& dir, const std::string& trial_id, torch::nn::Module& model,
    torch::optim::Optimizer& optimizer, const std::function<void(const std::string&)>& warn,
    int64_t only_step) {
  for (const auto& [step, path] : ListCheckpoints(dir)) {
    if (only_step >= 0 && step != only_step) continue;
    try {
      std::string all = ReadFile(path);
      size_t nl = all.find('\n');
      if (nl == std::string::npos || all.compare(0, 5, kMagic) != 0)
        throw std::runtime_error("bad header");
      std::istringstream hdr(all.substr(6, nl - 6));
      std::string sum;
      size_t len = 0;
      hdr >> sum >> len;
      std::string bytes = all.substr(nl + 1);
      if (bytes.size() != len)
        throw std::runtime_error("truncated: " + std::to_string(bytes.size()) + " of " +
                                 std::to_string(len) + " bytes");
      if (Hex64(Fnv1a64(bytes.data(), bytes.size())) != sum)
        throw std::runtime_error("checksum mismatch");
      torch::serialize::InputArchive archive;
      std::istringstream in(bytes);
      // To the CPU first, whatever device wrote it: a checkpoint saved on cuda:3 must load on a
      // node with one GPU, or none. Each tensor then goes where its parameter lives.
      archive.load_from(in, torch::kCPU);
      // A fresh tensor per read: reading into a tensor that already views archive storage
      // fails ("storage that is not resizable").
      auto get = [&](const char* key) {
        torch::Tensor x;
        archive.read(key, x);
        return x;
      };
      torch::Tensor t = get("trial_id");
      std::string id;
      for (int64_t i = 0; i < t.numel(); ++i) id.push_back(static_cast<char>(t[i].item<int64_t>()));
      if (id != trial_id) throw std::runtime_error("belongs to trial " + id);
      {
        torch::NoGradGuard no_grad;
        for (auto& p : model.named_parameters()) {
          torch::Tensor v;
          archive.read("model." + p.key(), v);
          p.value().copy_(v);
        }
        for (auto& b : model.named_buffers()) {
          torch::Tensor v;
          archive.read("buffer." + b.key(), v);
          b.value().copy_(v);
        }
      }
      torch::serialize::InputArchive optim_archive;
      archive.read("optimizer", optim_archive);
      optimizer.load(optim_archive);
      if (const auto device = ParameterDevice(model)) MoveOptimizerStateTo(optimizer, *device);
      CheckpointState s;
      s.trial_id = id;
      t = get("step");
      s.step = t.item<int64_t>();
      t = get("train_seconds");
      s.train_seconds = t.item<double>();
      t = get("epoch_loss_sum");
      s.last_epoch_loss_sum = t.item<double>();
      t = get("epoch_loss_n");
      s.last_epoch_loss_n = t.item<int64_t>();
      t = get("rng");
      {
        auto gen = at::detail::getDefaultCPUGenerator();
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_state(t);
      }
      torch::Tensor cuda_rng;
      if (const auto device = ParameterDevice(model);
          device && device->is_cuda() && archive.try_read("rng_cuda", cuda_rng)) {
        auto gen = at::globalContext().defaultGenerator(*device);
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_state(cuda_rng);
      }
      return s;
    } catch (const std::exception& e) {
      warn("checkpoint " + path + " is unusable (" + std::string(e.what()).substr(0, 200) +
           "); trying an older one");
    }
  }
  return std::nullopt;
}

void LoadModelWeights(const std::string& path, torch::nn::Module& model) {
  std::vector<std::string> candidates;
  if (fs::is_directory(path)) {
    for (const auto& c : ListCheckpoints(path)) candidates.push_back(c.second);
  } else {
    candidates.push_back(path);
  }
  if (candidates.empty())
    throw UserError(path, 0, 0, "model.init_from", "no checkpoint files here");
  std::string last_error;
  for (const std::string& file : candidates) {
    try {
      std::string all = ReadFile(file);
      size_t nl = all.find('\n');
      if (nl == std::string::npos || all.compare(0, 5, kMagic) != 0)
        throw std::runtime_error("not a revsweep checkpoint");
      std::istringstream hdr(all.substr(6, nl - 6));
      std::string sum;
      size_t len = 0;
      hdr >> sum >> len;
      std::string bytes = all.substr(nl + 1);
      if (bytes.size() != len || Hex64(Fnv1a64(bytes.data(), bytes.size())) != sum)
        throw std::runtime_error("truncated or checksum mismatch");
      torch::serialize::InputArchive archive;
      std::istringstream in(bytes);
      archive.load_from(in, torch::kCPU);
      torch::NoGradGuard no_grad;
      for (auto& p : model.named_parameters()) {
        torch::Tensor v;
        if (!archive.try_read("model." + p.key(), v))
          throw std::runtime_error("missing tensor " + p.key());
        if (v.sizes() != p.value().sizes())
          throw std::runtime_error(p.key() + ": shape " + c10::str(v.sizes()) +
                                   " in the checkpoint, " + c10::str(p.value().sizes()) +
                                   " in the model");
        p.value().copy_(v);
      }
      return;
    } catch (const std::exception& e) {
      last_error = file + ": " + e.what();
    }
  }
  throw UserError(path, 0, 0, "model.init_from", last_error);
}

int64_t NewestCheckpointStep(const std::string& dir) {
  auto all = ListCheckpoints(dir);
  return all.empty() ? 0 : all.front().first;
}

}  // namespace revsweep
