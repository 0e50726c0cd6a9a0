// The status renderers: JSON (/status, /trials), the terminal text of `revsweep status` and
// Prometheus metrics, all from a StatusSnapshot (status_report.h). Snapshots and the ETA are
// built in status_report.cc.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "common/config/settings_vary.h"
#include "scheduler/settings_json.h"
#include "scheduler/status/status_internal.h"
#include "scheduler/status/status_report.h"
namespace revsweep {
namespace {

using status_internal::Clamp01;
using status_internal::StepFraction;

using Json = nlohmann::ordered_json;  // ordered: stable, human-friendly field order

constexpr int kMaxFailuresShown = 10;  // StatusText: "last 10 failures"
constexpr int kMaxJobsShown = 5;       // StatusText: the most recent jobs only

// Shortest of %.15g / %.17g that reads back exactly: metrics must not lose precision, but
// 3.2145 should not print as 3.2145000000000001.
std::string Num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  if (std::strtod(buf, nullptr) != v) std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string Printf(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// Null for "not measured" and for non-finite values, so the JSON stays parseable.
Json NumOrNull(bool known, double v) { return known && std::isfinite(v) ? Json(v) : Json(); }

Json TrialJson(const TrialStatus& t, bool with_settings) {
  Json o;
  o["id"] = t.id;
  o["description"] = t.description;
  if (with_settings) o["settings"] = SettingsJson(t.settings);
  o["state"] = TrialStateName(t.state);
  o["attempts"] = t.attempts;
  o["cost"] = t.cost;
  o["step"] = t.step;
  o["total_steps"] = t.total_steps;
  double f = StepFraction(t);
  o["fraction"] = t.state == TrialState::kDone ? Json(1.0) : NumOrNull(f >= 0, f);
  o["loss"] = NumOrNull(t.has_progress, t.loss);
  o["tokens_per_second"] = NumOrNull(t.has_progress, t.tokens_per_s);
  o["elapsed_seconds"] = NumOrNull(t.has_progress, t.elapsed_s);
  o["progress_updated_at"] = NumOrNull(t.has_progress, t.progress_updated_at);
  o["updated_at"] = t.updated_at;
  o["last_error"] = t.last_error;
  return o;
}

Json CountsJson(const StatusCounts& c) {
  Json o;
  o["pending"] = c.pending;
  o["running"] = c.running;
  o["done"] = c.done;
  o["failed"] = c.failed;
  o["total"] = c.total();
  return o;
}

// ---- text helpers

// Cuts to `width` characters, marking the cut with '~'. Counts bytes: store text is ASCII in
// practice, and a wrong column in a rare UTF-8 error line is harmless.
std::string Fit(const std::string& s, int width) {
  if (width <= 0) return "";
  if (static_cast<int>(s.size()) <= width) return s;
  if (width == 1) return "~";
  return s.substr(0, width - 1) + "~";
}

std::string PadRight(const std::string& s, int width) {
  std::string r = Fit(s, width);
  r.resize(std::max<int>(width, 0), ' ');
  return r;
}

std::string PadLeft(const std::string& s, int width) {
  std::string r = Fit(s, width);
  if (static_cast<int>(r.size()) < width) r.insert(0, width - r.size(), ' ');
  return r;
}

std::string FirstLine(const std::string& s) {
  size_t n = s.find_first_of("\r\n");
  return n == std::string::npos ? s : s.substr(0, n);
}

// 950, 12.3k, 4.56M: throughput columns stay narrow.
std::string Compact(double v) {
  if (!std::isfinite(v)) return Num(v);
  double a = std::fabs(v);
  double scale = 1;
  const char* unit = "";
  if (a >= 1e9) {
    scale = 1e9, unit = "G";
  } else if (a >= 1e6) {
    scale = 1e6, unit = "M";
  } else if (a >= 1e3) {
    scale = 1e3, unit = "k";
  }
  double x = v / scale;
  return Printf(std::fabs(x) < 99.95 && scale > 1 ? "%.1f" : "%.0f", x) + unit;
}

// ---- Prometheus helpers

std::string EscapeLabel(const std::string& s) {
  std::string r;
  r.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      r += "\\\\";
    } else if (c == '"') {
      r += "\\\"";
    } else if (c == '\n') {
      r += "\\n";
    } else {
      r += c;
    }
  }
  return r;
}

class MetricWriter {
 public:
  // Starts a family: # HELP and # TYPE come once, before its samples, as the format requires.
  void Family(const std::string& name, const std::string& type, const std::string& help) {
    name_ = name;
    out_ += "# HELP " + name + " " + help + "\n";
    out_ += "# TYPE " + name + " " + type + "\n";
  }
  void Sample(const std::vector<std::pair<std::string, std::string>>& labels, double value) {
    out_ += name_;
    if (!labels.empty()) {
      out_ += '{';
      for (size_t i = 0; i < labels.size(); ++i) {
        if (i) out_ += ',';
        out_ += labels[i].first + "=\"" + EscapeLabel(labels[i].second) + "\"";
      }
      out_ += '}';
    }
    out_ += ' ' + Num(value) + '\n';
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string name_;
  std::string out_;
};
}  // namespace

// ---------------------------------------------------------------------------------------------

std::string StatusJson(const StatusSnapshot& s) {
  Json o;
  o["schema_version"] = kStatusSchemaVersion;
  o["sweep"] = s.sweep;
  o["generated_at"] = s.now;
  o["counts"] = CountsJson(s.counts);
  Json p;
  p["fraction"] = s.eta.fraction;
  p["work_unit"] = s.eta.work_in_cost ? "cost" : "trials";
  p["work_total"] = s.eta.work_total;
  p["work_done"] = s.eta.work_done;
  p["work_remaining"] = s.eta.work_remaining;
  p["work_per_second_per_slot"] = NumOrNull(s.eta.work_per_slot_s > 0, s.eta.work_per_slot_s);
  p["slots"] = s.eta.slots;
  o["progress"] = p;
  o["eta_seconds"] = NumOrNull(s.eta.eta_known, s.eta.eta_s);
  double tps = 0;
  for (const TrialStatus& t : s.trials) {
    if (t.state == TrialState::kRunning && t.has_progress && std::isfinite(t.tokens_per_s)) {
      tps += t.tokens_per_s;
    }
  }
  o["tokens_per_second"] = tps;
  o["trials_listed"] = s.all_trials ? "all" : "active";
  Json trials = Json::array();
  for (const TrialStatus& t : s.trials) trials.push_back(TrialJson(t, false));
  o["trials"] = std::move(trials);
  Json failures = Json::array();
  for (const TrialStatus& t : s.failures) {
    Json f;
    f["id"] = t.id;
    f["description"] = t.description;
    f["attempts"] = t.attempts;
    f["updated_at"] = t.updated_at;
    f["last_error"] = t.last_error;
    failures.push_back(std::move(f));
  }
  o["failures"] = std::move(failures);
  Json jobs = Json::array();
  for (const JobRow& j : s.jobs) {
    Json r;
    r["job_id"] = j.job_id;
    r["kind"] = j.kind;
    r["state"] = j.state;
    r["submitted_at"] = j.submitted_at;
    r["info"] = j.info;
    jobs.push_back(std::move(r));
  }
  o["jobs"] = std::move(jobs);
  // replace: an invalid UTF-8 byte in an error message must not make dump() throw.
  return o.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string TrialsJson(const StatusSnapshot& s) {
  Json o;
  o["schema_version"] = kStatusSchemaVersion;
  o["sweep"] = s.sweep;
  o["generated_at"] = s.now;
  Json trials = Json::array();
  for (const TrialStatus& t : s.trials) trials.push_back(TrialJson(t, true));
  o["trials"] = std::move(trials);
  return o.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------------------------

std::string ProgressBar(double fraction, int width) {
  if (width < 3) return "";
  int inner = width - 2;
  // floor, not round: the bar fills only when the sweep is really done.
  int filled = static_cast<int>(std::floor(Clamp01(fraction) * inner));
  filled = std::min(filled, inner);
  return "[" + std::string(filled, '#') + std::string(inner - filled, '-') + "]";
}

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds >= 1e12) return "?";  // beyond any sweep; also keeps the casts in range
  int64_t t = static_cast<int64_t>(std::llround(seconds));
  char buf[48];
  if (t < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(t));
  } else if (t < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(t / 60),
                  static_cast<long long>(t % 60));
  } else if (t < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(t / 3600),
                  static_cast<long long>(t % 3600 / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(t / 86400),
                  static_cast<long long>(t % 86400 / 3600));
  }
  return buf;
}

std::string StatusText(const StatusSnapshot& s, int width) {
  const int w = std::max(width, 40);
  std::string out;
  const StatusCounts& c = s.counts;

  // Header: counts, then bar + percent + ETA on the same line when it fits.
  std::string counts =
      (s.sweep.empty() ? std::string("sweep") : s.sweep) + ": " + std::to_string(c.total()) +
      " trials, " + std::to_string(c.done) + " done, " + std::to_string(c.running) + " running, " +
      std::to_string(c.pending) + " pending, " + std::to_string(c.failed) + " failed";
  std::string tail = " " + Printf("%3.0f%%", std::floor(s.eta.fraction * 100)) + "  ETA " +
                     (s.eta.eta_known ? FormatDuration(s.eta.eta_s) : std::string("unknown"));
  constexpr int kMinBar = 12;
  int bar_w = w - static_cast<int>(counts.size()) - 2 - static_cast<int>(tail.size());
  if (bar_w >= kMinBar) {
    out += counts + "  " + ProgressBar(s.eta.fraction, bar_w) + tail + "\n";
  } else {
    out += Fit(counts, w) + "\n";
    out += ProgressBar(s.eta.fraction, std::max(w - static_cast<int>(tail.size()), kMinBar)) +
           tail + "\n";
  }

  // Running trials.
  std::vector<const TrialStatus*> running;
  for (const TrialStatus& t : s.trials) {
    if (t.state == TrialState::kRunning) running.push_back(&t);
  }
  if (!running.empty()) {
    constexpr int kStep = 13, kLoss = 8, kTps = 7, kElapsed = 7, kAtt = 3;
    int id_w = 16;
    int desc_w = w - (id_w + kStep + kLoss + kTps + kElapsed + kAtt + 6);
    if (desc_w < 12) {
      id_w = 8;  // narrow terminal: an 8-digit id prefix is still unique in practice
      desc_w = std::max(w - (id_w + kStep + kLoss + kTps + kElapsed + kAtt + 6), 8);
    }
    out += "\nRUNNING " + std::to_string(running.size()) + "\n";
    out += PadRight("ID", id_w) + " " + PadRight("SETTINGS", desc_w) + " " +
           PadLeft("STEP", kStep) + " " + PadLeft("LOSS", kLoss) + " " + PadLeft("TOK/S", kTps) +
           " " + PadLeft("ELAPSED", kElapsed) + " " + PadLeft("ATT", kAtt) + "\n";
    for (const TrialStatus* t : running) {
      std::string step = "-", loss = "-", tps = "-", el = "-";
      if (t->has_progress) {
        step = std::to_string(t->step) + "/" + std::to_string(t->total_steps);
        loss = std::isfinite(t->loss) ? Printf("%.4f", t->loss) : Num(t->loss);
        tps = Compact(t->tokens_per_s);
        el = FormatDuration(t->elapsed_s);
      }
      out += PadRight(t->id.substr(0, id_w), id_w) + " " + PadRight(t->description, desc_w) + " " +
             PadLeft(step, kStep) + " " + PadLeft(loss, kLoss) + " " + PadLeft(tps, kTps) + " " +
             PadLeft(el, kElapsed) + " " + PadLeft(std::to_string(t->attempts), kAtt) + "\n";
    }
  }

  // Failures, most recent first.
  if (!s.failures.empty()) {
    int shown = std::min<int>(s.failures.size(), kMaxFailuresShown);
    out += "\nFAILED " + std::to_string(s.failures.size());
    if (shown < static_cast<int>(s.failures.size())) {
      out += " (last " + std::to_string(shown) + ")";
    }
    out += "\n";
    for (int i = 0; i < shown; ++i) {
      const TrialStatus& t = s.failures[i];
      std::string head =
          t.id + "  " + std::to_string(t.attempts) + " attempt" + (t.attempts == 1 ? "" : "s");
      if (!t.description.empty()) head += "  " + t.description;
      out += Fit(head, w) + "\n";
      std::string err = FirstLine(t.last_error);
      out += Fit("  " + (err.empty() ? std::string("(no error recorded)") : err), w) + "\n";
    }
  }

  // Jobs, most recently submitted first.
  if (!s.jobs.empty()) {
    std::vector<const JobRow*> jobs;
    for (const JobRow& j : s.jobs) jobs.push_back(&j);
    std::stable_sort(jobs.begin(), jobs.end(), [](const JobRow* a, const JobRow* b) {
      return a->submitted_at > b->submitted_at;
    });
    int shown = std::min<int>(jobs.size(), kMaxJobsShown);
    out += "\nJOBS " + std::to_string(jobs.size());
    if (shown < static_cast<int>(jobs.size())) out += " (latest " + std::to_string(shown) + ")";
    out += "\n";
    for (int i = 0; i < shown; ++i) {
      const JobRow& j = *jobs[i];
      std::string line = j.job_id + "  " + j.kind + "  " + j.state;
      if (!j.info.empty()) line += "  " + FirstLine(j.info);
      out += Fit(line, w) + "\n";
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

std::string PrometheusMetrics(const StatusSnapshot& s) {
  MetricWriter m;
  const std::string& sw = s.sweep;
  m.Family("revsweep_trials", "gauge", "Trials in the sweep by state.");
  m.Sample({{"sweep", sw}, {"state", "pending"}}, s.counts.pending);
  m.Sample({{"sweep", sw}, {"state", "running"}}, s.counts.running);
  m.Sample({{"sweep", sw}, {"state", "done"}}, s.counts.done);
  m.Sample({{"sweep", sw}, {"state", "failed"}}, s.counts.failed);

  m.Family("revsweep_progress_ratio", "gauge",
           "Settled share of the sweep's work (0 to 1), cost-weighted when costs are known.");
  m.Sample({{"sweep", sw}}, s.eta.fraction);

  // Absent while unknown: a made-up number (0, +Inf) would mislead alerts and graphs.
  m.Family("revsweep_eta_seconds", "gauge", "Estimated seconds until the sweep finishes.");
  if (s.eta.eta_known) m.Sample({{"sweep", sw}}, s.eta.eta_s);

  m.Family("revsweep_snapshot_timestamp_seconds", "gauge",
           "Unix time of the store snapshot these metrics describe.");
  m.Sample({{"sweep", sw}}, s.now);

  // Per-trial series only for running trials with progress: bounded cardinality, and a
  // finished trial's series ending is the natural signal in Prometheus.
  std::vector<const TrialStatus*> live;
  for (const TrialStatus& t : s.trials) {
    if (t.state == TrialState::kRunning && t.has_progress) live.push_back(&t);
  }
  auto per_trial = [&](const std::string& name, const std::string& help,
                       double (*get)(const TrialStatus&), bool (*has)(const TrialStatus&)) {
    m.Family(name, "gauge", help);
    for (const TrialStatus* t : live) {
      if (has && !has(*t)) continue;
      m.Sample({{"sweep", sw}, {"trial", t->id}, {"desc", t->description}}, get(*t));
    }
  };
  per_trial(
      "revsweep_tokens_per_second", "Training throughput of a running trial.",
      [](const TrialStatus& t) { return t.tokens_per_s; }, nullptr);
  per_trial(
      "revsweep_step_seconds", "Mean seconds per optimizer step of a running trial.",
      [](const TrialStatus& t) { return t.elapsed_s / static_cast<double>(t.step); },
      [](const TrialStatus& t) { return t.step > 0 && t.elapsed_s > 0; });
  per_trial(
      "revsweep_trial_step", "Current optimizer step of a running trial.",
      [](const TrialStatus& t) { return static_cast<double>(t.step); }, nullptr);
  per_trial(
      "revsweep_trial_total_steps", "Total optimizer steps of a running trial.",
      [](const TrialStatus& t) { return static_cast<double>(t.total_steps); }, nullptr);
  per_trial(
      "revsweep_trial_loss", "Last reported training loss of a running trial.",
      [](const TrialStatus& t) { return t.loss; }, nullptr);
  per_trial(
      "revsweep_trial_elapsed_seconds", "Training seconds of a running trial.",
      [](const TrialStatus& t) { return t.elapsed_s; }, nullptr);
  per_trial(
      "revsweep_trial_attempts", "Attempts started for a running trial.",
      [](const TrialStatus& t) { return static_cast<double>(t.attempts); }, nullptr);

  std::map<std::string, int> job_states;
  for (const JobRow& j : s.jobs) ++job_states[j.state.empty() ? "unknown" : j.state];
  m.Family("revsweep_jobs", "gauge", "Scheduler jobs of the sweep by last known state.");
  for (const auto& [state, n] : job_states) m.Sample({{"sweep", sw}, {"state", state}}, n);
  return m.Take();
}

}  // namespace revsweep
