// The coordinator's transport over MPI, on rank 0 beside that rank's worker thread.
#pragma once

#include <mpi.h>

#include <list>
#include <string>

#include "scheduler/transport.h"

namespace revsweep {

class MpiTransport : public Transport {
 public:
  // Sends on `comm`; receives every report on `report_comm`, in each rank's send order.
  MpiTransport(MPI_Comm comm, MPI_Comm report_comm);
  // Waits for the sends still in flight (the Shutdowns): every rank is idle by then.
  ~MpiTransport() override;
  int WorldSize() const override { return size_; }
  // MPI_Isend: a large Assign or a Cancel to a rank that never posts its receive (stuck in a
  // collective) stays pending here instead of blocking the coordinator in MPI_Send.
  void Send(int dest, int tag, const std::string& text) override;
  std::optional<Envelope> TryReceive() override;
  [[noreturn]] void Abort(int code) override;

 private:
  struct Pending {
    std::string text;
    MPI_Request request;
  };
  void Reap();

  MPI_Comm comm_, report_comm_;
  int size_ = 1;
  std::list<Pending> pending_;  // std::list: a buffer must not move while MPI owns it
};

}  // namespace revsweep
