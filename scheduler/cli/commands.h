// The subcommands of `revsweep`. Each returns the process exit code and may throw UserError.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace revsweep {

struct CommandArgs {
  std::string config, store, sweep, out, policy = "largest_first";
  std::string format = "table", per = "trial";
  int ranks = 2;
  bool quiet = false, retry_failed = false, in_allocation = false, per_trial = false;
  bool watch = false, json = false, all = false;
  // submit
  std::string partition, account, qos, time = "04:00:00", mem, job_name;
  int nodes = 1, ntasks_per_node = 2, gpus_per_node = 0, cpus_per_task = 1, jobs = 1;
  int signal_before_s = 120, max_requeues = 20;
  std::vector<std::string> sbatch_extra;
  bool dry_run = false;
  bool stats = false;  // dataset
};

std::string DefaultStore();  // runs/revsweep.db

int CmdRun(const CommandArgs& a);
int CmdPrepare(const CommandArgs& a);
int CmdResume(const CommandArgs& a);
int CmdValidate(const CommandArgs& a);
int CmdDataset(const CommandArgs& a);
int CmdSummary(const CommandArgs& a);
int CmdStatus(const CommandArgs& a);
int CmdExport(const CommandArgs& a);
int CmdSubmit(const CommandArgs& a);
int CmdCancel(const CommandArgs& a);
void AddSubmitOptions(CLI::App* submit, CommandArgs* a);

}  // namespace revsweep
