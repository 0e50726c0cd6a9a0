// Bucketed gradient averaging: parameters are grouped into flat buckets of about
// `bucket_bytes` each and every bucket is averaged with one collective. Fewer, larger
// collectives beat one all-reduce per parameter (libtorch's cpp/distributed example).
//
// Zero copy (groups of more than one rank): every parameter's gradient is a view into its
// bucket (DistributedDataParallel's gradient_as_bucket_view), so backward accumulates
// straight into the buckets and a sync is only the collectives. That holds only while
// gradients are zeroed in place: call ZeroGradients(), not Optimizer::zero_grad() (which
// throws on a view). A gradient that stopped being a view anyway (replaced, reset to
// undefined) is copied into its bucket for that sync and then made a view again, so results
// never depend on the fast path.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "worker/communicator.h"

namespace revsweep {

class GradSync {
 public:
  // Plans buckets over `params` (in order; a repeated tensor counts once). Parameters must not
  // change shape or be replaced afterwards. With more than one rank, makes every gradient a
  // view into its bucket, keeping the values of gradients already defined (undefined ones
  // become zeros).
  GradSync(std::vector<torch::Tensor> params, Communicator* comm, size_t bucket_bytes);
  // Averages every parameter's .grad() over the group. Undefined grads count as zeros. With
  // more than one rank, every gradient is a view into its bucket afterwards (a gradient that
  // had been replaced is re-attached: the replacing tensor itself is not updated).
  void AverageGradients();
  // The same with the sum over the group instead of the mean: for callers that scale their
  // loss by 1 / (global batch) already, which saves a divide pass over every bucket (a
  // quarter of the all-reduce's time for a 1M-parameter model on CPU).
  void SumGradients();
  // Sets every gradient to zero in place (keeping the bucket views); undefined gradients stay
  // undefined with one rank, as with Optimizer::zero_grad().
  void ZeroGradients();
  // Makes every rank's parameters equal to the leader's (call once after init).
  void BroadcastParameters();
  size_t num_buckets() const { return buckets_.size(); }
  // Buckets whose gradients are all views into them right now (their next sync copies
  // nothing); num_buckets() in steady state with more than one rank, 0 with one rank.
  size_t zero_copy_buckets() const;
  // Bucket syncs so far that had to copy gradients in because one was not a view.
  size_t copied_bucket_syncs() const { return copied_bucket_syncs_; }

 private:
  struct Bucket {
    std::vector<size_t> index;   // into params_
    std::vector<int64_t> begin;  // element offset of each parameter in flat
    int64_t numel = 0;
    torch::Tensor flat;  // (numel) contiguous buffer
  };
  void Sync(bool average);
  bool IsView(const Bucket& b, size_t k) const;
  bool AllViews(const Bucket& b) const;
  // Copies every gradient that is not a view into its slot (zeros for undefined ones).
  void CopyIn(Bucket& b);
  // Makes every gradient that is not a view into the bucket one.
  void Attach(Bucket& b);

  std::vector<torch::Tensor> params_;
  Communicator* comm_;
  bool zero_copy_;
  std::vector<Bucket> buckets_;
  size_t copied_bucket_syncs_ = 0;
};

}  // namespace revsweep
