// Runs only where a GPU and NCCL are present; skipped, visibly, elsewhere.
#include <gtest/gtest.h>
#include <mpi.h>

#include "worker/communicator.h"
#ifdef REVSWEEP_WITH_NCCL
#include "worker/nccl_communicator.h"
#endif

namespace revsweep {
namespace {

TEST(NcclCommunicator, AverageAndBroadcastOnOneGpu) {
#ifndef REVSWEEP_WITH_NCCL
  GTEST_SKIP() << "built without NCCL (no CUDA toolkit found): GPU path not compiled";
#else
  if (!torch::cuda::is_available() || !CudaDeviceAvailable())
    GTEST_SKIP() << "no CUDA device (or a CPU-only libtorch): NCCL test skipped";
  int init = 0;
  MPI_Initialized(&init);
  if (!init) MPI_Init(nullptr, nullptr);
  NcclCommunicator comm(MPI_COMM_SELF, 0);
  auto t = torch::arange(8, torch::TensorOptions(torch::kFloat32).device(torch::kCUDA));
  comm.AllReduceAverage(t);  // one rank: average is the identity
  EXPECT_TRUE(torch::equal(t.cpu(), torch::arange(8, torch::kFloat32)));
  comm.Broadcast(t, 0);
  EXPECT_FALSE(comm.AnyTrue(false));
  EXPECT_TRUE(comm.AnyTrue(true));
#endif
}

}  // namespace
}  // namespace revsweep
