// Communicator over NCCL for CUDA tensors. Compiled only when the CUDA toolkit and NCCL are
// found (REVSWEEP_WITH_NCCL); the CPU build never sees this header.
//
// One object owns all NCCL state of a group (llm.c's pattern): group rank 0 creates the
// unique id, MPI_Bcast shares it over the group's MPI communicator, every rank calls
// ncclCommInitRank. Collectives run on a side stream ordered after the compute stream with
// events, so compute can keep queueing work; ncclAvg averages in one pass.
#pragma once

#ifdef REVSWEEP_WITH_NCCL

#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include "worker/communicator.h"

namespace revsweep {

class NcclCommunicator : public Communicator {
 public:
  // `mpi_group_comm`: the group's MPI communicator (for the id broadcast and AnyTrue).
  // `device`: CUDA device ordinal of this rank. Throws std::runtime_error with file:line and
  // a hint on any CUDA/NCCL error.
  NcclCommunicator(MPI_Comm mpi_group_comm, int device);
  ~NcclCommunicator() override;
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "nccl"; }
  void AllReduceAverage(torch::Tensor& t) override;
  void AllReduceSum(torch::Tensor& t) override;
  void Broadcast(torch::Tensor& t, int root) override;
  bool AnyTrue(bool flag) override;
  uint32_t AnyBits(uint32_t bits) override;

 private:
  void AllReduce(torch::Tensor& t, ncclRedOp_t op);
  MPI_Comm mpi_comm_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t side_ = nullptr;
  cudaEvent_t compute_done_ = nullptr, comm_done_ = nullptr;
  int rank_ = 0, size_ = 1, device_ = 0;
};

// True when this process sees at least one CUDA device.
bool CudaDeviceAvailable();

}  // namespace revsweep

#endif  // REVSWEEP_WITH_NCCL
