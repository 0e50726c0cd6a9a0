#include "worker/grad_sync.h"

#include <unordered_set>

namespace revsweep {

GradSync::GradSync(std::vector<torch::Tensor> params, Communicator* comm, size_t bucket_bytes)
    : params_(std::move(params)), comm_(comm), zero_copy_(comm->size() > 1) {
  // A tensor listed twice would get two slots, and the second view would detach the first
  // every step (a permanent copy fallback): plan each tensor once.
  std::unordered_set<const void*> seen;
  Bucket current;
  auto close = [&] {
    if (!current.index.empty()) buckets_.push_back(std::move(current));
    current = Bucket();
  };
  for (size_t i = 0; i < params_.size(); ++i) {
    const torch::Tensor& p = params_[i];
    if (!seen.insert(p.unsafeGetTensorImpl()).second) continue;
    const int64_t bytes = p.numel() * p.element_size();
    if (!current.index.empty()) {
      // A bucket is one flat tensor, so it holds a single dtype on a single device.
      const torch::Tensor& first = params_[current.index[0]];
      if (first.scalar_type() != p.scalar_type() || first.device() != p.device() ||
          static_cast<size_t>((current.numel * p.element_size()) + bytes) > bucket_bytes)
        close();
    }
    current.index.push_back(i);
    current.begin.push_back(current.numel);
    current.numel += p.numel();
  }
  close();
  // One rank never reduces, so it needs no buffers and leaves its gradients alone.
  if (!zero_copy_) return;
  torch::NoGradGuard no_grad;
  for (Bucket& b : buckets_) {
    b.flat = torch::empty({b.numel}, params_[b.index[0]].options());
    CopyIn(b);
    Attach(b);
  }
}

bool GradSync::IsView(const Bucket& b, size_t k) const {
  const torch::Tensor& p = params_[b.index[k]];
  const torch::Tensor& g = p.grad();
  if (!g.defined() || g.layout() != torch::kStrided || g.scalar_type() != b.flat.scalar_type() ||
      g.sizes() != p.sizes() || !g.is_contiguous())
    return false;
  const char* expected =
      static_cast<const char*>(b.flat.data_ptr()) + b.begin[k] * b.flat.element_size();
  return p.numel() == 0 || g.data_ptr() == expected;
}

bool GradSync::AllViews(const Bucket& b) const {
  for (size_t k = 0; k < b.index.size(); ++k)
    if (!IsView(b, k)) return false;
  return true;
}

void GradSync::CopyIn(Bucket& b) {
  for (size_t k = 0; k < b.index.size(); ++k) {
    if (IsView(b, k)) continue;
    const torch::Tensor& p = params_[b.index[k]];
    const torch::Tensor& g = p.grad();
    auto dst = b.flat.narrow(0, b.begin[k], p.numel()).view(p.sizes());
    if (g.defined())
      dst.copy_(g.is_sparse() ? g.to_dense() : g);
    else
      dst.zero_();
  }
}

void GradSync::Attach(Bucket& b) {
  for (size_t k = 0; k < b.index.size(); ++k) {
    torch::Tensor& p = params_[b.index[k]];
    if (!IsView(b, k)) p.mutable_grad() = b.flat.narrow(0, b.begin[k], p.numel()).view(p.sizes());
  }
}

size_t GradSync::zero_copy_buckets() const {
  if (!zero_copy_) return 0;
  size_t n = 0;
  for (const Bucket& b : buckets_) n += AllViews(b) ? 1 : 0;
  return n;
}

void GradSync::AverageGradients() { Sync(/*average=*/true); }

void GradSync::SumGradients() { Sync(/*average=*/false); }

void GradSync::Sync(bool average) {
  if (comm_->size() == 1) return;
  torch::NoGradGuard no_grad;
  for (Bucket& b : buckets_) {
    const bool in_place = AllViews(b);
    if (!in_place) {
      ++copied_bucket_syncs_;
      CopyIn(b);
    }
    if (average) {
      comm_->AllReduceAverage(b.flat);
    } else {
      comm_->AllReduceSum(b.flat);
    }
    if (!in_place) Attach(b);
  }
}

void GradSync::ZeroGradients() {
  torch::NoGradGuard no_grad;
  if (zero_copy_) {
    for (Bucket& b : buckets_) {
      b.flat.zero_();
      if (!AllViews(b)) Attach(b);
    }
    return;
  }
  for (torch::Tensor& p : params_) {
    torch::Tensor& g = p.mutable_grad();
    if (!g.defined()) continue;
    // As Optimizer::zero_grad(): a gradient with history (create_graph) loses it.
    if (g.requires_grad()) g = g.detach();
    g.zero_();
  }
}

void GradSync::BroadcastParameters() {
  if (comm_->size() == 1) return;
  torch::NoGradGuard no_grad;
  for (Bucket& b : buckets_) {
    // Not b.flat: that holds the gradients.
    torch::Tensor staging = torch::empty({b.numel}, b.flat.options());
    for (size_t k = 0; k < b.index.size(); ++k) {
      const torch::Tensor& p = params_[b.index[k]];
      staging.narrow(0, b.begin[k], p.numel()).copy_(p.reshape({-1}));
    }
    comm_->Broadcast(staging, 0);
    for (size_t k = 0; k < b.index.size(); ++k) {
      torch::Tensor& p = params_[b.index[k]];
      p.copy_(staging.narrow(0, b.begin[k], p.numel()).view(p.sizes()));
    }
  }
}

}  // namespace revsweep
