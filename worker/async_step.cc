#include "worker/async_step.h"

#include <stdexcept>

namespace revsweep {

StepLosses::StepLosses(const torch::Device& device, int64_t capacity) : capacity_(capacity) {
  if (capacity < 1) throw std::invalid_argument("StepLosses: capacity must be >= 1");
  buffer_ = torch::zeros({capacity}, torch::TensorOptions(torch::kFloat64).device(device));
  meta_.reserve(static_cast<size_t>(capacity));
}

torch::Tensor StepLosses::Slot(int64_t step, int64_t global_tokens) {
  TORCH_CHECK(!full(), "StepLosses: ", pending(), " steps pending, read them first");
  torch::Tensor slot = buffer_.narrow(0, pending(), 1);
  meta_.push_back({step, global_tokens});
  return slot;
}

std::vector<StepLosses::Step> StepLosses::Read(int64_t group_size) {
  std::vector<Step> out;
  if (meta_.empty()) return out;
  // One device-to-host copy (a no-op on the CPU).
  const torch::Tensor host = buffer_.narrow(0, 0, pending()).to(torch::kCPU).contiguous();
  const double* v = host.data_ptr<double>();
  out.reserve(meta_.size());
  for (size_t i = 0; i < meta_.size(); ++i)
    out.push_back({meta_[i].step, v[i] * static_cast<double>(group_size) /
                                      static_cast<double>(meta_[i].global_tokens)});
  meta_.clear();
  return out;
}

torch::Tensor ClipGradNormNoSync(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> norms;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params) {
    const torch::Tensor& g = p.grad();
    if (!g.defined()) continue;
    grads.push_back(g);
    norms.push_back(g.data().norm(2.0));
  }
  if (grads.empty()) return {};
  torch::Tensor total = norms.size() == 1 ? norms[0] : torch::stack(norms).norm(2.0);
  auto coef = torch::clamp(max_norm / (total + 1e-6), c10::nullopt, 1.0);
  for (auto& g : grads) g.data().mul_(coef);
  return total;
}

}  // namespace revsweep
