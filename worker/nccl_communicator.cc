#include "worker/nccl_communicator.h"

#ifdef REVSWEEP_WITH_NCCL

#include <stdexcept>
#include <string>

namespace revsweep {
namespace {

#define REVSWEEP_CUDA_CHECK(expr) CudaCheck((expr), #expr, __FILE__, __LINE__)
#define REVSWEEP_NCCL_CHECK(expr) NcclCheck((expr), #expr, __FILE__, __LINE__)

void CudaCheck(cudaError_t e, const char* what, const char* file, int line) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + what + ": " +
                             cudaGetErrorString(e) +
                             " (hint: check CUDA_VISIBLE_DEVICES and the driver version)");
}

void NcclCheck(ncclResult_t r, const char* what, const char* file, int line) {
  if (r != ncclSuccess)
    throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + what + ": " +
                             ncclGetErrorString(r) +
                             " (hint: rerun with NCCL_DEBUG=INFO; see deploy/slurm/README.md)");
}

ncclDataType_t NcclType(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32:
      return ncclFloat32;
    case torch::kFloat16:
      return ncclFloat16;
    case torch::kBFloat16:
      return ncclBfloat16;
    case torch::kFloat64:
      return ncclFloat64;
    case torch::kInt64:
      return ncclInt64;
    default:
      throw std::runtime_error("NcclCommunicator: unsupported dtype");
  }
}

}  // namespace

bool CudaDeviceAvailable() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

NcclCommunicator::NcclCommunicator(MPI_Comm mpi_group_comm, int device)
    : mpi_comm_(mpi_group_comm), device_(device) {
  MPI_Comm_rank(mpi_comm_, &rank_);
  MPI_Comm_size(mpi_comm_, &size_);
  REVSWEEP_CUDA_CHECK(cudaSetDevice(device_));
  ncclUniqueId id;
  if (rank_ == 0) REVSWEEP_NCCL_CHECK(ncclGetUniqueId(&id));
  MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, mpi_comm_);
  REVSWEEP_NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
  REVSWEEP_CUDA_CHECK(cudaStreamCreateWithFlags(&side_, cudaStreamNonBlocking));
  REVSWEEP_CUDA_CHECK(cudaEventCreateWithFlags(&compute_done_, cudaEventDisableTiming));
  REVSWEEP_CUDA_CHECK(cudaEventCreateWithFlags(&comm_done_, cudaEventDisableTiming));
}

NcclCommunicator::~NcclCommunicator() {
  // ncclCommAbort, not ncclCommDestroy: Destroy finalizes first, which waits until the
  // communicator is quiescent on every rank, i.e. until the other members destroy theirs too.
  // A worker frees a kept communicator when its own next assignment differs
  // (worker/group_reuse.h), and a failing member frees its own early: neither may wait for
  // the others. Abort frees this rank's resources on its own (nothing is in flight after a
  // finished trial; after a failure, what is in flight is abandoned).
  if (comm_) ncclCommAbort(comm_);
  if (side_) cudaStreamDestroy(side_);
  if (compute_done_) cudaEventDestroy(compute_done_);
  if (comm_done_) cudaEventDestroy(comm_done_);
}

void NcclCommunicator::AllReduce(torch::Tensor& t, ncclRedOp_t op) {
  TORCH_CHECK(t.is_cuda() && t.is_contiguous(), "NcclCommunicator needs a contiguous CUDA tensor");
  // libtorch's default compute stream is the legacy default stream (0): order the side
  // stream after it, reduce there, then make the compute stream wait for the result.
  REVSWEEP_CUDA_CHECK(cudaEventRecord(compute_done_, 0));
  REVSWEEP_CUDA_CHECK(cudaStreamWaitEvent(side_, compute_done_, 0));
  REVSWEEP_NCCL_CHECK(ncclAllReduce(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()),
                                    NcclType(t), op, comm_, side_));
  REVSWEEP_CUDA_CHECK(cudaEventRecord(comm_done_, side_));
  REVSWEEP_CUDA_CHECK(cudaStreamWaitEvent(0, comm_done_, 0));
}

void NcclCommunicator::AllReduceAverage(torch::Tensor& t) { AllReduce(t, ncclAvg); }

void NcclCommunicator::AllReduceSum(torch::Tensor& t) { AllReduce(t, ncclSum); }

void NcclCommunicator::Broadcast(torch::Tensor& t, int root) {
  TORCH_CHECK(t.is_cuda() && t.is_contiguous(), "NcclCommunicator needs a contiguous CUDA tensor");
  REVSWEEP_CUDA_CHECK(cudaEventRecord(compute_done_, 0));
  REVSWEEP_CUDA_CHECK(cudaStreamWaitEvent(side_, compute_done_, 0));
  REVSWEEP_NCCL_CHECK(ncclBroadcast(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()),
                                    NcclType(t), root, comm_, side_));
  REVSWEEP_CUDA_CHECK(cudaEventRecord(comm_done_, side_));
  REVSWEEP_CUDA_CHECK(cudaStreamWaitEvent(0, comm_done_, 0));
}

bool NcclCommunicator::AnyTrue(bool flag) {
  int in = flag ? 1 : 0, out = 0;
  MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MAX, mpi_comm_);
  return out != 0;
}

uint32_t NcclCommunicator::AnyBits(uint32_t bits) {
  uint32_t out = 0;
  MPI_Allreduce(&bits, &out, 1, MPI_UINT32_T, MPI_BOR, mpi_comm_);
  return out;
}

}  // namespace revsweep

#endif  // REVSWEEP_WITH_NCCL
