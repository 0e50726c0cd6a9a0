// Messages between the coordinator (MPI rank 0, a thread) and worker ranks. This header is the
// whole protocol; the MPI transport lives in scheduler/coordinator.cc and worker/worker_loop.cc.
//
//   coordinator -> every member of a group  kTagAssign    Assign (JSON)
//   coordinator -> a group's leader         kTagCancel    Cancel (JSON): stop at the next step
//   leader      -> coordinator              kTagProgress  Progress (JSON), every few seconds
//   leader      -> coordinator              kTagResult    Result (JSON): trial finished
//   any member  -> coordinator              kTagFailed    Failed (JSON): error or preempted
//   any member  -> coordinator              kTagHeartbeat Heartbeat (JSON), while assigned,
//                                                         and a last one when it leaves
//   coordinator -> every rank               kTagShutdown  Shutdown (JSON): exit with code
//   member      <-> its group leader        kTagGroupReuse  int64 vote / int decision
//                                                         (worker/group_reuse.h)
//
// Workers send their reports on a communicator of their own (a second dup of WORLD), so the
// coordinator receives them in the order each rank sent them, whatever their tags.
//
// Failures: every member of a group that catches an error reports it, with its world rank.
// The members that did not fail are then usually blocked in a collective with the one that did
// (an all-reduce, a broadcast), which MPI cannot interrupt: the coordinator never reuses the
// ranks of a group that did not report as a whole, and ends the job (see coordinator.h). A
// member's heartbeat comes from its own thread, so a rank blocked in a collective still beats
// and a stopped or dead one does not: silence names the culprit.
//
// Groups are formed per assignment: every member receives the same Assign (with the member
// ranks and a communicator tag) and calls MPI_Comm_create_group, so group size may differ by
// trial (e.g. by model size). Group rank 0 (the lowest world rank) is the leader: it
// broadcasts initial parameters within the group, checkpoints, evaluates and reports.
// All payloads are JSON text: tiny next to a training step, and readable in logs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/store/results_store.h"

namespace revsweep {

enum MessageTag : int {
  kTagAssign = 101,
  kTagCancel = 102,
  kTagProgress = 103,
  kTagResult = 104,
  kTagFailed = 105,
  kTagShutdown = 106,
  kTagHeartbeat = 107,
  // Worker to worker, on the coordinator communicator: a member's vote on keeping the
  // group's communicators (worker/group_reuse.h) and its leader's answer.
  kTagGroupReuse = 108,
};

struct AssignMsg {
  std::string trial_id;
  std::string settings_json;   // SettingsToJson of the trial
  std::string task_path;       // token cache written by `revsweep prepare`
  std::string checkpoint_dir;  // <run dir>/trials/<id>/checkpoints
  int64_t attempt_id = 0;
  int attempt_number = 1;  // 1-based count of this trial's attempts
  std::vector<int> ranks;  // world ranks of the group, ascending; ranks[0] leads
  int comm_tag = 0;        // tag for MPI_Comm_create_group, unique per assignment
  double bucket_mb = 4;
  double progress_every_s = 2;
  double heartbeat_every_s = 5;  // each member beats this often while it has the assignment
};

struct CancelMsg {
  std::string trial_id;
  std::string reason;  // "timeout" | "preempted"
};

struct ProgressMsg {
  int64_t attempt_id = 0;
  // >= 0 only in the first message of an attempt, sent right after the checkpoint restore:
  // the step training actually resumed from (0 = fresh). Such a message carries no progress.
  int64_t start_step = -1;
  ProgressRow row;
  std::vector<std::pair<int64_t, double>> curve;  // (step, loss) points since last message
};

struct ResultMsg {
  std::string trial_id;
  int64_t attempt_id = 0;
  std::map<std::string, double> metrics;
  int64_t params = 0;
  int64_t end_step = 0;
};

struct FailedMsg {
  std::string trial_id;
  int64_t attempt_id = 0;
  Outcome outcome = Outcome::kCrash;  // crash | fatal | timeout | preempted
  std::string message;
  int64_t end_step = 0;
  int rank = -1;  // world rank of the member that reports (each member reports its own error)
};

struct HeartbeatMsg {
  int64_t attempt_id = 0;
  int rank = 0;
  bool left = false;  // the member's last message of the assignment: it is back in its idle loop
};

struct ShutdownMsg {
  int exit_code = 0;
};

std::string Encode(const AssignMsg& m);
std::string Encode(const CancelMsg& m);
std::string Encode(const ProgressMsg& m);
std::string Encode(const ResultMsg& m);
std::string Encode(const FailedMsg& m);
std::string Encode(const ShutdownMsg& m);
std::string Encode(const HeartbeatMsg& m);
// Decoders throw std::runtime_error on malformed input.
AssignMsg DecodeAssign(const std::string& s);
CancelMsg DecodeCancel(const std::string& s);
ProgressMsg DecodeProgress(const std::string& s);
ResultMsg DecodeResult(const std::string& s);
FailedMsg DecodeFailed(const std::string& s);
ShutdownMsg DecodeShutdown(const std::string& s);
HeartbeatMsg DecodeHeartbeat(const std::string& s);

}  // namespace revsweep
