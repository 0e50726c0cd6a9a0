// Bucketed gradient averaging: gradients are copied into flat buckets of about `bucket_bytes`
// each, every bucket is averaged with one collective, and results are copied back. Fewer,
// larger collectives beat one all-reduce per parameter (libtorch's cpp/distributed example).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "worker/communicator.h"

namespace revsweep {

class GradSync {
 public:
  // Plans buckets over `params` (in order). Parameters must not change shape afterwards.
  GradSync(std::vector<torch::Tensor> params, Communicator* comm, size_t bucket_bytes);
  // Averages every parameter's .grad() over the group. Undefined grads count as zeros.
  void AverageGradients();
  // Makes every rank's parameters equal to the leader's (call once after init).
  void BroadcastParameters();
  size_t num_buckets() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::vector<size_t> index;  // into params_
    int64_t numel = 0;
    torch::Tensor flat;  // (numel) contiguous buffer
  };
  std::vector<torch::Tensor> params_;
  Communicator* comm_;
  std::vector<Bucket> buckets_;
};

}  // namespace revsweep
