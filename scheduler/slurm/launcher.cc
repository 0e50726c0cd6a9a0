#include "scheduler/slurm/launcher.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "common/subprocess.h"

namespace revsweep {
namespace {

std::atomic<int> g_forward_signal{0};
void OnSignal(int sig) { g_forward_signal = sig; }

}  // namespace

std::string SelfDir() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "." : p.parent_path().string();
}

std::vector<std::string> MpirunCommand(const LaunchOptions& o) {
  std::vector<std::string> argv = {"mpirun"};
  if (geteuid() == 0) argv.push_back("--allow-run-as-root");
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  const bool oversubscribed = o.ranks * o.threads_per_rank > cores;
  if (oversubscribed) argv.push_back("--oversubscribe");
  // One thread per rank pinned to a core beats one rank with two threads here (15-35%);
  // with more ranks than cores, pinning would stack ranks, so leave them to the OS.
  argv.insert(argv.end(), {"--bind-to", oversubscribed ? "none" : "core"});
  argv.insert(argv.end(), {"-np", std::to_string(o.ranks)});
  argv.insert(argv.end(), {"-x", "OMP_NUM_THREADS=" + std::to_string(o.threads_per_rank)});
  // Unbound ranks with spinning OpenMP threads collapse: passive waiting avoids it.
  argv.insert(argv.end(), {"-x", "OMP_WAIT_POLICY=passive"});
  argv.insert(argv.end(), {"--mca", "btl", "self,vader,tcp"});
  argv.insert(argv.end(),
              {o.train_bin, "--store", o.store, "--sweep", o.sweep, "--policy", o.policy});
  if (o.quiet) argv.push_back("--quiet");
  return argv;
}

int RunWorld(const std::vector<std::string>& argv, const std::function<void()>& on_tick) {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int, old_term, old_usr2;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  sigaction(SIGUSR2, &sa, &old_usr2);
  SubprocessOptions so;
  so.inherit_output = true;
  so.inherit_stdin = true;
  int status = 127;
  pid_t pid = -1;
  try {
    pid = SpawnProcess(argv, so);
  } catch (const SubprocessError& e) {
    fprintf(stderr, "revsweep: %s\n", e.what());
  }
  if (pid > 0) {
    int forwarded = 0;
    auto last_tick = std::chrono::steady_clock::now();
    while (!WaitProcess(pid, false, &status)) {
      int sig = g_forward_signal.exchange(0);
      if (sig) {
        // mpirun forwards SIGUSR2 to every rank; a second Ctrl-C ends it hard.
        kill(pid, ++forwarded > 1 && sig == SIGINT ? SIGTERM : SIGUSR2);
      }
      if (on_tick && std::chrono::steady_clock::now() - last_tick > std::chrono::seconds(1)) {
        on_tick();
        last_tick = std::chrono::steady_clock::now();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  sigaction(SIGUSR2, &old_usr2, nullptr);
  return status;
}

}  // namespace revsweep
