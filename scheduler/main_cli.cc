// revsweep: the command line. Torch-free (it links sentencepiece; see docs/ARCHITECTURE.md).
// Each subcommand lives in scheduler/cli/; this file parses flags and dispatches.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "common/user_error.h"
#include "scheduler/cli/commands.h"

int main(int argc, char** argv) {
  using namespace revsweep;
  CLI::App app{
      "revsweep: reversal-curse sweeps. Train many (hyperparameter x model size x seed) trials\n"
      "over MPI ranks or Slurm GPUs, keep every result in one SQLite store, and summarise.\n\n"
      "Start here:\n"
      "  revsweep run configs/quickstart.yaml          # prepare data, train on 2 ranks, report\n"
      "  revsweep status quickstart                    # live progress (another terminal)\n"
      "  revsweep summary quickstart --format markdown # accuracy per cell, mean +/- SE over "
      "seeds\n"
      "Exit codes: 0 ok, 1 some trials failed, 2 bad input, 75 preempted (requeue).",
      "revsweep"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  CommandArgs a;

  auto* run = app.add_subcommand("run", "Prepare and train every pending trial of a sweep");
  run->add_option("config", a.config, "Sweep YAML (see docs/CONFIG.md)")
      ->required()
      ->check(CLI::ExistingFile);
  run->add_option("--store", a.store, "Results store (default: the config's run.store)");
  run->add_option("--ranks,-n", a.ranks, "MPI ranks to start (default 2 = this machine's cores)");
  run->add_option("--policy", a.policy, "Placement policy: largest_first | fifo");
  run->add_flag("--retry-failed", a.retry_failed, "Also rerun trials that failed before");
  run->add_flag("--in-allocation", a.in_allocation,
                "Already under srun/mpirun: run revsweep-train directly, no mpirun");
  run->add_flag("--quiet,-q", a.quiet, "Only the final table");

  auto* prep =
      app.add_subcommand("prepare", "Validate, write data and token caches, record trials");
  prep->add_option("config", a.config, "Sweep YAML")->required()->check(CLI::ExistingFile);
  prep->add_option("--store", a.store, "Results store (default: the config's run.store)");
  prep->add_flag("--quiet,-q", a.quiet, "No per-dataset lines");

  auto* resume = app.add_subcommand(
      "resume", "Continue a sweep from the store (lost trials restart from checkpoints)");
  resume->add_option("sweep", a.sweep, "Sweep name")->required();
  resume->add_option("--store", a.store, "Results store (default runs/revsweep.db)");
  resume->add_option("--ranks,-n", a.ranks, "MPI ranks to start");
  resume->add_option("--policy", a.policy, "Placement policy");
  resume->add_flag("--retry-failed", a.retry_failed, "Also rerun trials that failed");
  resume->add_flag("--quiet,-q", a.quiet, "Only the final table");

  auto* validate =
      app.add_subcommand("validate", "Check a sweep YAML and print its trials; writes nothing");
  validate->add_option("config", a.config, "Sweep YAML")->required();

  auto* dataset = app.add_subcommand(
      "dataset", "Write the sweep's Experiment 1 data in the authors' format, or describe it");
  dataset->add_option("config", a.config, "Sweep YAML")->required()->check(CLI::ExistingFile);
  dataset->add_option("--out,-o", a.out, "Output folder");
  dataset->add_flag(
      "--stats", a.stats,
      "Print statistics that compare datasets: words per person, distinctive words, held-out "
      "targets seen verbatim in training (the same for generated data and the authors' "
      "folders: docs/DATA.md)");
  dataset->footer(
      "Needs --out, --stats or both. The data is the sweep's first trial's: generated, or the "
      "folder named by dataset.source.\n"
      "  revsweep dataset configs/quickstart.yaml -o /tmp/qs_data --stats");

  auto* summary =
      app.add_subcommand("summary", "Accuracy per cell and setting, fits across model sizes");
  summary->add_option("sweep", a.sweep, "Sweep name")->required();
  summary->add_option("--store", a.store, "Results store (default runs/revsweep.db)");
  summary->add_option("--format,-f", a.format, "table | csv | json | markdown")
      ->check(CLI::IsMember({"table", "csv", "json", "markdown"}));
  summary->add_flag("--per-trial", a.per_trial, "One row per trial instead of per setting");
  summary->add_option("--plots", a.out, "Also write PNG and SVG plots into this folder");

  auto* status = app.add_subcommand("status", "Counts, progress, ETA, failures, Slurm jobs");
  status->add_option("sweep", a.sweep, "Sweep name (default: the most recent)");
  status->add_option("--store", a.store, "Results store (default runs/revsweep.db)");
  status->add_flag("--watch,-w", a.watch, "Redraw every 2 s until the sweep ends");
  status->add_flag("--json", a.json, "Machine-readable JSON (docs/STATUS.md)");
  status->add_flag("--all", a.all,
                   "With --json: list every trial, not only running and failed ones (slower on "
                   "big sweeps; `revsweep export` dumps trials with results)");

  auto* exp = app.add_subcommand("export", "Export results for pandas");
  exp->add_option("sweep", a.sweep, "Sweep name")->required();
  exp->add_option("--store", a.store, "Results store (default runs/revsweep.db)");
  exp->add_option("--format,-f", a.format, "csv | jsonl")->check(CLI::IsMember({"csv", "jsonl"}));
  exp->add_option("--per", a.per, "trial | cell")->check(CLI::IsMember({"trial", "cell"}));
  exp->add_option("--out,-o", a.out, "Output file (default stdout)");

  auto* submit = app.add_subcommand("submit", "Submit the sweep as Slurm job(s) (docs/SLURM.md)");
  submit->add_option("config", a.config, "Sweep YAML")->required()->check(CLI::ExistingFile);
  submit->add_option("--store", a.store, "Results store (default: the config's run.store)");
  AddSubmitOptions(submit, &a);

  auto* cancel = app.add_subcommand("cancel", "Cancel the sweep's Slurm jobs");
  cancel->add_option("sweep", a.sweep, "Sweep name")->required();
  cancel->add_option("--store", a.store, "Results store (default runs/revsweep.db)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUserError;
  }
  try {
    if (*run) return CmdRun(a);
    if (*prep) return CmdPrepare(a);
    if (*resume) return CmdResume(a);
    if (*validate) return CmdValidate(a);
    if (*dataset) return CmdDataset(a);
    if (*summary) return CmdSummary(a);
    if (*status) return CmdStatus(a);
    if (*exp) return CmdExport(a);
    if (*submit) return CmdSubmit(a);
    if (*cancel) return CmdCancel(a);
  } catch (const UserError& e) {
    fprintf(stderr, "revsweep: %s\n", e.what());
    return kExitUserError;
  } catch (const std::exception& e) {
    fprintf(stderr, "revsweep: error: %s\n", e.what());
    return kExitFailure;
  }
  return kExitUserError;
}
