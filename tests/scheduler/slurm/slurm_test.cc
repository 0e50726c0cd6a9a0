// Unit tests of scheduler/slurm: the job-script renderer (against the shipped template), the
// parsers of squeue/scontrol/sbatch output (recorded from Slurm 22.05), the process runner, and
// Submit/QueryJobs/Cancel against stand-in Slurm tools. No Slurm cluster needed; the live path
// is covered by tests/slurm/local_cluster_test.sh.
#include "scheduler/slurm/slurm.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/user_error.h"
#include "scheduler/slurm/job_liveness.h"
#include "tests/lib/temp_dir.h"

namespace revsweep {
namespace {

namespace fs = std::filesystem;

const std::string kTemplate = std::string(REVSWEEP_SRC_DIR) + "/deploy/slurm/revsweep.sbatch.tmpl";

JobSpec Spec() {
  JobSpec j;
  j.revsweep_bin = "/opt/revsweep/bin";
  j.config = "/home/ada/sweeps/lr.yaml";
  j.store = "/scratch/ada/lr.sqlite";
  j.sweep = "lr";
  j.work_dir = "/home/ada/project";
  j.log_dir = "/scratch/ada/runs/lr/slurm";
  return j;
}

SubmitOptions FullOptions() {
  SubmitOptions o;
  o.partition = "gpu";
  o.account = "proj42";
  o.qos = "high";
  o.nodes = 2;
  o.ntasks_per_node = 4;
  o.gpus_per_node = 4;
  o.cpus_per_task = 8;
  o.mem = "256G";
  o.time = "1-00:00:00";
  o.job_name = "lr-sweep";
  o.extra_sbatch = {"--constraint=a100", "#SBATCH --exclusive", "  "};
  o.signal_before_s = 300;
  o.max_requeues = 7;
  return o;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> SbatchLines(const std::string& script) {
  std::vector<std::string> out;
  for (const auto& l : Lines(script)) {
    if (l.rfind("#SBATCH", 0) == 0) out.push_back(l);
  }
  return out;
}

// The shared temp dir, plus executable stand-ins for the Slurm tools.
class TempDir : public testutil::TempDir {
 public:
  TempDir() : testutil::TempDir("slurm_test") {}
  fs::path path() const { return fs::path(testutil::TempDir::path()); }

  // An executable shell script standing in for a Slurm tool.
  std::string Tool(const std::string& name, const std::string& body) const {
    fs::path p = path() / name;
    std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
    chmod(p.c_str(), 0755);
    return p.string();
  }
};

// ---- rendering ----------------------------------------------------------------------------

TEST(SlurmRender, EveryOptionBecomesItsSbatchLine) {
  EXPECT_EQ(SbatchOptionLines(FullOptions()),
            "#SBATCH --partition=gpu\n"
            "#SBATCH --account=proj42\n"
            "#SBATCH --qos=high\n"
            "#SBATCH --nodes=2\n"
            "#SBATCH --ntasks-per-node=4\n"
            "#SBATCH --gpus-per-node=4\n"
            "#SBATCH --cpus-per-task=8\n"
            "#SBATCH --mem=256G\n"
            "#SBATCH --time=1-00:00:00\n"
            "#SBATCH --constraint=a100\n"
            "#SBATCH --exclusive\n");
}

TEST(SlurmRender, UnsetOptionsWriteNoLine) {
  EXPECT_EQ(SbatchOptionLines(SubmitOptions{}),
            "#SBATCH --nodes=1\n"
            "#SBATCH --ntasks-per-node=1\n");
}

// The dry-run output of the shipped template: the complete #SBATCH block, in order. If this
// changes, jobs on users' clusters change: update docs/SLURM.md with it.
TEST(SlurmRender, ShippedTemplateSbatchBlockIsStable) {
  const std::string script = RenderBatchScript(FullOptions(), Spec(), kTemplate);
  EXPECT_EQ(SbatchLines(script), (std::vector<std::string>{
                                     "#SBATCH --job-name=lr-sweep",
                                     "#SBATCH --partition=gpu",
                                     "#SBATCH --account=proj42",
                                     "#SBATCH --qos=high",
                                     "#SBATCH --nodes=2",
                                     "#SBATCH --ntasks-per-node=4",
                                     "#SBATCH --gpus-per-node=4",
                                     "#SBATCH --cpus-per-task=8",
                                     "#SBATCH --mem=256G",
                                     "#SBATCH --time=1-00:00:00",
                                     "#SBATCH --constraint=a100",
                                     "#SBATCH --exclusive",
                                     "#SBATCH --chdir=/home/ada/project",
                                     "#SBATCH --output=/scratch/ada/runs/lr/slurm/slurm-%x-%j.out",
                                     "#SBATCH --open-mode=append",
                                     "#SBATCH --requeue",
                                     "#SBATCH --signal=B:USR2@300",
                                 }));
  EXPECT_EQ(script, RenderBatchScript(FullOptions(), Spec(), kTemplate)) << "not deterministic";
  EXPECT_EQ(script.find("{{"), std::string::npos) << "placeholder left";
}

TEST(SlurmRender, SbatchLinesPrecedeTheFirstCommand) {
  // sbatch stops reading #SBATCH lines at the first line that is not a comment or blank; an
  // option after it would be silently ignored.
  const std::string script = RenderBatchScript(FullOptions(), Spec(), kTemplate);
  bool command_seen = false;
  for (const auto& l : Lines(script)) {
    if (l.rfind("#SBATCH", 0) == 0) {
      EXPECT_FALSE(command_seen) << "#SBATCH after the first command: " << l;
    } else if (!l.empty() && l[0] != '#') {
      command_seen = true;
    }
  }
  EXPECT_TRUE(command_seen);
}

TEST(SlurmRender, BodyCarriesTheJobAndPolicy) {
  const std::string script = RenderBatchScript(FullOptions(), Spec(), kTemplate);
  EXPECT_NE(script.find("\nREVSWEEP_BIN=/opt/revsweep/bin\n"), std::string::npos);
  EXPECT_NE(script.find("\nexport REVSWEEP_CONFIG=/home/ada/sweeps/lr.yaml\n"), std::string::npos);
  EXPECT_NE(script.find("\nexport REVSWEEP_STORE=/scratch/ada/lr.sqlite\n"), std::string::npos);
  EXPECT_NE(script.find("\nexport REVSWEEP_SWEEP=lr\n"), std::string::npos);
  EXPECT_NE(script.find("\nexport REVSWEEP_WORK_DIR=/home/ada/project\n"), std::string::npos);
  EXPECT_NE(script.find("\nexport REVSWEEP_LOG_DIR=/scratch/ada/runs/lr/slurm\n"),
            std::string::npos);
  EXPECT_NE(script.find("\nMAX_REQUEUES=7\n"), std::string::npos);
  EXPECT_NE(script.find("srun --mpi="), std::string::npos);
  EXPECT_NE(script.find("scontrol requeue"), std::string::npos);
}

TEST(SlurmRender, DefaultJobNameAndSignal) {
  const std::string script = RenderBatchScript(SubmitOptions{}, Spec(), kTemplate);
  const auto lines = SbatchLines(script);
  EXPECT_EQ(lines.front(), "#SBATCH --job-name=revsweep-lr");
  EXPECT_EQ(lines.back(), "#SBATCH --signal=B:USR2@120");
}

TEST(SlurmRender, LogDirDefaultsToWorkDir) {
  JobSpec job = Spec();
  job.log_dir.clear();
  const std::string script = RenderBatchScript(SubmitOptions{}, job, kTemplate);
  EXPECT_NE(script.find("\n#SBATCH --output=/home/ada/project/slurm-%x-%j.out\n"),
            std::string::npos);
  EXPECT_NE(script.find("\nexport REVSWEEP_LOG_DIR=/home/ada/project\n"), std::string::npos);
}

TEST(SlurmRender, RenderedScriptIsValidBash) {
  TempDir dir;
  JobSpec job = Spec();
  job.config = "/home/ada/my sweeps/it's $HOME.yaml";  // quoted in the body
  fs::path script = dir.path() / "job.sbatch";
  std::ofstream(script) << RenderBatchScript(FullOptions(), job, kTemplate);
  CommandResult r = RunCommand({"bash", "-n", script.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(SlurmRender, ShellQuoteRoundTripsThroughBash) {
  for (const std::string s : {"plain", "/a/b-c_d.e", "with space", "it's", "$HOME", "a\"b", "`x`",
                              "*", "~", "", "a;b|c&d", "\\n"}) {
    CommandResult r = RunCommand({"bash", "-c", "printf %s " + ShellQuote(s)});
    EXPECT_EQ(r.out, s) << "quoted as " << ShellQuote(s);
  }
  EXPECT_EQ(ShellQuote("/scratch/x.sqlite"), "/scratch/x.sqlite");
}

TEST(SlurmRender, InlineTemplateQuotesOnlyOutsideComments) {
  JobSpec job = Spec();
  job.sweep = "lr sweep";
  SubmitOptions o;
  o.job_name = "x";
  EXPECT_EQ(RenderBatchScriptText("# sweep {{sweep}}\nS={{sweep}}\n  {{sbatch_options}}\n", o, job),
            "# sweep lr sweep\nS='lr sweep'\n#SBATCH --nodes=1\n#SBATCH --ntasks-per-node=1\n");
}

TEST(SlurmRender, RejectsBadInput) {
  auto render = [](SubmitOptions o, JobSpec j) { RenderBatchScript(o, j, kTemplate); };
  JobSpec relative = Spec();
  relative.store = "runs/x.sqlite";
  EXPECT_THROW(render({}, relative), UserError);
  JobSpec newline = Spec();
  newline.sweep = "a\nrm -rf /";
  EXPECT_THROW(render({}, newline), UserError);
  JobSpec spaced_dir = Spec();
  spaced_dir.work_dir = "/scratch/my runs";  // would split the #SBATCH --chdir line
  EXPECT_THROW(render({}, spaced_dir), UserError);

  SubmitOptions o;
  o.partition = "gpu debug";
  EXPECT_THROW(render(o, Spec()), UserError);
  o = {};
  o.mem = "lots";
  EXPECT_THROW(render(o, Spec()), UserError);
  o = {};
  o.nodes = 0;
  EXPECT_THROW(render(o, Spec()), UserError);
  o = {};
  o.extra_sbatch = {"constraint=a100"};
  EXPECT_THROW(render(o, Spec()), UserError);
  o = {};
  o.signal_before_s = 0;
  EXPECT_THROW(render(o, Spec()), UserError);

  EXPECT_THROW(RenderBatchScriptText("X={{nope}}\n", {}, Spec()), std::runtime_error);
  EXPECT_THROW(RenderBatchScript({}, Spec(), "/nonexistent/revsweep.sbatch.tmpl"),
               std::runtime_error);
}

TEST(SlurmRender, FindsTheTemplate) {
  unsetenv("REVSWEEP_SLURM_TEMPLATE");
  EXPECT_TRUE(fs::equivalent(FindBatchTemplate(), kTemplate));
  setenv("REVSWEEP_SLURM_TEMPLATE", "/nonexistent.tmpl", 1);
  EXPECT_THROW(FindBatchTemplate(), UserError);
  unsetenv("REVSWEEP_SLURM_TEMPLATE");
}

// ---- parsers (output recorded from Slurm 22.05.8) -------------------------------------------

TEST(SlurmParse, Squeue) {
  const std::string out =
      "9|COMPLETED|None|0:00|UNLIMITED|vm|rq.sh\n"
      "12|CANCELLED|None|0:00|UNLIMITED||wrap\n"
      "13|PENDING|BeginTime|0:00|2:00||revsweep-lr\n"
      "14|RUNNING|None|1:02:03|1-00:00:00|gpu[01-02]|name|with|bars\n";
  auto jobs = ParseSqueue(out);
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(jobs[0].id, "9");
  EXPECT_EQ(jobs[0].state, "COMPLETED");
  EXPECT_EQ(jobs[0].nodes, "vm");
  EXPECT_TRUE(jobs[0].Finished());
  EXPECT_EQ(jobs[1].nodes, "");
  EXPECT_EQ(jobs[2].reason, "BeginTime");
  EXPECT_EQ(jobs[2].time_limit, "2:00");
  EXPECT_FALSE(jobs[2].Finished());
  EXPECT_EQ(jobs[3].time_used, "1:02:03");
  EXPECT_EQ(jobs[3].name, "name|with|bars");
  EXPECT_TRUE(ParseSqueue("").empty());
  EXPECT_THROW(ParseSqueue("12 RUNNING\n"), SlurmError);
}

TEST(SlurmParse, ScontrolShowJob) {
  const std::string line =
      "JobId=9 JobName=rq.sh UserId=root(0) GroupId=root(0) MCS_label=N/A Priority=4294901751 "
      "Nice=0 Account=(null) QOS=(null) JobState=COMPLETED Reason=None Dependency=(null) "
      "Requeue=1 Restarts=2 BatchFlag=1 Reboot=0 ExitCode=75:0 RunTime=00:00:00 "
      "TimeLimit=UNLIMITED TimeMin=N/A SubmitTime=2026-11-26T10:27:44 "
      "AllocNode:Sid=localhost:6767 ReqB:S:C:T=0:0:*:* TRES=cpu=1,node=1,billing=1 "
      "Command=/tmp/my dir/rq.sh WorkDir=/tmp/mpit StdOut=/tmp/mpit/rq-9.out Power=";
  auto f = ParseScontrolLine(line);
  EXPECT_EQ(f["JobId"], "9");
  EXPECT_EQ(f["JobState"], "COMPLETED");
  EXPECT_EQ(f["Restarts"], "2");
  EXPECT_EQ(f["AllocNode:Sid"], "localhost:6767");
  EXPECT_EQ(f["TRES"], "cpu=1,node=1,billing=1");
  EXPECT_EQ(f["Command"], "/tmp/my dir/rq.sh");
  EXPECT_EQ(f["Power"], "");
  JobInfo j;
  ApplyScontrol(f, &j);
  EXPECT_EQ(j.restarts, 2);
  EXPECT_EQ(j.exit_code, 75);
  EXPECT_EQ(j.exit_signal, 0);
  ApplyScontrol({{"ExitCode", "0:15"}}, &j);
  EXPECT_EQ(j.exit_code, 0);
  EXPECT_EQ(j.exit_signal, 15);
}

TEST(SlurmParse, SbatchParsable) {
  EXPECT_EQ(ParseSbatchParsable("42\n"), "42");
  EXPECT_EQ(ParseSbatchParsable("42;revsweep-local\n"), "42");
  EXPECT_THROW(ParseSbatchParsable(""), SlurmError);
  EXPECT_THROW(ParseSbatchParsable("Submitted batch job 42\n"), SlurmError);
}

TEST(SlurmParse, JobIds) {
  EXPECT_TRUE(IsValidJobId("123"));
  EXPECT_TRUE(IsValidJobId("123_4"));
  EXPECT_FALSE(IsValidJobId(""));
  EXPECT_FALSE(IsValidJobId("12 3"));
  EXPECT_FALSE(IsValidJobId("-u"));
  EXPECT_FALSE(IsValidJobId("123,456"));
}

TEST(SlurmParse, FinishedStates) {
  JobInfo j;
  j.found = true;
  for (const char* s : {"PENDING", "RUNNING", "COMPLETING", "REQUEUED", "SUSPENDED"}) {
    j.state = s;
    EXPECT_FALSE(j.Finished()) << s;
  }
  for (const char* s : {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL"}) {
    j.state = s;
    EXPECT_TRUE(j.Finished()) << s;
  }
  j.found = false;
  EXPECT_TRUE(j.Finished());
}

// ---- commands against stand-in tools -----------------------------------------------------------

TEST(SlurmCommands, AMissingToolIsASlurmErrorWithAHint) {
  TempDir dir;
  SlurmTools tools;
  tools.squeue = "revsweep-no-such-squeue";
  try {
    QueryJobs({"1"}, tools);
    FAIL() << "no error";
  } catch (const SlurmError& e) {
    EXPECT_NE(std::string(e.what()).find("is Slurm installed"), std::string::npos) << e.what();
  }
}

TEST(SlurmCommands, SubmitWritesTheScriptAndReturnsTheId) {
  TempDir dir;
  SlurmTools tools;
  // The stand-in records its arguments and the script it was given.
  tools.sbatch = dir.Tool("sbatch",
                          "echo \"$@\" > \"$(dirname \"$0\")/args\"\n"
                          "echo '4242;revsweep-local'");
  const std::string path = (dir.path() / "run" / "slurm" / "job.sbatch").string();
  EXPECT_EQ(Submit("#!/bin/bash\necho hi\n", path, tools), "4242");
  std::ifstream script(path);
  std::stringstream text;
  text << script.rdbuf();
  EXPECT_EQ(text.str(), "#!/bin/bash\necho hi\n");
  std::ifstream args(dir.path() / "args");
  std::string line;
  std::getline(args, line);
  EXPECT_EQ(line, "--parsable " + path);
}

TEST(SlurmCommands, SubmitFailureCarriesSbatchStderr) {
  TempDir dir;
  SlurmTools tools;
  tools.sbatch =
      dir.Tool("sbatch", "echo 'sbatch: error: invalid partition specified: gpu' >&2\nexit 1");
  try {
    Submit("#!/bin/bash\n", (dir.path() / "job.sbatch").string(), tools);
    FAIL() << "no throw";
  } catch (const SlurmError& e) {
    EXPECT_NE(std::string(e.what()).find("invalid partition specified: gpu"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("exit code 1"), std::string::npos) << e.what();
  }
}

TEST(SlurmCommands, QueryJobsCombinesSqueueAndScontrol) {
  TempDir dir;
  SlurmTools tools;
  tools.squeue = dir.Tool("squeue",
                          "echo \"$@\" > \"$(dirname \"$0\")/squeue.args\"\n"
                          "echo '7|RUNNING|None|0:05|2:00|vm|revsweep-lr'\n"
                          "echo '5|COMPLETED|None|0:30|2:00|vm|revsweep-lr'");
  tools.scontrol = dir.Tool("scontrol",
                            "echo \"JobId=$4 JobName=revsweep-lr JobState=X Restarts=$4 "
                            "ExitCode=0:0 Command=/a b\"");
  auto jobs = QueryJobs({"5", "6", "7"}, tools);
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].id, "5");
  EXPECT_TRUE(jobs[0].found);
  EXPECT_EQ(jobs[0].state, "COMPLETED");
  EXPECT_EQ(jobs[0].restarts, 5);
  EXPECT_EQ(jobs[1].id, "6");
  EXPECT_FALSE(jobs[1].found);
  EXPECT_EQ(jobs[2].state, "RUNNING");
  EXPECT_EQ(jobs[2].restarts, 7);
  std::ifstream args(dir.path() / "squeue.args");
  std::string line;
  std::getline(args, line);
  EXPECT_EQ(line, std::string("-h -t all -j 5,6,7 -o ") + kSqueueFormat);
  EXPECT_THROW(QueryJobs({"5; rm -rf /"}, tools), UserError);
  EXPECT_TRUE(QueryJobs({}, tools).empty());
}

TEST(SlurmCommands, QueryJobsAllPurgedIsNotAnError) {
  TempDir dir;
  SlurmTools tools;
  // What squeue 22.05 does when no listed id is known.
  tools.squeue =
      dir.Tool("squeue", "echo 'slurm_load_jobs error: Invalid job id specified' >&2\nexit 1");
  auto jobs = QueryJobs({"1", "2"}, tools);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_FALSE(jobs[0].found);
  EXPECT_FALSE(jobs[1].found);

  tools.squeue = dir.Tool(
      "squeue", "echo 'slurm_load_jobs error: Unable to contact slurm controller' >&2\nexit 1");
  EXPECT_THROW(QueryJobs({"1"}, tools), SlurmError);
}

TEST(SlurmCommands, CancelPassesIdsAsArguments) {
  TempDir dir;
  SlurmTools tools;
  tools.scancel = dir.Tool("scancel", "echo \"$@\" > \"$(dirname \"$0\")/args\"");
  Cancel({"3", "4_1"}, tools);
  std::ifstream args(dir.path() / "args");
  std::string line;
  std::getline(args, line);
  EXPECT_EQ(line, "3 4_1");
  EXPECT_THROW(Cancel({"--user=root"}, tools), UserError);
  tools.scancel = dir.Tool("scancel2", "echo 'scancel: error: Access denied' >&2\nexit 1");
  EXPECT_THROW(Cancel({"3"}, tools), SlurmError);
}

}  // namespace
}  // namespace revsweep

// ---- job liveness: one state table, and "cannot ask" is never "gone" ---------------------------

namespace revsweep {
namespace {

TEST(JobLiveness, UsesTheOneSlurmStateTable) {
  TempDir dir;
  LivenessProbe probe;
  probe.nap = [](double) {};
  const std::string line = "echo '42|%s|None|0:05|2:00|vm|revsweep'";
  probe.tools.scontrol = dir.Tool("scontrol", "exit 1");
  for (const char* state : {"RUNNING", "PENDING", "STOPPED", "SUSPENDED", "REQUEUED"}) {
    char body[200];
    snprintf(body, sizeof body, line.c_str(), state);
    probe.tools.squeue = dir.Tool(std::string("squeue_") + state, body);
    EXPECT_EQ(CheckJob("42", "7", probe), Liveness::kAlive) << state;
  }
  for (const char* state : {"COMPLETED", "FAILED", "CANCELLED", "NODE_FAIL"}) {
    char body[200];
    snprintf(body, sizeof body, line.c_str(), state);
    probe.tools.squeue = dir.Tool(std::string("squeue_") + state, body);
    EXPECT_EQ(CheckJob("42", "7", probe), Liveness::kGone) << state;
  }
  probe.tools.squeue = dir.Tool(
      "squeue_purged", "echo 'slurm_load_jobs error: Invalid job id specified' >&2\nexit 1");
  EXPECT_EQ(CheckJob("42", "7", probe), Liveness::kGone);
  // The job asking is this job after a requeue: its own old attempts are dead.
  EXPECT_EQ(CheckJob("7", "7", probe), Liveness::kGone);
}

TEST(JobLiveness, AFailingSqueueIsRetriedThenUnknownNeverGone) {
  TempDir dir;
  LivenessProbe probe;
  std::vector<double> naps;
  probe.nap = [&](double s) { naps.push_back(s); };
  probe.tools.scontrol = dir.Tool("scontrol", "exit 1");
  probe.tools.squeue =
      dir.Tool("squeue_down",
               "echo 'slurm_load_jobs error: Unable to contact slurm controller' >&2\nexit 1");
  std::string why;
  EXPECT_EQ(CheckJob("42", "7", probe, &why), Liveness::kUnknown);
  EXPECT_EQ(naps.size(), 2u);  // three tries
  EXPECT_NE(why.find("Unable to contact"), std::string::npos) << why;

  // A controller that answers on the second try.
  naps.clear();
  probe.tools.squeue =
      dir.Tool("squeue_flaky",
               "f=\"$(dirname \"$0\")/tries\"; echo x >> \"$f\"\n"
               "if [ $(wc -l < \"$f\") -lt 2 ]; then echo 'timeout' >&2; exit 1; fi\n"
               "echo '42|RUNNING|None|0:05|2:00|vm|revsweep'");
  EXPECT_EQ(CheckJob("42", "7", probe), Liveness::kAlive);
  EXPECT_EQ(naps.size(), 1u);
}

}  // namespace
}  // namespace revsweep
