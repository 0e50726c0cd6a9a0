// Collective operations within one worker group. Implementations: MPI (CPU tensors) and NCCL
// (CUDA tensors, compiled only with REVSWEEP_WITH_NCCL). One object per group; not
// thread-safe; every member of the group must make the same calls in the same order.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

namespace revsweep {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;  // rank within the group, 0 = leader
  virtual int size() const = 0;  // ranks in the group
  virtual std::string name() const = 0;
  // In place: t <- mean over ranks of t. REQUIRES: contiguous, same shape and dtype on all.
  virtual void AllReduceAverage(torch::Tensor& t) = 0;
  // In place: t <- sum over ranks of t. The default goes through the average; MPI and NCCL
  // override it with a native sum (cheaper on CPU: no divide pass over the buffer).
  virtual void AllReduceSum(torch::Tensor& t) {
    AllReduceAverage(t);
    if (size() > 1) t.mul_(static_cast<double>(size()));
  }
  // In place: t <- t of `root`.
  virtual void Broadcast(torch::Tensor& t, int root) = 0;
  // Logical OR of a flag over ranks (used to agree on stopping at the same step).
  virtual bool AnyTrue(bool flag) = 0;
  // Bitwise OR of `bits` over ranks: several flags agreed in one collective (the trainer's
  // stop flag and "read the pending losses now"). The default ORs bit by bit through
  // AnyTrue; MPI and NCCL override it with one MPI_Allreduce(MPI_BOR).
  virtual uint32_t AnyBits(uint32_t bits) {
    if (size() == 1) return bits;
    uint32_t out = 0;
    for (int b = 0; b < 32; ++b)
      if (AnyTrue(((bits >> b) & 1u) != 0)) out |= 1u << b;
    return out;
  }
};

// A communicator for a group of one: every operation is the identity.
class SelfCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "self"; }
  void AllReduceAverage(torch::Tensor&) override {}
  void AllReduceSum(torch::Tensor&) override {}
  void Broadcast(torch::Tensor&, int) override {}
  bool AnyTrue(bool flag) override { return flag; }
  uint32_t AnyBits(uint32_t bits) override { return bits; }
};

}  // namespace revsweep
