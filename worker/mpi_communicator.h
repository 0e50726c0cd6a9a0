// Communicator over an MPI communicator, for CPU tensors (float32 / float64).
#pragma once

#include <mpi.h>

#include "worker/communicator.h"

namespace revsweep {

class MpiCommunicator : public Communicator {
 public:
  // Does not take ownership of `comm`; it must outlive this object.
  explicit MpiCommunicator(MPI_Comm comm);
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "mpi"; }
  void AllReduceAverage(torch::Tensor& t) override;
  void AllReduceSum(torch::Tensor& t) override;
  void Broadcast(torch::Tensor& t, int root) override;
  bool AnyTrue(bool flag) override;
  uint32_t AnyBits(uint32_t bits) override;

 private:
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

}  // namespace revsweep
