#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace revsweep {
namespace {

// The pipe pair for one captured stream; both ends close on exec (dup2 onto 1/2 clears the flag
// on the copy only).
struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() {
    for (int f : fd)
      if (f >= 0) close(f);
  }
  void Open() {
    if (pipe2(fd, O_CLOEXEC) != 0) throw SubprocessError("pipe: " + std::string(strerror(errno)));
  }
};

pid_t Start(const std::vector<std::string>& argv, const SubprocessOptions& o, Pipe* out,
            Pipe* err) {
  if (argv.empty()) throw SubprocessError("empty command");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!o.inherit_stdin) posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (!o.output_file.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, o.output_file.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  } else if (out && err) {
    posix_spawn_file_actions_adddup2(&actions, out->fd[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err->fd[1], 2);
  }
  // After the redirections: a relative output_file names a file in this process's directory.
  if (!o.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, o.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    throw SubprocessError("cannot run " + argv[0] + ": " + strerror(rc) +
                          (o.cwd.empty() ? "" : " (in " + o.cwd + ")"));
  }
  return pid;
}

int StatusOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

}  // namespace

pid_t SpawnProcess(const std::vector<std::string>& argv, const SubprocessOptions& options) {
  return Start(argv, options, nullptr, nullptr);
}

bool WaitProcess(pid_t pid, bool block, int* exit_code) {
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &status, block ? 0 : WNOHANG);
    if (r == pid) break;
    if (r == 0) return false;
    if (errno != EINTR) throw SubprocessError("waitpid: " + std::string(strerror(errno)));
  }
  *exit_code = StatusOf(status);
  return true;
}

CommandResult RunCommand(const std::vector<std::string>& argv, const SubprocessOptions& options) {
  CommandResult result;
  const bool capture = options.output_file.empty() && !options.inherit_output;
  Pipe out, err;
  if (capture) {
    out.Open();
    err.Open();
  }
  const pid_t pid = Start(argv, options, capture ? &out : nullptr, capture ? &err : nullptr);
  if (capture) {
    close(out.fd[1]);
    out.fd[1] = -1;
    close(err.fd[1]);
    err.fd[1] = -1;
    // Drain both pipes together: a child that fills one pipe while we block on the other would
    // deadlock.
    std::array<pollfd, 2> fds = {pollfd{out.fd[0], POLLIN, 0}, pollfd{err.fd[0], POLLIN, 0}};
    std::string* sinks[2] = {&result.out, &result.err};
    int open_fds = 2;
    char buf[4096];
    while (open_fds > 0) {
      if (poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        const ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n > 0) {
          sinks[i]->append(buf, static_cast<size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          fds[i].fd = -1;
          --open_fds;
        }
      }
    }
  }
  WaitProcess(pid, true, &result.exit_code);
  return result;
}

}  // namespace revsweep
