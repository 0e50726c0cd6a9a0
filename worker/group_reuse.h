// Whether a worker keeps its group communicators (the MPI group communicator and, on CUDA,
// the NCCL communicator over it) from one trial to the next. Making an NCCL communicator
// costs about a second on a GPU; a sweep gives one group many trials in a row.
//
// A rank holds the communicators of its last group only when that trial finished (a result,
// not a failure, cancel, preemption or regroup: KeepGroupAfter). For its next assignment
// every member votes (ReuseVote): the attempt that created what it holds, when that serves
// exactly the new group's ranks on the same device, else -1. The group's leader collects the
// votes (point to point on the coordinator communicator, before any group collective) and
// answers all members with AgreeReuse: keep only when every vote is the same attempt, so all
// members hold the same communicators; otherwise every member frees what it holds and the
// group makes new ones together.
#pragma once

#include <cstdint>
#include <vector>

namespace revsweep {

// What a rank holds, or wants for its next trial.
struct GroupKey {
  std::vector<int> ranks;  // world ranks of the members, in the assignment's order
  bool cuda = false;
  int gpu = -1;
};

struct HeldGroupKey {
  GroupKey key;
  int64_t created_by = -1;  // attempt id that created the communicators; -1: holds none
};

// This rank's vote for a trial that wants `want`.
int64_t ReuseVote(const HeldGroupKey& held, const GroupKey& want);

// The group's decision from all members' votes (the leader's included).
bool AgreeReuse(const std::vector<int64_t>& votes);

enum class TrialEnd { kFinished, kStopped, kFailed };

// Whether a rank keeps its group's communicators after a trial ended this way: only a
// finished trial leaves the group in step (every collective matched); a stop (cancel,
// preemption, regroup, timeout) or a failure (of any member) frees them.
bool KeepGroupAfter(TrialEnd end);

}  // namespace revsweep
