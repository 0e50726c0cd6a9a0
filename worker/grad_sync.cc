#include "worker/grad_sync.h"

namespace revsweep {

GradSync::GradSync(std::vector<torch::Tensor> params, Communicator* comm, size_t bucket_bytes)
    : params_(std::move(params)), comm_(comm) {
  Bucket current;
  for (size_t i = 0; i < params_.size(); ++i) {
    const int64_t bytes = params_[i].numel() * params_[i].element_size();
    if (!current.index.empty() &&
        static_cast<size_t>((current.numel * params_[i].element_size()) + bytes) > bucket_bytes) {
      buckets_.push_back(std::move(current));
      current = Bucket();
    }
    current.index.push_back(i);
    current.numel += params_[i].numel();
  }
  if (!current.index.empty()) buckets_.push_back(std::move(current));
  for (Bucket& b : buckets_) b.flat = torch::empty({b.numel}, params_[b.index[0]].options());
}

void GradSync::AverageGradients() {
  if (comm_->size() == 1) return;
  torch::NoGradGuard no_grad;
  for (Bucket& b : buckets_) {
    int64_t off = 0;
    for (size_t i : b.index) {
      torch::Tensor& p = params_[i];
      auto dst = b.flat.narrow(0, off, p.numel());
      if (p.grad().defined())
        dst.copy_(p.grad().view({-1}));
      else
        dst.zero_();
      off += p.numel();
    }
    comm_->AllReduceAverage(b.flat);
    off = 0;
    for (size_t i : b.index) {
      torch::Tensor& p = params_[i];
      auto src = b.flat.narrow(0, off, p.numel()).view(p.sizes());
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      p.grad().copy_(src);
      off += p.numel();
    }
  }
}

void GradSync::BroadcastParameters() {
  if (comm_->size() == 1) return;
  torch::NoGradGuard no_grad;
  for (Bucket& b : buckets_) {
    int64_t off = 0;
    for (size_t i : b.index) {
      b.flat.narrow(0, off, params_[i].numel()).copy_(params_[i].view({-1}));
      off += params_[i].numel();
    }
    comm_->Broadcast(b.flat, 0);
    off = 0;
    for (size_t i : b.index) {
      params_[i].copy_(b.flat.narrow(0, off, params_[i].numel()).view(params_[i].sizes()));
      off += params_[i].numel();
    }
  }
}

}  // namespace revsweep
