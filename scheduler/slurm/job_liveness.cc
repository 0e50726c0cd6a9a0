#include "scheduler/slurm/job_liveness.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/file_io.h"

namespace revsweep {
namespace {

std::string HostName() {
  char buf[256] = {0};
  gethostname(buf, sizeof(buf) - 1);
  return buf;
}

Liveness LocalJob(const std::string& job_id) {
  size_t at = job_id.find('@');
  if (at == std::string::npos) return Liveness::kGone;
  if (job_id.substr(at + 1) != HostName()) return Liveness::kUnknown;  // cannot see other hosts
  pid_t pid = static_cast<pid_t>(std::atoi(job_id.substr(6, at - 6).c_str()));
  if (pid <= 0 || kill(pid, 0) != 0) return Liveness::kGone;
  std::string cmdline, error;
  TryReadFile("/proc/" + std::to_string(pid) + "/cmdline", &cmdline, &error);
  // Guards against pid reuse.
  return cmdline.find("revsweep-train") != std::string::npos ? Liveness::kAlive : Liveness::kGone;
}

}  // namespace

std::string CurrentJobId() {
  if (const char* j = getenv("SLURM_JOB_ID")) return j;
  return "local-" + std::to_string(getpid()) + "@" + HostName();
}

Liveness CheckJob(const std::string& job_id, const std::string& self_job,
                  const LivenessProbe& probe, std::string* why) {
  if (job_id == self_job) return Liveness::kGone;
  if (job_id.rfind("local-", 0) == 0) return LocalJob(job_id);
  if (!IsValidJobId(job_id)) return Liveness::kUnknown;  // not ours to judge
  std::string last_error;
  for (int i = 0; i < probe.tries; ++i) {
    if (i > 0) {
      const double s = i;  // 1 s, 2 s, ...
      if (probe.nap)
        probe.nap(s);
      else
        std::this_thread::sleep_for(std::chrono::duration<double>(s));
    }
    try {
      std::vector<JobInfo> jobs = QueryJobs({job_id}, probe.tools, /*with_scontrol=*/false);
      return jobs.at(0).Finished() ? Liveness::kGone : Liveness::kAlive;
    } catch (const std::exception& e) {
      last_error = e.what();
    }
  }
  if (why) *why = last_error;
  return Liveness::kUnknown;
}

bool JobAlive(const std::string& job_id, const std::string& self_job) {
  std::string why;
  Liveness l = CheckJob(job_id, self_job, {}, &why);
  if (l == Liveness::kUnknown && !why.empty())
    fprintf(stderr,
            "revsweep-train: cannot tell whether job %s is alive (%s); its running attempts are "
            "left alone\n",
            job_id.c_str(), why.c_str());
  return l != Liveness::kGone;
}

}  // namespace revsweep
