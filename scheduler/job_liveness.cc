#include "scheduler/job_liveness.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

extern char** environ;

namespace revsweep {
namespace {

std::string HostName() {
  char buf[256] = {0};
  gethostname(buf, sizeof(buf) - 1);
  return buf;
}

}  // namespace

std::string CurrentJobId() {
  if (const char* j = getenv("SLURM_JOB_ID")) return j;
  return "local-" + std::to_string(getpid()) + "@" + HostName();
}

std::string RunCapture(const std::vector<std::string>& argv, int* status) {
  int fds[2];
  *status = -1;
  if (pipe(fds) != 0) return "";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  std::string out;
  if (rc == 0) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
    int ws = 0;
    waitpid(pid, &ws, 0);
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
  }
  close(fds[0]);
  return out;
}

bool JobAlive(const std::string& job_id, const std::string& self_job) {
  if (job_id == self_job) return false;
  if (job_id.rfind("local-", 0) == 0) {
    size_t at = job_id.find('@');
    if (at == std::string::npos) return false;
    if (job_id.substr(at + 1) != HostName()) return true;  // cannot see other hosts: assume alive
    pid_t pid = static_cast<pid_t>(std::atoi(job_id.substr(6, at - 6).c_str()));
    if (pid <= 0 || kill(pid, 0) != 0) return false;
    std::ifstream cmd("/proc/" + std::to_string(pid) + "/cmdline");
    std::stringstream ss;
    ss << cmd.rdbuf();
    return ss.str().find("revsweep-train") != std::string::npos;  // guards against pid reuse
  }
  int status = 0;
  std::string out = RunCapture({"squeue", "-h", "-j", job_id, "-o", "%T"}, &status);
  if (status != 0) return status == -1;  // squeue missing: cannot tell, assume alive
  for (const char* s : {"RUNNING", "PENDING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED",
                        "REQUEUE_HOLD", "RESIZING", "SIGNALING", "STAGE_OUT"})
    if (out.find(s) != std::string::npos) return true;
  return false;
}

}  // namespace revsweep
