// Slurm batch submission: renders deploy/slurm/revsweep.sbatch.tmpl into a job script, submits
// it with sbatch, and queries or cancels the jobs with squeue/scontrol/scancel. Slurm is driven
// through its command-line tools (fork/exec, arguments as a vector, never a shell), not libslurm:
// the tools are present on every login node, keep a stable text interface across Slurm
// versions, and need no build dependency. See docs/SLURM.md for the user-facing side.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/subprocess.h"

namespace revsweep {

// Resources and policy of one batch job. Empty strings and zero counts mean "not set": no
// #SBATCH line is written and the cluster's default applies.
struct SubmitOptions {
  std::string partition;    // --partition
  std::string account;      // --account
  std::string qos;          // --qos
  int nodes = 1;            // --nodes
  int ntasks_per_node = 1;  // --ntasks-per-node: MPI ranks (trainer workers) per node
  int gpus_per_node = 0;    // --gpus-per-node
  int cpus_per_task = 0;    // --cpus-per-task (also OMP_NUM_THREADS in the job)
  std::string mem;          // --mem, per node: "64G", "500M", "0" (all of it)
  std::string time;         // --time: "90", "4:00:00", "1-00:00:00"
  std::string job_name;     // --job-name; empty: "revsweep-<sweep>"
  // Further options, one per entry, with or without the "#SBATCH " prefix:
  // "--constraint=a100", "--exclusive", "--mail-type=END".
  std::vector<std::string> extra_sbatch;
  // USR2 reaches the trainer this many seconds (up to 30 s more) before the time limit; it must
  // cover writing a checkpoint.
  int signal_before_s = 120;
  // The job stops requeueing itself after this many restarts (a trainer that exits 75 forever
  // would otherwise loop).
  int max_requeues = 20;
};

// What the job runs. Paths must be absolute: the job may start in another directory, on
// another node, hours later.
struct JobSpec {
  std::string revsweep_bin;  // directory holding `revsweep` and `revsweep-train`
  std::string config;        // the sweep config
  std::string store;         // the results store shared by all jobs of the sweep
  std::string sweep;         // sweep name (revsweep-train --sweep)
  // The job's working directory. Relative paths in the config (run.run_root, dataset.source)
  // resolve against it, so it should be where `revsweep submit` ran.
  std::string work_dir;
  // Where Slurm writes slurm-<job name>-<job id>.out and the job records resubmits
  // (slurm-resubmits.txt); empty: work_dir.
  std::string log_dir;
};

// One job as Slurm reports it.
struct JobInfo {
  std::string id;
  // False when Slurm does not know the id: it never existed or finished more than MinJobAge
  // (default 300 s) ago. The store, not Slurm, is then the record of what the job did.
  bool found = false;
  std::string state;       // squeue %T: PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, ...
  std::string reason;      // squeue %r: "None", "Priority", "Resources", "BeginTime", ...
  std::string time_used;   // squeue %M: "1:02:03"
  std::string time_limit;  // squeue %l: "1-00:00:00", "UNLIMITED"
  std::string nodes;       // squeue %N: "gpu[01-02]"; empty while pending
  std::string name;        // squeue %j
  int restarts = 0;        // scontrol Restarts=: how often it was requeued
  int exit_code = 0;       // scontrol ExitCode=<code>:<signal> of the batch script
  int exit_signal = 0;

  // PENDING/RUNNING/... versus COMPLETED/FAILED/CANCELLED/TIMEOUT/...
  bool Finished() const;
};

// A Slurm command failed or could not be run. what() names the command and carries its
// stderr.
class SlurmError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where the Slurm tools are; plain names are looked up on PATH. Tests point these at stand-ins.
struct SlurmTools {
  std::string sbatch = "sbatch";
  std::string squeue = "squeue";
  std::string scontrol = "scontrol";
  std::string scancel = "scancel";
};

// ---- rendering ----------------------------------------------------------------------------

// Renders the job script from the template file at `template_path` (see FindBatchTemplate).
// Deterministic: the same inputs give the same bytes (`revsweep submit --dry-run` prints it).
// Throws UserError for an invalid option (bad --mem, whitespace in a #SBATCH value, relative
// path) and std::runtime_error when the template cannot be read.
std::string RenderBatchScript(const SubmitOptions& options, const JobSpec& job,
                              const std::string& template_path);

// The same from template text. Placeholders are {{name}}; in lines starting with '#' the value
// is inserted as is (it must not contain whitespace in an #SBATCH line), elsewhere it is
// shell-quoted when it needs to be. {{sbatch_options}} stands alone on its line and expands to
// the #SBATCH lines of SbatchOptionLines. An unknown placeholder throws std::runtime_error.
std::string RenderBatchScriptText(const std::string& template_text, const SubmitOptions& options,
                                  const JobSpec& job);

// The #SBATCH lines for the options that are set, in SubmitOptions order, each ending in '\n'.
// Job name, chdir, output, requeue and signal are written by the template itself.
std::string SbatchOptionLines(const SubmitOptions& options);

// The template shipped with revsweep: $REVSWEEP_SLURM_TEMPLATE if set, else the first of
// <exe>/../share/revsweep/, <exe>/../../deploy/slurm/ and this source tree's deploy/slurm/
// that has revsweep.sbatch.tmpl. Throws UserError naming the places tried.
std::string FindBatchTemplate();

// ---- commands -----------------------------------------------------------------------------

// Writes `script_text` to `script_path` (creating its directory; the file is kept as the record
// of what ran), runs `sbatch --parsable script_path` and returns the job id. Throws SlurmError
// with sbatch's stderr when sbatch fails.
std::string Submit(const std::string& script_text, const std::string& script_path,
                   const SlurmTools& tools = {});

// State of each id, in the order given; ids Slurm does not know come back with found=false.
// One squeue call for all ids plus one `scontrol -o show job` per known id (restart count and
// exit code are not in squeue's output). Throws UserError for a malformed id and SlurmError
// when the controller cannot be reached. `with_scontrol` false skips the scontrol calls
// (restarts and exit code stay 0): enough for the state alone.
std::vector<JobInfo> QueryJobs(const std::vector<std::string>& ids, const SlurmTools& tools = {},
                               bool with_scontrol = true);

// scancel the ids. Unknown and already finished jobs are not an error (scancel is silent
// about them too). Throws UserError for a malformed id, SlurmError when scancel fails.
void Cancel(const std::vector<std::string>& ids, const SlurmTools& tools = {});

// ---- parsers (exposed for tests; fed recorded output) --------------------------------------

// The squeue format QueryJobs uses; ParseSqueue reads its output. Name is last because it is
// the one field that may contain the separator.
inline constexpr char kSqueueFormat[] = "%i|%T|%r|%M|%l|%N|%j";
std::vector<JobInfo> ParseSqueue(const std::string& text);

// One line of `scontrol -o show job`: Key=Value pairs separated by spaces, where a value may
// itself contain spaces (Command=, WorkDir=, Comment=).
std::map<std::string, std::string> ParseScontrolLine(const std::string& line);

// Adds Restarts= and ExitCode= from a parsed scontrol line to `job`.
void ApplyScontrol(const std::map<std::string, std::string>& fields, JobInfo* job);

// sbatch --parsable prints "<id>" or "<id>;<cluster>". Throws SlurmError on anything else.
std::string ParseSbatchParsable(const std::string& text);

// True for ids sbatch hands out: "123", or "123_4" for an array task.
bool IsValidJobId(const std::string& id);

// Shell-quotes `s` for a bash line: as is when it only has safe characters, else in single
// quotes.
std::string ShellQuote(const std::string& s);

}  // namespace revsweep
