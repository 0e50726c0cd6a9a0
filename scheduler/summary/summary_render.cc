#include "scheduler/summary/summary_render.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/user_error.h"
#include "scheduler/settings_json.h"
#include "scheduler/summary/export.h"

namespace revsweep {
namespace {

using Json = nlohmann::ordered_json;

// printf into a std::string. Only %d/%s/%f/%g-style conversions are used, none of which
// depend on the locale as long as the process keeps the "C" numeric locale (the CLI never
// calls setlocale).
template <typename... Args>
std::string Fmt(const char* format, Args... args) {
  char buf[256];
  snprintf(buf, sizeof(buf), format, args...);
  return buf;
}

std::string Acc(double v) { return std::isnan(v) ? "" : Fmt("%.3f", v); }

std::string MeanSe(const Describe& d) {
  if (d.n == 0) return "";
  if (!d.se_defined) return Fmt("%.3f (n=1)", d.mean);
  return Fmt("%.3f±%.3f", d.mean, d.se);
}

std::string Ci(const Interval& i) {
  if (std::isnan(i.lo)) return "";
  return Fmt("[%.3f, %.3f]", i.lo, i.hi);
}

std::string P(double p) { return std::isnan(p) ? "" : Fmt("%.3g", p); }

std::string Pct(double level) { return Fmt("%g%%", level * 100); }

// Terminal columns taken by UTF-8 text: one per code point (no wide characters are used).
size_t Width(const std::string& s) {
  size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

struct TextTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  // Appends straight into one output string (a 25k-row settings table is ~8 MB).
  std::string Fixed() const {
    std::vector<size_t> w(header.size());
    for (size_t i = 0; i < header.size(); ++i) w[i] = Width(header[i]);
    size_t total = 0;
    for (const auto& r : rows) {
      for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], Width(r[i]));
    }
    for (size_t x : w) total += x + 2;
    std::string out;
    out.reserve((rows.size() + 2) * (total + 1));
    auto line = [&w, &out](const std::vector<std::string>& r) {
      for (size_t i = 0; i < w.size(); ++i) {
        if (i < r.size()) out += r[i];
        if (i + 1 < w.size()) out.append(w[i] - (i < r.size() ? Width(r[i]) : 0) + 2, ' ');
      }
      while (!out.empty() && out.back() == ' ') out.pop_back();
      out += '\n';
    };
    line(header);
    std::vector<std::string> rule;
    for (size_t x : w) rule.push_back(std::string(x, '-'));
    line(rule);
    for (const auto& r : rows) line(r);
    return out;
  }

  std::string Markdown() const {
    auto esc = [](const std::string& s) {
      std::string o;
      for (char c : s) {
        if (c == '|') o += '\\';
        o += c;
      }
      return o;
    };
    auto line = [&esc](const std::vector<std::string>& r, size_t n) {
      std::string s = "|";
      for (size_t i = 0; i < n; ++i) s += " " + esc(i < r.size() ? r[i] : "") + " |";
      return s + "\n";
    };
    std::string out = line(header, header.size()) + "|";
    for (size_t i = 0; i < header.size(); ++i) out += "---|";
    out += "\n";
    for (const auto& r : rows) out += line(r, header.size());
    return out;
  }
};

std::string SettingValueOrEmpty(const Settings& s, const std::string& key) {
  auto it = s.find(key);
  return it == s.end() ? "" : ValueToString(it->second);
}
std::string SettingValueOrEmpty(const SettingSummary& s, const std::string& key) {
  const Value* v = s.Find(key);
  return v ? ValueToString(*v) : "";
}

// The size column already says these (a preset fixes the dimensions, a custom size's label
// spells them out).
bool ShownBySize(const std::string& key) {
  return key == "model.size" || key == "model.n_layer" || key == "model.n_head" ||
         key == "model.d_model";
}

TextTable SettingsTable(const Summary& s) {
  TextTable t;
  t.header = {"#", "size", "params", "seeds"};
  std::vector<std::string> keys;
  for (const auto& k : s.varying_keys) {
    if (!ShownBySize(k)) keys.push_back(k);
  }
  for (const auto& k : keys) t.header.push_back(k);
  t.header.push_back("loss.final");
  t.header.push_back("likelihood.p");
  for (const auto& c : s.cells) t.header.push_back(c);
  t.header.push_back("best");
  for (size_t i = 0; i < s.settings.size(); ++i) {
    const SettingSummary& g = s.settings[i];
    std::vector<std::string> r = {std::to_string(i + 1), g.size, HumanParams(g.params),
                                  std::to_string(g.n_seeds)};
    for (const auto& k : keys) r.push_back(SettingValueOrEmpty(g, k));
    r.push_back(g.loss.n ? Fmt("%.4g", g.loss.mean) : "");
    r.push_back(P(g.likelihood_p_mean));
    // g.cells is a subset of s.cells in the same (canonical) order: one walk, no lookups
    // (a hand-built summary out of order falls back to looking each cell up).
    const size_t first_cell = r.size();
    size_t next = 0;
    for (const auto& c : s.cells) {
      const bool has = next < g.cells.size() && g.cells[next].cell == c;
      r.push_back(has ? MeanSe(g.cells[next++].acc) : "");
    }
    if (next != g.cells.size()) {
      for (size_t j = 0; j < s.cells.size(); ++j) {
        const CellSummary* cs = g.Cell(s.cells[j]);
        r[first_cell + j] = cs ? MeanSe(cs->acc) : "";
      }
    }
    r.push_back(g.best_for_size ? "*" : "");
    t.rows.push_back(std::move(r));
  }
  return t;
}

TextTable BestTable(const Summary& s) {
  TextTable t;
  t.header = {"size",  "params", "setting", "cell", "n", "mean", "SE", Pct(s.level) + " CI",
              "chance"};
  for (size_t i : s.best) {
    const SettingSummary& g = s.settings[i];
    for (const CellSummary& c : g.cells) {
      t.rows.push_back({g.size, HumanParams(g.params), "#" + std::to_string(i + 1), c.cell,
                        std::to_string(c.acc.n), Acc(c.acc.mean),
                        c.acc.se_defined ? Acc(c.acc.se) : "n/a", Ci(c.ci),
                        c.chance.n ? Acc(c.chance.mean) : ""});
    }
  }
  return t;
}

TextTable TrendTable(const Summary& s) {
  TextTable t;
  t.header = {"cell", "sizes", "points", "slope/decade", Pct(s.level) + " CI", "p", "trend"};
  for (const CellTrend& c : s.trends) {
    std::string trend = "no fit (<3 sizes)";
    if (c.n_sizes >= 3 && !c.fitted) trend = "no fit";
    if (c.fitted) {
      trend = c.fit.slope_lo > 0 ? "rises" : c.fit.slope_hi < 0 ? "falls" : "flat";
    }
    t.rows.push_back({c.cell, std::to_string(c.n_sizes), std::to_string(c.n_points),
                      c.fitted ? Fmt("%+.3f", c.fit.slope) : "",
                      c.fitted ? Ci({c.fit.slope_lo, c.fit.slope_hi}) : "",
                      c.fitted ? P(c.fit.p) : "", trend});
  }
  return t;
}

std::string LossFitLine(const Summary& s) {
  const PowerLawFit& f = s.loss_fit;
  if (!f.ok) return "loss.final vs params: " + (f.message.empty() ? "no fit" : f.message) + ".";
  auto ci = [](const Interval& i) {
    return std::isnan(i.lo) ? std::string() : Fmt(" [%.4g, %.4g]", i.lo, i.hi);
  };
  return Fmt("loss.final = E + A / N^alpha: E = %.4g", f.E) + ci(f.E_ci) + Fmt(", A = %.4g", f.A) +
         ci(f.A_ci) + Fmt(", alpha = %.4g", f.alpha) + ci(f.alpha_ci) +
         Fmt(" (%d sizes, %d points; %s bootstrap intervals from %d resamples)", f.n_sizes,
             f.n_points, Pct(s.level).c_str(), f.bootstrap_fitted);
}

std::string Headline(const Summary& s) {
  return Fmt(
      "%d done trials in %zu settings over %zu model sizes (%d of %d trials not done or "
      "without results: excluded).",
      s.trials_done, s.settings.size(), s.best.size(), s.trials_excluded, s.trials_total);
}

const char* kLegend =
    "Accuracy: exact match in [0, 1], mean±SE over seeds ((n=1): one seed, no SE). best (*): "
    "the setting kept for its size, by highest mean same-direction heldout accuracy.";

std::string RenderText(const Summary& s, bool markdown) {
  auto table = [markdown](const TextTable& t) { return markdown ? t.Markdown() : t.Fixed(); };
  auto heading = [markdown](const std::string& h) {
    return markdown ? "\n## " + h + "\n\n" : "\n" + h + "\n";
  };
  std::string out = markdown ? "# Sweep summary\n\n" : "Sweep summary\n";
  out += Headline(s) + "\n" + (markdown ? "\n" : "") + kLegend + "\n";
  if (s.settings.empty()) return out;
  out += heading("Settings") + table(SettingsTable(s));
  out += heading("Best setting per model size (" + Pct(s.level) + " percentile bootstrap CI, " +
                 std::to_string(s.bootstrap_resamples) + " resamples)") +
         table(BestTable(s));
  out += heading("Scaling across sizes (best setting per size, one point per seed)") +
         table(TrendTable(s));
  out += (markdown ? "\n" : "") + LossFitLine(s) + "\n";
  out += heading("Verdicts");
  for (const std::string& v : s.verdicts) out += "- " + v + "\n";
  return out;
}

std::string RenderCsv(const Summary& s) {
  std::vector<std::string> header = {"setting", "size", "params", "seeds", "best", "score"};
  for (const auto& k : s.varying_keys) header.push_back(k);
  for (const char* h :
       {"loss.final.mean", "loss.final.se", "likelihood.p.mean", "likelihood.p.all", "trial_ids"}) {
    header.push_back(h);
  }
  for (const auto& c : s.cells) {
    for (const char* f : {".n", ".mean", ".se", ".ci_lo", ".ci_hi"})
      header.push_back("acc." + c + f);
    header.push_back("chance." + c + ".mean");
  }
  header.push_back("setting_json");
  std::string out = CsvLine(header);
  auto num = [](double v) { return std::isnan(v) ? std::string() : FormatNumber(v); };
  for (size_t i = 0; i < s.settings.size(); ++i) {
    const SettingSummary& g = s.settings[i];
    std::vector<std::string> r = {std::to_string(i + 1),
                                  g.size,
                                  g.params > 0 ? std::to_string(g.params) : "",
                                  std::to_string(g.n_seeds),
                                  g.best_for_size ? "true" : "false",
                                  num(g.score)};
    for (const auto& k : s.varying_keys) r.push_back(SettingValueOrEmpty(g, k));
    r.push_back(num(g.loss.mean));
    r.push_back(g.loss.se_defined ? num(g.loss.se) : "");
    r.push_back(num(g.likelihood_p_mean));
    std::string all, ids;
    for (double p : g.likelihood_p) all += (all.empty() ? "" : ";") + FormatNumber(p);
    for (const auto& id : g.trial_ids) ids += (ids.empty() ? "" : ";") + id;
    r.push_back(all);
    r.push_back(ids);
    for (const auto& c : s.cells) {
      const CellSummary* cs = g.Cell(c);
      if (!cs) {
        r.insert(r.end(), 6, "");
        continue;
      }
      r.push_back(std::to_string(cs->acc.n));
      r.push_back(num(cs->acc.mean));
      r.push_back(num(cs->acc.se));
      r.push_back(num(cs->ci.lo));
      r.push_back(num(cs->ci.hi));
      r.push_back(cs->chance.n ? num(cs->chance.mean) : "");
    }
    r.push_back(CanonicalJson(g.Whole()));
    out += CsvLine(r);
  }
  return out;
}

Json DescribeJson(const Describe& d) {
  return Json{
      {"n", d.n}, {"mean", d.mean}, {"sd", d.sd}, {"se", d.se}, {"se_defined", d.se_defined}};
}
Json IntervalJson(const Interval& i) { return Json::array({i.lo, i.hi}); }

std::string RenderJson(const Summary& s) {
  Json j;
  j["trials_total"] = s.trials_total;
  j["trials_done"] = s.trials_done;
  j["trials_excluded"] = s.trials_excluded;
  j["level"] = s.level;
  j["bootstrap_resamples"] = s.bootstrap_resamples;
  j["selection_rule"] =
      "highest mean of the *.same.heldout cell means (all *.same.* cells when none), then "
      "lowest mean loss.final, then the first in settings order";
  j["cells"] = s.cells;
  j["varying_keys"] = s.varying_keys;
  Json settings = Json::array();
  for (size_t i = 0; i < s.settings.size(); ++i) {
    const SettingSummary& g = s.settings[i];
    const Settings whole = g.Whole();
    Json cells = Json::object();
    for (const CellSummary& c : g.cells) {
      cells[c.cell] = {{"acc", DescribeJson(c.acc)},
                       {"ci", IntervalJson(c.ci)},
                       {"chance", DescribeJson(c.chance)}};
    }
    settings.push_back({{"index", i + 1},
                        {"key", CanonicalJson(whole)},
                        {"setting", SettingsJson(whole)},
                        {"size", g.size},
                        {"params", g.params},
                        {"n_seeds", g.n_seeds},
                        {"trial_ids", g.trial_ids},
                        {"seeds", g.seeds},
                        {"best_for_size", g.best_for_size},
                        {"score", g.score},
                        {"loss_final", DescribeJson(g.loss)},
                        {"likelihood_p", g.likelihood_p},
                        {"likelihood_p_mean", g.likelihood_p_mean},
                        {"cells", cells}});
  }
  j["settings"] = settings;
  Json best = Json::array();
  for (size_t i : s.best) {
    best.push_back(
        {{"size", s.settings[i].size}, {"params", s.settings[i].params}, {"setting", i + 1}});
  }
  j["best_per_size"] = best;
  Json trends = Json::array();
  for (const CellTrend& t : s.trends) {
    trends.push_back({{"cell", t.cell},
                      {"n_sizes", t.n_sizes},
                      {"n_points", t.n_points},
                      {"fitted", t.fitted},
                      {"slope_per_decade", t.fit.slope},
                      {"slope_se", t.fit.slope_se},
                      {"slope_ci", IntervalJson({t.fit.slope_lo, t.fit.slope_hi})},
                      {"p", t.fit.p},
                      {"intercept", t.fit.intercept},
                      {"verdict", t.verdict}});
  }
  const PowerLawFit& f = s.loss_fit;
  j["scaling"] = {{"cells", trends},
                  {"loss_final",
                   {{"ok", f.ok},
                    {"message", f.message},
                    {"n_sizes", f.n_sizes},
                    {"n_points", f.n_points},
                    {"E", f.E},
                    {"A", f.A},
                    {"alpha", f.alpha},
                    {"E_ci", IntervalJson(f.E_ci)},
                    {"A_ci", IntervalJson(f.A_ci)},
                    {"alpha_ci", IntervalJson(f.alpha_ci)},
                    {"bootstrap_fitted", f.bootstrap_fitted},
                    {"huber_objective", f.objective}}}};
  j["verdicts"] = s.verdicts;
  return j.dump(2) + "\n";
}

}  // namespace

SummaryFormat ParseSummaryFormat(const std::string& name) {
  if (name == "table") return SummaryFormat::kTable;
  if (name == "csv") return SummaryFormat::kCsv;
  if (name == "json") return SummaryFormat::kJson;
  if (name == "markdown" || name == "md") return SummaryFormat::kMarkdown;
  throw UserError("--format", 0, 0, "",
                  "unknown summary format '" + name + "' (table|csv|json|markdown)");
}

std::string HumanParams(int64_t params) {
  if (params <= 0) return "?";
  const double p = static_cast<double>(params);
  if (p < 1e3) return std::to_string(params);
  if (p < 1e6) return Fmt("%.3gK", p / 1e3);
  if (p < 1e9) return Fmt("%.3gM", p / 1e6);
  return Fmt("%.3gB", p / 1e9);
}

std::string RenderSummary(const Summary& s, SummaryFormat format) {
  switch (format) {
    case SummaryFormat::kTable:
      return RenderText(s, false);
    case SummaryFormat::kMarkdown:
      return RenderText(s, true);
    case SummaryFormat::kCsv:
      return RenderCsv(s);
    case SummaryFormat::kJson:
      return RenderJson(s);
  }
  return "";
}

std::string RenderPerTrial(const PerTrialTable& t, SummaryFormat format) {
  std::vector<std::string> header = {"trial_id", "state"};
  header.insert(header.end(), t.varying_keys.begin(), t.varying_keys.end());
  header.push_back("params");
  for (const auto& c : t.cells) header.push_back("acc." + c);
  header.push_back("likelihood.p");
  if (format == SummaryFormat::kJson) {
    Json rows = Json::array();
    for (const PerTrialRow& r : t.rows) {
      Json o;
      o["trial_id"] = r.id;
      o["state"] = TrialStateName(r.state);
      for (const auto& k : t.varying_keys) {
        auto it = r.settings.find(k);
        o[k] = it == r.settings.end()
                   ? Json(nullptr)
                   : std::visit([](const auto& x) { return Json(x); }, it->second);
      }
      o["params"] = r.params > 0 ? Json(r.params) : Json(nullptr);
      for (const auto& c : t.cells) {
        auto it = r.acc.find(c);
        o["acc." + c] = it == r.acc.end() ? Json(nullptr) : Json(it->second);
      }
      o["likelihood.p"] = r.likelihood_p;
      rows.push_back(o);
    }
    return Json{{"columns", header}, {"trials", rows}}.dump(2) + "\n";
  }
  const bool full = format == SummaryFormat::kCsv;
  TextTable table;
  table.header = header;
  for (const PerTrialRow& r : t.rows) {
    std::vector<std::string> row = {r.id, TrialStateName(r.state)};
    for (const auto& k : t.varying_keys) row.push_back(SettingValueOrEmpty(r.settings, k));
    row.push_back(r.params > 0 ? (full ? std::to_string(r.params) : HumanParams(r.params)) : "");
    for (const auto& c : t.cells) {
      auto it = r.acc.find(c);
      row.push_back(it == r.acc.end() ? "" : full ? FormatNumber(it->second) : Acc(it->second));
    }
    row.push_back(std::isnan(r.likelihood_p) ? ""
                  : full                     ? FormatNumber(r.likelihood_p)
                                             : P(r.likelihood_p));
    table.rows.push_back(std::move(row));
  }
  if (full) {
    std::string out = CsvLine(table.header);
    for (const auto& row : table.rows) out += CsvLine(row);
    return out;
  }
  return format == SummaryFormat::kMarkdown ? table.Markdown() : table.Fixed();
}

}  // namespace revsweep
