// The parts of a training step that keep the host from waiting on the device (CUDA): the
// step losses read in batches instead of every step, and gradient clipping without libtorch's
// clip_grad_norm_ (which reads the norm back to return it as a double: a host sync per step).
// On the CPU nothing waits anyway; the trainer reads every step there (capacity 1) and the
// numbers are the same either way.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace revsweep {

// Per-step loss sums kept on the training device until the host reads them, all at once.
//
// Each step the trainer writes its rank's loss sum into Slot(step, global_tokens) (a
// one-element float64 tensor on the device) and all-reduces it in place (mean over ranks).
// Read() copies the pending slots to the host in one transfer (the only wait on the device)
// and returns each step's mean loss per target token, in step order. Every rank must call
// Read() at the same steps (the trainer agrees on them in its per-step flag all-reduce), so a
// non-finite loss stops all of them at the same point.
class StepLosses {
 public:
  struct Step {
    int64_t step = 0;  // 0-based step index
    double loss = 0;   // group mean loss per target token of that step
  };
  // `capacity`: steps that may be pending before full() says a read is due (>= 1).
  StepLosses(const torch::Device& device, int64_t capacity);
  // The slot for `step`. REQUIRES: !full(). The tensor is a view into a device buffer, valid
  // until the next Read().
  torch::Tensor Slot(int64_t step, int64_t global_tokens);
  int64_t pending() const { return static_cast<int64_t>(meta_.size()); }
  bool full() const { return pending() >= capacity_; }
  int64_t capacity() const { return capacity_; }
  // Reads and clears the pending slots. `group_size` k: a slot holds the mean over the group of
  // the ranks' loss sums, so the step's loss is value * k / global_tokens (as the trainer
  // always computed it).
  std::vector<Step> Read(int64_t group_size);

 private:
  struct Meta {
    int64_t step, global_tokens;
  };
  torch::Tensor buffer_;  // (capacity) float64 on the device
  std::vector<Meta> meta_;
  int64_t capacity_;
};

// Clips the total 2-norm of the gradients of `params` to `max_norm` in place, as libtorch
// 1.13's torch::nn::utils::clip_grad_norm_ (the same operations, so the same numbers) but
// without reading the norm back to the host. Returns the norm as a 0-dim tensor on the
// gradients' device (undefined when no parameter has a gradient).
torch::Tensor ClipGradNormNoSync(const std::vector<torch::Tensor>& params, double max_norm);

}  // namespace revsweep
