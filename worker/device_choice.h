// Which device a rank trains on, and whether a group's members can train together. Pure
// functions of what the rank sees (its place on the node, the GPUs visible to it), so the
// choice is tested without a GPU; worker_loop.cc gathers the inputs (MPI_Comm_split_type for
// the node-local rank, torch for the visible GPUs, which already honours CUDA_VISIBLE_DEVICES).
#pragma once

#include <string>
#include <vector>

namespace revsweep {

struct DeviceEnv {
  bool cuda_build = false;  // built with NCCL and running a CUDA libtorch
  int visible_gpus = 0;     // GPUs this process sees (after CUDA_VISIBLE_DEVICES)
  int local_rank = 0;       // rank among the processes of this node (MPI_COMM_TYPE_SHARED)
  int local_size = 1;
  std::string cuda_visible_devices;  // as set, for messages; "" when unset
};

struct DeviceChoice {
  bool cuda = false;
  int gpu = -1;      // index among the visible GPUs; -1 on the CPU
  std::string note;  // why, or a warning worth a log line ("" when nothing to say)
};

// CPU when the build or the process has no GPU; else GPU local_rank mod visible_gpus. A node
// with more ranks than visible GPUs makes ranks share GPUs, which the note says.
DeviceChoice ChooseDevice(const DeviceEnv& env);

// One member of a group as the others see it.
struct MemberDevice {
  int world_rank = 0;
  std::string node;  // SLURMD_NODENAME or the processor name
  bool cuda = false;
  int gpu = -1;
};

// "" when the members can form one group; else the reason they cannot: some on CUDA and some
// on the CPU (they could not all-reduce together), or two on one GPU of one node (NCCL refuses
// a duplicate GPU in a communicator).
std::string CheckGroupDevices(const std::vector<MemberDevice>& members);

}  // namespace revsweep
