#include "scheduler/cli/progress_line.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "common/store/results_store.h"
#include "scheduler/status/status_report.h"
#include "scheduler/summary/summary.h"
#include "scheduler/summary/summary_render.h"

namespace revsweep {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

ProgressLine::ProgressLine(std::string store, std::string sweep, bool quiet)
    : store_(std::move(store)),
      sweep_(std::move(sweep)),
      quiet_(quiet),
      tty_(isatty(2)),
      start_(Now()) {}

void ProgressLine::Update() {
  if (quiet_) return;
  const double now = Now();
  if (!tty_ && now - last_print_ < 10) return;  // logs: a line every 10 s
  last_print_ = now;
  try {
    ResultsStore s(store_, /*readonly=*/true);
    // Narrow rows (one range scan): cheap even for 100k trials; loss and tokens/s come from
    // the few running trials' progress rows.
    auto trials = s.TrialStates(sweep_);
    int done = 0, running = 0, failed = 0;
    double loss = 0, tps = 0;
    for (const auto& t : trials) {
      if (t.state == TrialState::kDone) {
        ++done;
      } else if (t.state == TrialState::kFailed) {
        ++failed;
      } else if (t.state == TrialState::kRunning) {
        ++running;
        if (t.has_progress && t.total_steps > 0) {
          if (auto p = s.TrialProgress(t.id)) {
            loss += p->loss;
            tps += p->tokens_per_s;
          }
        }
      }
    }
    // Fraction and ETA as `revsweep status` gives them (EstimateEta): from each trial's own
    // training time, so trials an earlier run finished do not make the rest look quick.
    const EtaEstimate e = EstimateEta(trials);
    const double frac = e.fraction;
    const double eta = e.eta_known ? e.eta_s : NAN;
    const int width = 24;
    std::string bar(static_cast<size_t>(width * frac + 0.5), '#');
    bar.resize(width, '.');
    char line[256];
    snprintf(line, sizeof line,
             "[%s] %3.0f%%  %d/%zu done  %d running%s  loss %.3f  %.0f tok/s  ETA %s", bar.c_str(),
             100 * frac, done, trials.size(), running,
             failed ? (", " + std::to_string(failed) + " failed").c_str() : "",
             running ? loss / running : 0.0, tps, FormatDuration(eta).c_str());
    std::string l = line;
    if (tty_) {
      std::string pad = l.size() < last_len_ ? std::string(last_len_ - l.size(), ' ') : "";
      fprintf(stderr, "\r%s%s", l.c_str(), pad.c_str());
      last_len_ = l.size();
    } else {
      fprintf(stderr, "%s\n", l.c_str());
    }
    fflush(stderr);
  } catch (const std::exception&) {
    // The store may not exist for a moment at start-up; the next tick will try again.
  }
}

void ProgressLine::Finish() {
  if (!quiet_ && tty_ && last_len_) fprintf(stderr, "\n");
}

void PrintRunTable(const std::string& store, const std::string& sweep) {
  ResultsStore s(store, /*readonly=*/true);
  fputs(RenderPerTrial(BuildPerTrialTable(s.Trials(sweep), s.SweepResults(sweep)),
                       SummaryFormat::kTable)
            .c_str(),
        stdout);
}

}  // namespace revsweep
