#include "scheduler/mpi_transport.h"

#include <cstdlib>

#include "common/messages.h"

namespace revsweep {

MpiTransport::MpiTransport(MPI_Comm comm, MPI_Comm report_comm)
    : comm_(comm), report_comm_(report_comm) {
  MPI_Comm_size(comm, &size_);
}

MpiTransport::~MpiTransport() {
  for (auto& p : pending_) MPI_Wait(&p.request, MPI_STATUS_IGNORE);
}

void MpiTransport::Reap() {
  for (auto it = pending_.begin(); it != pending_.end();) {
    int done = 0;
    MPI_Test(&it->request, &done, MPI_STATUS_IGNORE);
    it = done ? pending_.erase(it) : std::next(it);
  }
}

void MpiTransport::Send(int dest, int tag, const std::string& text) {
  Reap();
  pending_.push_back({text, MPI_REQUEST_NULL});
  Pending& p = pending_.back();
  MPI_Isend(p.text.data(), static_cast<int>(p.text.size()), MPI_CHAR, dest, tag, comm_, &p.request);
}

std::optional<Envelope> MpiTransport::TryReceive() {
  Reap();
  // Any tag: only reports travel on this communicator, so a Result is never taken after the
  // same rank's later "left" heartbeat.
  int flag = 0;
  MPI_Status st;
  MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, report_comm_, &flag, &st);
  if (!flag) return std::nullopt;
  int n = 0;
  MPI_Get_count(&st, MPI_CHAR, &n);
  Envelope e{st.MPI_SOURCE, st.MPI_TAG, std::string(static_cast<size_t>(n), '\0')};
  MPI_Recv(e.text.data(), n, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, report_comm_, MPI_STATUS_IGNORE);
  return e;
}

void MpiTransport::Abort(int code) {
  MPI_Abort(comm_, code);
  std::abort();  // not reached: MPI_Abort ends this process too
}

}  // namespace revsweep
