#include "scheduler/slurm/slurm.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "common/file_io.h"
#include "common/text_util.h"
#include "common/user_error.h"

namespace revsweep {
namespace {

namespace fs = std::filesystem;

bool HasWhitespace(const std::string& s) {
  return s.find_first_of(" \t\r\n\v\f") != std::string::npos;
}

// Every value ends up inside a line of the script; a newline would start a new command.
void CheckNoNewline(const std::string& what, const std::string& value) {
  if (value.find_first_of("\r\n") != std::string::npos || value.find('\0') != std::string::npos) {
    throw UserError(what + ": must not contain a line break");
  }
}

void CheckAbsolute(const std::string& what, const std::string& path) {
  if (path.empty() || path[0] != '/') {
    throw UserError(what + ": must be an absolute path (the job may start elsewhere), got '" +
                    path + "'");
  }
  CheckNoNewline(what, path);
}

void CheckSbatchValue(const std::string& flag, const std::string& value) {
  CheckNoNewline(flag, value);
  // sbatch splits #SBATCH lines on whitespace; a value with a space would silently become two
  // options.
  if (HasWhitespace(value)) {
    throw UserError(flag + ": must not contain whitespace: '" + value + "'");
  }
}

void CheckPositive(const std::string& flag, int value, int min) {
  if (value < min) {
    throw UserError(flag + ": must be at least " + std::to_string(min) + ", got " +
                    std::to_string(value));
  }
}

std::string DefaultJobName(const JobSpec& job) { return "revsweep-" + job.sweep; }

std::string ReadTemplate(const std::string& path) {
  std::string text, error;
  if (!TryReadFile(path, &text, &error))
    throw std::runtime_error("cannot read Slurm job template " + path + ": " + error);
  return text;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

int ToInt(const std::string& s, int fallback) {
  if (s.empty()) return fallback;
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str() || *end != '\0') return fallback;
  return static_cast<int>(v);
}

void CheckJobIds(const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    if (!IsValidJobId(id)) throw UserError("job id: not a Slurm job id: '" + id + "'");
  }
}

std::string Join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

std::string Describe(const std::vector<std::string>& argv, const CommandResult& r) {
  std::string err = Trim(r.err);
  if (err.empty()) err = Trim(r.out);
  return "`" + Join(argv, " ") + "` failed with exit code " + std::to_string(r.exit_code) +
         (err.empty() ? "" : ": " + err);
}

}  // namespace

bool JobInfo::Finished() const {
  // Everything else (PENDING, RUNNING, CONFIGURING, COMPLETING, REQUEUED, RESIZING, SUSPENDED,
  // STOPPED, SIGNALING, STAGE_OUT, ...) may still change.
  static const char* const kFinal[] = {"COMPLETED",     "FAILED",       "CANCELLED", "TIMEOUT",
                                       "NODE_FAIL",     "PREEMPTED",    "BOOT_FAIL", "DEADLINE",
                                       "OUT_OF_MEMORY", "SPECIAL_EXIT", "REVOKED"};
  if (!found) return true;
  for (const char* s : kFinal) {
    if (state == s) return true;
  }
  return false;
}

// ---- rendering ----------------------------------------------------------------------------

std::string ShellQuote(const std::string& s) {
  static const std::regex kSafe("[A-Za-z0-9_./:=@%+,-]+");
  if (std::regex_match(s, kSafe)) return s;
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

std::string SbatchOptionLines(const SubmitOptions& o) {
  static const std::regex kMem("[0-9]+[KMGT]?");
  std::string out;
  auto add = [&out](const std::string& flag, const std::string& value) {
    CheckSbatchValue(flag, value);
    out += "#SBATCH " + flag + "=" + value + "\n";
  };
  if (!o.partition.empty()) add("--partition", o.partition);
  if (!o.account.empty()) add("--account", o.account);
  if (!o.qos.empty()) add("--qos", o.qos);
  CheckPositive("--nodes", o.nodes, 1);
  add("--nodes", std::to_string(o.nodes));
  CheckPositive("--ntasks-per-node", o.ntasks_per_node, 1);
  add("--ntasks-per-node", std::to_string(o.ntasks_per_node));
  CheckPositive("--gpus-per-node", o.gpus_per_node, 0);
  if (o.gpus_per_node > 0) add("--gpus-per-node", std::to_string(o.gpus_per_node));
  CheckPositive("--cpus-per-task", o.cpus_per_task, 0);
  if (o.cpus_per_task > 0) add("--cpus-per-task", std::to_string(o.cpus_per_task));
  if (!o.mem.empty()) {
    if (!std::regex_match(o.mem, kMem)) {
      throw UserError("--mem: expected a size like 64G, 500M or 0 (whole node), got '" + o.mem +
                      "'");
    }
    add("--mem", o.mem);
  }
  if (!o.time.empty()) add("--time", o.time);
  for (const auto& raw : o.extra_sbatch) {
    CheckNoNewline("--sbatch", raw);
    std::string line = Trim(raw);
    if (line.rfind("#SBATCH", 0) == 0) line = Trim(line.substr(7));
    if (line.empty()) continue;
    if (line[0] != '-') {
      throw UserError("--sbatch: expected an sbatch option like --constraint=a100, got '" + raw +
                      "'");
    }
    CheckSbatchValue("--sbatch", line);
    out += "#SBATCH " + line + "\n";
  }
  return out;
}

std::string RenderBatchScriptText(const std::string& template_text, const SubmitOptions& o,
                                  const JobSpec& job) {
  CheckAbsolute("revsweep bin dir", job.revsweep_bin);
  CheckAbsolute("config", job.config);
  CheckAbsolute("store", job.store);
  CheckAbsolute("work dir", job.work_dir);
  const std::string log_dir = job.log_dir.empty() ? job.work_dir : job.log_dir;
  CheckAbsolute("log dir", log_dir);
  if (job.sweep.empty()) throw UserError("sweep: name is empty");
  CheckNoNewline("sweep", job.sweep);
  CheckPositive("--signal-before", o.signal_before_s, 1);
  if (o.signal_before_s > 65535) throw UserError("--signal-before: at most 65535 s");
  CheckPositive("--max-requeues", o.max_requeues, 0);
  const std::string job_name = o.job_name.empty() ? DefaultJobName(job) : o.job_name;
  CheckSbatchValue("--job-name", job_name);

  const std::map<std::string, std::string> values = {
      {"job_name", job_name},
      {"revsweep_bin", job.revsweep_bin},
      {"config", job.config},
      {"store", job.store},
      {"sweep", job.sweep},
      {"work_dir", job.work_dir},
      {"log_dir", log_dir},
      {"signal_before_s", std::to_string(o.signal_before_s)},
      {"max_requeues", std::to_string(o.max_requeues)},
  };
  const std::string options = SbatchOptionLines(o);

  std::string out;
  for (const std::string& line : SplitLines(template_text)) {
    if (Trim(line) == "{{sbatch_options}}") {
      out += options;
      continue;
    }
    const bool comment = !line.empty() && line[0] == '#';
    const bool sbatch = line.rfind("#SBATCH", 0) == 0;
    std::string rendered;
    size_t pos = 0;
    while (true) {
      size_t open = line.find("{{", pos);
      if (open == std::string::npos) break;
      size_t close = line.find("}}", open + 2);
      if (close == std::string::npos) break;
      const std::string name = line.substr(open + 2, close - open - 2);
      auto it = values.find(name);
      if (it == values.end()) {
        throw std::runtime_error("Slurm job template: unknown placeholder {{" + name + "}}");
      }
      if (sbatch) CheckSbatchValue(name, it->second);
      rendered += line.substr(pos, open - pos);
      rendered += comment ? it->second : ShellQuote(it->second);
      pos = close + 2;
    }
    rendered += line.substr(pos);
    out += rendered + "\n";
  }
  return out;
}

std::string RenderBatchScript(const SubmitOptions& options, const JobSpec& job,
                              const std::string& template_path) {
  return RenderBatchScriptText(ReadTemplate(template_path), options, job);
}

std::string FindBatchTemplate() {
  constexpr char kName[] = "revsweep.sbatch.tmpl";
  std::vector<fs::path> tried;
  if (const char* env = std::getenv("REVSWEEP_SLURM_TEMPLATE"); env && *env) {
    if (fs::is_regular_file(env)) return env;
    throw UserError(std::string("REVSWEEP_SLURM_TEMPLATE: no such file: ") + env);
  }
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path bin = exe.parent_path();
    tried.push_back(bin / ".." / "share" / "revsweep" / kName);       // installed
    tried.push_back(bin / ".." / ".." / "deploy" / "slurm" / kName);  // <src>/<build>/bin
  }
  // __FILE__ is this file's absolute path at build time (CMake passes absolute source paths),
  // so an executable run from any build directory still finds the source tree's template.
  tried.push_back(fs::path(__FILE__).parent_path().parent_path() / "deploy" / "slurm" / kName);
  std::string list;
  for (const auto& p : tried) {
    if (fs::is_regular_file(p, ec)) return p.lexically_normal().string();
    list += (list.empty() ? "" : ", ") + p.lexically_normal().string();
  }
  throw UserError("Slurm job template " + std::string(kName) + " not found (tried " + list +
                  "); set REVSWEEP_SLURM_TEMPLATE");
}

// ---- parsers ----------------------------------------------------------------------------------

bool IsValidJobId(const std::string& id) {
  static const std::regex kId("[0-9]+(_[0-9]+)?");
  return std::regex_match(id, kId);
}

std::string ParseSbatchParsable(const std::string& text) {
  // Warnings go to stderr, but be lenient about stray lines: the id is the last line.
  std::string last;
  for (const auto& line : SplitLines(text)) {
    if (!Trim(line).empty()) last = Trim(line);
  }
  std::string id = last.substr(0, last.find(';'));
  if (!IsValidJobId(id)) {
    throw SlurmError("sbatch --parsable printed no job id (output: '" + Trim(text) + "')");
  }
  return id;
}

std::vector<JobInfo> ParseSqueue(const std::string& text) {
  std::vector<JobInfo> jobs;
  for (const auto& line : SplitLines(text)) {
    if (Trim(line).empty()) continue;
    std::vector<std::string> f;
    size_t pos = 0;
    // Six separators; whatever follows the sixth is the name, separators included.
    for (int i = 0; i < 6; ++i) {
      size_t bar = line.find('|', pos);
      if (bar == std::string::npos) {
        throw SlurmError("unexpected squeue output line (format " + std::string(kSqueueFormat) +
                         "): '" + line + "'");
      }
      f.push_back(line.substr(pos, bar - pos));
      pos = bar + 1;
    }
    f.push_back(line.substr(pos));
    JobInfo j;
    j.id = Trim(f[0]);
    j.found = true;
    j.state = Trim(f[1]);
    j.reason = Trim(f[2]);
    j.time_used = Trim(f[3]);
    j.time_limit = Trim(f[4]);
    j.nodes = Trim(f[5]);
    j.name = f[6];
    jobs.push_back(std::move(j));
  }
  return jobs;
}

std::map<std::string, std::string> ParseScontrolLine(const std::string& line) {
  static const std::regex kKey("^[A-Za-z][A-Za-z0-9_:/]*=");
  std::map<std::string, std::string> fields;
  std::string key;
  std::istringstream in(line);
  std::string token;
  while (in >> token) {
    std::smatch m;
    if (std::regex_search(token, m, kKey)) {
      key = token.substr(0, m.length(0) - 1);
      fields[key] = token.substr(m.length(0));
    } else if (!key.empty()) {
      // A value with spaces (Command=/path/my script): the word belongs to the previous key.
      fields[key] += " " + token;
    }
  }
  return fields;
}

void ApplyScontrol(const std::map<std::string, std::string>& fields, JobInfo* job) {
  if (auto it = fields.find("Restarts"); it != fields.end()) job->restarts = ToInt(it->second, 0);
  if (auto it = fields.find("ExitCode"); it != fields.end()) {
    const std::string& v = it->second;
    size_t colon = v.find(':');
    job->exit_code = ToInt(v.substr(0, colon), 0);
    job->exit_signal = colon == std::string::npos ? 0 : ToInt(v.substr(colon + 1), 0);
  }
}

// ---- running the tools ----------------------------------------------------------------------

namespace {

// RunCommand (common/subprocess.h) with Slurm's error type and a hint when the tool is missing.
CommandResult RunTool(const std::vector<std::string>& argv) {
  try {
    return RunCommand(argv);
  } catch (const SubprocessError& e) {
    throw SlurmError(std::string(e.what()) + " (is Slurm installed and on PATH?)");
  }
}

}  // namespace

// ---- commands -----------------------------------------------------------------------------------

std::string Submit(const std::string& script_text, const std::string& script_path,
                   const SlurmTools& tools) {
  fs::path path(script_path);
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  // Written under a temporary name and renamed, so a crash never leaves half a script that a
  // later resubmit would run.
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << script_text;
    if (!f.flush()) throw SlurmError("cannot write job script " + tmp.string());
  }
  fs::rename(tmp, path);
  const std::vector<std::string> argv = {tools.sbatch, "--parsable", path.string()};
  CommandResult r = RunTool(argv);
  if (r.exit_code != 0) throw SlurmError(Describe(argv, r));
  return ParseSbatchParsable(r.out);
}

std::vector<JobInfo> QueryJobs(const std::vector<std::string>& ids, const SlurmTools& tools,
                               bool with_scontrol) {
  CheckJobIds(ids);
  std::vector<JobInfo> result;
  if (ids.empty()) return result;
  // -t all: squeue shows only pending/running jobs by default; finished ones stay visible
  // until MinJobAge.
  const std::vector<std::string> argv = {tools.squeue, "-h",           "-t", "all",
                                         "-j",         Join(ids, ","), "-o", kSqueueFormat};
  CommandResult r = RunTool(argv);
  std::map<std::string, JobInfo> by_id;
  if (r.exit_code != 0) {
    // squeue fails outright when none of the ids is known (all purged); that is an answer.
    if (r.err.find("Invalid job id") == std::string::npos) throw SlurmError(Describe(argv, r));
  } else {
    for (auto& j : ParseSqueue(r.out)) by_id[j.id] = std::move(j);
  }
  for (const auto& id : ids) {
    JobInfo j;
    if (auto it = by_id.find(id); it != by_id.end()) {
      j = it->second;
      if (!with_scontrol) {
        result.push_back(std::move(j));
        continue;
      }
      CommandResult s = RunTool({tools.scontrol, "-o", "show", "job", id});
      // A job purged between the two calls keeps what squeue said.
      if (s.exit_code == 0) {
        for (const auto& line : SplitLines(s.out)) {
          auto fields = ParseScontrolLine(line);
          if (fields["JobId"] == id) {
            ApplyScontrol(fields, &j);
            break;
          }
        }
      }
    } else {
      j.id = id;
      j.found = false;
    }
    result.push_back(std::move(j));
  }
  return result;
}

void Cancel(const std::vector<std::string>& ids, const SlurmTools& tools) {
  CheckJobIds(ids);
  if (ids.empty()) return;
  std::vector<std::string> argv = {tools.scancel};
  argv.insert(argv.end(), ids.begin(), ids.end());
  CommandResult r = RunTool(argv);
  if (r.exit_code != 0) throw SlurmError(Describe(argv, r));
}

}  // namespace revsweep
