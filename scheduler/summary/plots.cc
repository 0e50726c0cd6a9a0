#include "scheduler/summary/plots.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/file_io.h"
#include "common/subprocess.h"
#include "common/user_error.h"
#include "scheduler/summary/export.h"
#include "scheduler/summary/summary_render.h"

namespace revsweep {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMissing = "?";  // `set datafile missing` marker

std::string Num(double v) { return std::isfinite(v) ? FormatNumber(v) : kMissing; }

// A gnuplot single-quoted string: a quote inside is written twice.
std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += '\'';
    q += c;
  }
  return q + "'";
}

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f.flush()) throw UserError(path.string(), 0, 0, "", "cannot write plot file");
}

std::string ReadTail(const fs::path& path, size_t max_bytes) {
  std::string s, error;
  TryReadFile(path.string(), &s, &error);  // nothing to show when it cannot be read
  if (s.size() > max_bytes) s = "..." + s.substr(s.size() - max_bytes);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The gnuplot script for one figure: `body` drawn once per requested format. `body` must
// leave no multiplot open.
std::string Script(const std::string& name, const std::string& body, int width, int height,
                   const PlotOptions& o) {
  const std::string size = std::to_string(width) + "," + std::to_string(height);
  std::string s = "# " + name + ".gp: written by revsweep. Run `gnuplot " + name +
                  ".gp` in this folder to redraw " + name + ".png / .svg.\n";
  s += "set datafile missing '" + std::string(kMissing) + "'\n";
  if (o.png) {
    s += "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
         "  set terminal pngcairo noenhanced size " +
         size +
         " font 'sans,10'\n"
         "} else {\n"
         "  set terminal png noenhanced size " +
         size +
         "\n"
         "}\n";
    s += "set output " + Quote(name + ".png") + "\n" + body + "unset output\n";
  }
  if (o.svg) {
    s += "set terminal svg noenhanced size " + size + " font 'sans,10'\n";
    s += "set output " + Quote(name + ".svg") + "\n" + body + "unset output\n";
  }
  return s;
}

// Runs `gnuplot script` in `dir`, its output going to gnuplot.log there.
void RunGnuplot(const PlotOptions& o, const fs::path& dir, const std::string& script) {
  const std::string exe = FindGnuplot(o.gnuplot.empty() ? "gnuplot" : o.gnuplot);
  if (exe.empty()) {
    throw UserError(o.gnuplot.empty() ? "gnuplot" : o.gnuplot, 0, 0, "",
                    "gnuplot not found (looked on PATH): install it (Debian/Ubuntu: apt-get "
                    "install gnuplot-nox) or give its path; the data files and scripts are "
                    "in " +
                        dir.string());
  }
  const std::string log = (dir / "gnuplot.log").string();
  SubprocessOptions so;
  so.cwd = dir.string();
  so.output_file = log;
  int status = 0;
  try {
    status = RunCommand({exe, script}, so).exit_code;
  } catch (const SubprocessError& e) {
    throw std::runtime_error(std::string("plots: ") + e.what());
  }
  if (status != 0) {
    throw UserError((dir / script).string(), 0, 0, "",
                    "gnuplot failed (" +
                        (status > 128 ? "killed by signal " + std::to_string(status - 128)
                                      : "exit " + std::to_string(status)) +
                        "): " + ReadTail(log, 600));
  }
}

// Writes data + script, runs gnuplot, checks the images exist.
PlotFiles Draw(const PlotOptions& o, const std::string& name,
               const std::vector<std::pair<std::string, std::string>>& data_files,
               const std::string& body, int width, int height) {
  if (o.out_dir.empty()) throw UserError("plots: no output folder given");
  const fs::path dir = o.out_dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw UserError(o.out_dir, 0, 0, "", "cannot create plot folder: " + ec.message());
  PlotFiles out;
  for (const auto& [file, text] : data_files) {
    WriteFile(dir / file, text);
    out.data.push_back((dir / file).string());
  }
  const std::string script = name + ".gp";
  WriteFile(dir / script, Script(name, body, width, height, o));
  out.scripts.push_back((dir / script).string());
  RunGnuplot(o, dir, script);
  for (const char* ext : {".png", ".svg"}) {
    if ((ext[1] == 'p' && !o.png) || (ext[1] == 's' && !o.svg)) continue;
    const fs::path image = dir / (name + ext);
    if (!fs::exists(image) || fs::file_size(image) == 0) {
      throw UserError(image.string(), 0, 0, "",
                      "gnuplot made no image: " + ReadTail(dir / "gnuplot.log", 600));
    }
    out.images.push_back(image.string());
  }
  return out;
}

void Append(PlotFiles* to, const PlotFiles& from) {
  to->images.insert(to->images.end(), from.images.begin(), from.images.end());
  to->scripts.insert(to->scripts.end(), from.scripts.begin(), from.scripts.end());
  to->data.insert(to->data.end(), from.data.begin(), from.data.end());
}

std::string XRange(int64_t lo, int64_t hi) {
  return "set xrange [" + Num(lo / 2.0) + ":" + Num(hi * 2.0) + "]\n";
}

}  // namespace

std::string FindGnuplot(const std::string& name) {
  auto executable = [](const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) return executable(name) ? name : "";
  const char* path = getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string d;
  while (std::getline(dirs, d, ':')) {
    const std::string candidate = (d.empty() ? "." : d) + "/" + name;
    if (executable(candidate)) return candidate;
  }
  return "";
}

PlotFiles PlotAccuracyVsParams(const Summary& s, const PlotOptions& o) {
  std::vector<const SettingSummary*> best;
  for (size_t i : s.best) {
    if (s.settings[i].params > 0 && !s.settings[i].cells.empty()) best.push_back(&s.settings[i]);
  }
  // Cells of the requested split (or train), grouped by direction.
  std::string split = o.split;
  auto cells_of = [&s](const std::string& sp, const std::string& dir) {
    std::vector<std::string> out;
    for (const std::string& c : s.cells) {
      CellName cn;
      if (ParseCell(c, &cn) && cn.split == sp && cn.direction == dir) out.push_back(c);
    }
    return out;
  };
  if (cells_of(split, "same").empty() && cells_of(split, "reverse").empty()) split = "train";
  const std::vector<std::pair<std::string, std::vector<std::string>>> panels_all = {
      {"Same direction", cells_of(split, "same")}, {"Reverse", cells_of(split, "reverse")}};
  std::vector<std::pair<std::string, std::vector<std::string>>> panels;
  for (const auto& p : panels_all) {
    if (!p.second.empty()) panels.push_back(p);
  }
  if (best.empty() || panels.empty()) {
    throw UserError("plots: no setting with a parameter count and accuracy to plot");
  }
  // Data: params, then per cell (panel order) mean, SE, chance.
  std::vector<std::string> columns;
  for (const auto& p : panels) columns.insert(columns.end(), p.second.begin(), p.second.end());
  std::string dat = "# params";
  for (const auto& c : columns) dat += "  " + c + ".mean " + c + ".se " + c + ".chance";
  dat += "\n";
  std::set<std::string> has_chance;
  for (const SettingSummary* g : best) {
    dat += std::to_string(g->params);
    for (const auto& c : columns) {
      const CellSummary* cs = g->Cell(c);
      dat += " " + (cs ? Num(cs->acc.mean) : kMissing) + " " + (cs ? Num(cs->acc.se) : kMissing);
      dat += " " + (cs && cs->chance.n ? Num(cs->chance.mean) : kMissing);
      if (cs && cs->chance.n) has_chance.insert(c);
    }
    dat += "\n";
  }
  const std::string name = "accuracy_vs_params";
  std::string body = "set multiplot layout 1," + std::to_string(panels.size()) + " title " +
                     Quote("Accuracy at the best setting per model size (" + split +
                           " prompts; mean +- SE over seeds; dashed: chance)") +
                     "\n";
  body += "set logscale x\nset format x '%.0e'\n" +
          XRange(best.front()->params, best.back()->params) +
          "set yrange [0:1]\nset xlabel 'parameters'\nset ylabel 'exact-match accuracy'\n"
          "set key top left\nset grid\n";
  size_t column = 2;
  for (const auto& [title, cells] : panels) {
    body += "set title " + Quote(title) + "\nplot ";
    for (size_t j = 0; j < cells.size(); ++j, column += 3) {
      CellName cn;
      ParseCell(cells[j], &cn);
      const std::string lc = " lc " + std::to_string(j + 1);
      if (j) body += ", \\\n     ";
      body += Quote(name + ".dat") + " using 1:" + std::to_string(column) + ":" +
              std::to_string(column + 1) + " with yerrorlines lw 2 pt 7" + lc + " title " +
              Quote(cn.subset);
      if (has_chance.count(cells[j])) {
        body += ", \\\n     " + Quote(name + ".dat") + " using 1:" + std::to_string(column + 2) +
                " with lines dt 2" + lc + " title " + Quote(cn.subset + " chance");
      }
    }
    body += "\n";
  }
  body += "unset multiplot\n";
  return Draw(o, name, {{name + ".dat", dat}}, body, 1200, 500);
}

PlotFiles PlotLossVsParams(const Summary& s, const PlotOptions& o) {
  std::string best_dat = "# params loss.final.mean loss.final.se (best setting per size)\n";
  std::string all_dat = "# params loss.final.mean (every setting)\n";
  int64_t lo = 0, hi = 0;
  int n_best = 0, n_all = 0;
  for (const SettingSummary& g : s.settings) {
    if (g.params <= 0 || g.loss.n == 0 || !(g.loss.mean > 0)) continue;
    lo = lo ? std::min(lo, g.params) : g.params;
    hi = std::max(hi, g.params);
    all_dat += std::to_string(g.params) + " " + Num(g.loss.mean) + "\n";
    ++n_all;
    if (g.best_for_size) {
      best_dat += std::to_string(g.params) + " " + Num(g.loss.mean) + " " +
                  Num(g.loss.se_defined ? g.loss.se : 0) + "\n";
      ++n_best;
    }
  }
  if (n_all == 0) throw UserError("plots: no setting with a parameter count and a final loss");
  const std::string name = "loss_vs_params";
  std::string body = "set title " +
                     Quote(
                         "Final training loss (best setting per size: mean +- SE; grey: "
                         "every setting)") +
                     "\nset logscale xy\nset format x '%.0e'\n" + XRange(lo, hi) +
                     "set xlabel 'parameters'\nset ylabel 'final training loss'\nset grid\n"
                     "set key top right\n";
  const PowerLawFit& f = s.loss_fit;
  body += "plot " + Quote(name + "_all.dat") +
          " using 1:2 with points pt 7 ps 0.4 lc rgb '#bbbbbb' title 'every setting'";
  if (n_best) {
    body += ", \\\n     " + Quote(name + ".dat") +
            " using 1:2:3 with yerrorbars pt 7 ps 1.2 lc 1 title 'best setting per size'";
  }
  if (f.ok) {
    char title[160];
    snprintf(title, sizeof(title), "fit: %.3g + %.3g / N^%.3f", f.E, f.A, f.alpha);
    body += ", \\\n     " + Num(f.E) + " + " + Num(f.A) + " / x**" + Num(f.alpha) +
            " with lines lw 2 lc 2 title " + Quote(title);
  }
  body += "\n";
  return Draw(o, name, {{name + ".dat", best_dat}, {name + "_all.dat", all_dat}}, body, 900, 600);
}

PlotFiles PlotLossCurves(const LossCurves& curves, const PlotOptions& o) {
  // One data block per trial (gnuplot `index i`); only positive finite losses (log y).
  std::string dat;
  std::vector<std::string> titles;
  for (const auto& [id, points] : curves) {
    std::string block;
    for (const auto& [step, loss] : points) {
      if (std::isfinite(loss) && loss > 0) block += std::to_string(step) + " " + Num(loss) + "\n";
    }
    if (block.empty()) continue;
    dat += "# trial " + id + "\n" + block + "\n\n";
    titles.push_back(id);
  }
  if (titles.empty()) throw UserError("plots: no loss curve points to plot");
  const std::string name = "loss_curves";
  std::string body = "set title " + Quote("Training loss per trial") +
                     "\nset logscale y\nset xlabel 'step'\nset ylabel 'training loss'\nset grid\n";
  // A legend helps up to a screenful of trials; past that it hides the curves.
  if (titles.size() <= 20) {
    body += "set key outside right\nplot ";
    for (size_t i = 0; i < titles.size(); ++i) {
      if (i) body += ", \\\n     ";
      body += Quote(name + ".dat") + " index " + std::to_string(i) + " using 1:2 with lines " +
              "title " + Quote(titles[i]);
    }
    body += "\n";
  } else {
    body += "unset key\nplot for [i=0:" + std::to_string(titles.size() - 1) + "] " +
            Quote(name + ".dat") + " index i using 1:2 with lines lw 1\n";
  }
  return Draw(o, name, {{name + ".dat", dat}}, body, 1100, 600);
}

PlotFiles WritePlots(const Summary& s, const LossCurves& curves, const PlotOptions& o) {
  PlotFiles out;
  Append(&out, PlotAccuracyVsParams(s, o));
  Append(&out, PlotLossVsParams(s, o));
  bool any = false;
  for (const auto& kv : curves) any = any || !kv.second.empty();
  if (any) Append(&out, PlotLossCurves(curves, o));
  return out;
}

}  // namespace revsweep
