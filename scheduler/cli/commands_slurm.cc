// submit, cancel: the Slurm path (docs/SLURM.md).
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "common/store/results_store.h"
#include "common/user_error.h"
#include "scheduler/cli/commands.h"
#include "scheduler/cli/prepare.h"
#include "scheduler/slurm/launcher.h"
#include "scheduler/slurm/slurm.h"

namespace revsweep {
namespace fs = std::filesystem;

void AddSubmitOptions(CLI::App* s, CommandArgs* a) {
  s->add_option("--partition,-p", a->partition, "#SBATCH --partition");
  s->add_option("--account,-A", a->account, "#SBATCH --account");
  s->add_option("--qos", a->qos, "#SBATCH --qos");
  s->add_option("--nodes,-N", a->nodes, "#SBATCH --nodes")->capture_default_str();
  s->add_option("--ntasks-per-node", a->ntasks_per_node,
                "MPI ranks per node (one per GPU on GPU nodes)")
      ->capture_default_str();
  s->add_option("--gpus-per-node", a->gpus_per_node, "#SBATCH --gpus-per-node")
      ->capture_default_str();
  s->add_option("--cpus-per-task,-c", a->cpus_per_task, "CPU threads per rank")
      ->capture_default_str();
  s->add_option("--mem", a->mem, "Memory per node, e.g. 64G");
  s->add_option("--time,-t", a->time, "Time limit per job (requeued until done)")
      ->capture_default_str();
  s->add_option("--job-name,-J", a->job_name, "Job name (default revsweep-<sweep>)");
  s->add_option("--sbatch", a->sbatch_extra,
                "Extra #SBATCH option, repeatable: --sbatch=--exclusive");
  s->add_option("--signal-before", a->signal_before_s,
                "Seconds before the limit the job is warned (USR2) to checkpoint")
      ->capture_default_str();
  s->add_option("--max-requeues", a->max_requeues, "Stop requeueing after this many restarts")
      ->capture_default_str();
  s->add_option("--jobs", a->jobs,
                "Submit N jobs sharing the store (trials are claimed atomically)")
      ->capture_default_str();
  s->add_flag("--dry-run", a->dry_run, "Print the batch script; submit nothing");
}

int CmdSubmit(const CommandArgs& a) {
  if (a.jobs < 1) throw UserError("--jobs", 0, 0, "", "must be at least 1");
  // Validate and prepare here, so a bad config fails now and not hours later in the queue.
  SweepConfig cfg = LoadSweepConfig(a.config);
  std::string store = fs::absolute(a.store.empty() ? cfg.run.store : a.store).string();
  SubmitOptions o;
  o.partition = a.partition;
  o.account = a.account;
  o.qos = a.qos;
  o.nodes = a.nodes;
  o.ntasks_per_node = a.ntasks_per_node;
  o.gpus_per_node = a.gpus_per_node;
  o.cpus_per_task = a.cpus_per_task;
  o.mem = a.mem;
  o.time = a.time;
  o.job_name = a.job_name;
  o.extra_sbatch = a.sbatch_extra;
  o.signal_before_s = a.signal_before_s;
  o.max_requeues = a.max_requeues;
  JobSpec job;
  job.revsweep_bin = SelfDir();
  job.config = fs::absolute(a.config).string();
  job.store = store;
  job.sweep = cfg.name;
  job.work_dir = fs::current_path().string();
  const std::string run_dir =
      fs::absolute(cfg.run.run_root + "/" + cfg.name).lexically_normal().string();
  job.log_dir = run_dir + "/slurm";
  std::string script = RenderBatchScript(o, job, FindBatchTemplate());
  if (a.dry_run) {
    fputs(script.c_str(), stdout);
    return kExitOk;
  }
  PrepareReport rep = PrepareParsedSweep(cfg, store, a.quiet);
  ResultsStore s(store);
  for (int i = 0; i < a.jobs; ++i) {
    std::string id = Submit(script, job.log_dir + "/" + cfg.name + ".sbatch");
    JobRow row;
    row.job_id = id;
    row.sweep = cfg.name;
    row.kind = "slurm";
    row.state = "SUBMITTED";
    s.UpsertJob(row);
    printf("submitted job %s for sweep '%s' (%d trials)\n", id.c_str(), cfg.name.c_str(),
           rep.trials);
  }
  printf(
      "watch it:  revsweep status %s --store %s --watch\n"
      "logs:      %s/\n"
      "cancel:    revsweep cancel %s --store %s\n",
      cfg.name.c_str(), store.c_str(), job.log_dir.c_str(), cfg.name.c_str(), store.c_str());
  return kExitOk;
}

int CmdCancel(const CommandArgs& a) {
  const std::string store = a.store.empty() ? DefaultStore() : a.store;
  ResultsStore s(store);
  if (!s.HasSweep(a.sweep)) throw UserError(store, 0, 0, "", "no sweep named '" + a.sweep + "'");
  std::vector<std::string> ids;
  for (const JobRow& j : s.Jobs(a.sweep))
    if (j.kind == "slurm") ids.push_back(j.job_id);
  if (ids.empty()) {
    printf("sweep '%s' has no Slurm jobs\n", a.sweep.c_str());
    return kExitOk;
  }
  // Cancelling sends SIGTERM to the steps first: running trials checkpoint and are recorded
  // as preempted, so `revsweep resume` or a new submit continues them.
  Cancel(ids);
  for (const auto& info : QueryJobs(ids)) {
    JobRow row;
    row.job_id = info.id;
    row.sweep = a.sweep;
    row.kind = "slurm";
    row.state = "CANCELLED";
    if (info.found) row.info = "at cancel: " + info.state;
    s.UpsertJob(row);
  }
  printf("cancelled %zu job(s) of sweep '%s'\n", ids.size(), a.sweep.c_str());
  return kExitOk;
}

}  // namespace revsweep
