// The one way revsweep starts another program (Slurm tools, gnuplot, mpirun): argv as a vector,
// never a shell; looked up on PATH; stdin from /dev/null unless asked; every signal unblocked
// and at its default action in the child (the trainer blocks or handles TERM/USR2, and a child
// must not inherit that); no descriptor leaks into it (pipes are O_CLOEXEC); EINTR retried.
#pragma once

#include <sys/types.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace revsweep {

// The program could not be started (not installed, not executable, bad working directory).
class SubprocessError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SubprocessOptions {
  std::string cwd;  // the child's working directory; "" = this process's
  // Where stdout and stderr go: both written (truncated) to `output_file` when set; left as
  // this process's when `inherit_output` is set; else captured into CommandResult.
  std::string output_file;
  bool inherit_output = false;
  bool inherit_stdin = false;  // default: /dev/null
};

struct CommandResult {
  int exit_code = 0;  // the command's status; 128 + N when killed by signal N
  std::string out;    // captured stdout ("" unless captured)
  std::string err;    // captured stderr
};

// Runs argv to completion and collects its output (unless options send it elsewhere). Throws
// SubprocessError when it cannot be started.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const SubprocessOptions& options = {});

// Starts argv and returns its pid; the caller waits (WaitProcess). Output cannot be captured
// (use output_file or inherit_output). Throws SubprocessError when it cannot be started.
pid_t SpawnProcess(const std::vector<std::string>& argv, const SubprocessOptions& options);

// Waits for `pid` (EINTR retried). With `block` false returns false at once when it is still
// running. On return true, *exit_code is its status (128 + N when killed by signal N).
bool WaitProcess(pid_t pid, bool block, int* exit_code);

}  // namespace revsweep
