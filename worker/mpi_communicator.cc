#include "worker/mpi_communicator.h"

#include <stdexcept>
#include <string>

namespace revsweep {
namespace {

MPI_Datatype MpiType(const torch::Tensor& t) {
  if (t.scalar_type() == torch::kFloat32) return MPI_FLOAT;
  if (t.scalar_type() == torch::kFloat64) return MPI_DOUBLE;
  if (t.scalar_type() == torch::kInt64) return MPI_INT64_T;
  throw std::runtime_error("MpiCommunicator: unsupported dtype " +
                           std::string(c10::toString(t.scalar_type())));
}

void Check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    throw std::runtime_error(std::string(what) + " failed: " + std::string(msg, len));
  }
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm) : comm_(comm) {
  MPI_Comm_rank(comm, &rank_);
  MPI_Comm_size(comm, &size_);
}

void MpiCommunicator::AllReduceSum(torch::Tensor& t) {
  if (size_ == 1) return;
  TORCH_CHECK(t.is_contiguous() && t.device().is_cpu(),
              "MpiCommunicator all-reduce needs a contiguous CPU tensor");
  Check(MPI_Allreduce(MPI_IN_PLACE, t.data_ptr(), static_cast<int>(t.numel()), MpiType(t), MPI_SUM,
                      comm_),
        "MPI_Allreduce");
}

void MpiCommunicator::AllReduceAverage(torch::Tensor& t) {
  if (size_ == 1) return;
  AllReduceSum(t);
  t.div_(static_cast<double>(size_));
}

void MpiCommunicator::Broadcast(torch::Tensor& t, int root) {
  if (size_ == 1) return;
  TORCH_CHECK(t.is_contiguous() && t.device().is_cpu(), "Broadcast needs a contiguous CPU tensor");
  Check(MPI_Bcast(t.data_ptr(), static_cast<int>(t.numel()), MpiType(t), root, comm_), "MPI_Bcast");
}

bool MpiCommunicator::AnyTrue(bool flag) {
  if (size_ == 1) return flag;
  int in = flag ? 1 : 0, out = 0;
  Check(MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MAX, comm_), "MPI_Allreduce");
  return out != 0;
}

uint32_t MpiCommunicator::AnyBits(uint32_t bits) {
  if (size_ == 1) return bits;
  uint32_t out = 0;
  Check(MPI_Allreduce(&bits, &out, 1, MPI_UINT32_T, MPI_BOR, comm_), "MPI_Allreduce");
  return out;
}

}  // namespace revsweep
