// Unit tests of common/subprocess: the one way revsweep starts other programs.
#include "common/subprocess.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "tests/lib/temp_dir.h"

namespace revsweep {
namespace {

TEST(Subprocess, CollectsBothStreamsAndStatus) {
  CommandResult r = RunCommand({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  // Arguments are passed as is, never through a shell.
  r = RunCommand({"printf", "%s", "$(id); rm -rf /"});
  EXPECT_EQ(r.out, "$(id); rm -rf /");
  r = RunCommand({"sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(r.exit_code, 128 + 15);
}

TEST(Subprocess, ChildStartsWithNoSignalBlockedOrIgnored) {
  sigset_t usr2, old;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &usr2, &old);
  auto old_term = signal(SIGTERM, SIG_IGN);
  CommandResult r = RunCommand({"sh", "-c", "grep -E '^Sig(Blk|Ign):' /proc/self/status"});
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  signal(SIGTERM, old_term);
  EXPECT_NE(r.out.find("SigBlk:\t0000000000000000"), std::string::npos) << r.out;
  // sh itself may ignore a few signals, but not TERM (bit 15) or USR2 (bit 12).
  const auto ign_pos = r.out.find("SigIgn:\t");
  ASSERT_NE(ign_pos, std::string::npos) << r.out;
  const unsigned long long ign = std::stoull(r.out.substr(ign_pos + 8, 16), nullptr, 16);
  EXPECT_EQ(ign & (1ULL << (SIGTERM - 1)), 0u) << r.out;
  EXPECT_EQ(ign & (1ULL << (SIGUSR2 - 1)), 0u) << r.out;
}

TEST(Subprocess, LargeOutputOnBothStreamsDoesNotDeadlock) {
  CommandResult r = RunCommand(
      {"sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' a; head -c 1000000 /dev/zero >&2"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.size(), 1000000u);
  EXPECT_EQ(r.err.size(), 1000000u);
}

TEST(Subprocess, MissingProgramThrows) {
  EXPECT_THROW(RunCommand({"revsweep-no-such-program"}), SubprocessError);
}

TEST(Subprocess, RunsInTheGivenDirectoryAndWritesOutputToAFile) {
  testutil::TempDir dir("subprocess_test");
  SubprocessOptions o;
  o.cwd = dir.path();
  o.output_file = dir / "out.log";
  CommandResult r = RunCommand({"sh", "-c", "pwd; echo to-stderr >&2; exit 4"}, o);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(r.out.empty());
  std::ifstream in(dir / "out.log");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), dir.path() + "\nto-stderr\n");
  o.cwd = dir / "no-such-dir";
  EXPECT_THROW(RunCommand({"true"}, o), SubprocessError);
}

TEST(Subprocess, LeaksNoDescriptorIntoTheChild) {
  // Descriptors this process lets children inherit (none, usually; a harness may add some).
  std::set<int> inheritable;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(e.path().filename().string());
    const int flags = fcntl(fd, F_GETFD);
    if (fd > 2 && flags >= 0 && !(flags & FD_CLOEXEC)) inheritable.insert(fd);
  }
  // The child lists its own descriptors: 0, 1, 2 (its pipes to us), the inheritable ones, and
  // the one ls opened for /proc/self/fd. RunCommand's four pipe ends must not be among them.
  CommandResult r = RunCommand({"ls", "/proc/self/fd"});
  ASSERT_EQ(r.exit_code, 0);
  std::istringstream in(r.out);
  std::set<int> extra;
  for (int fd; in >> fd;)
    if (fd > 2 && !inheritable.count(fd)) extra.insert(fd);
  EXPECT_EQ(extra.size(), 1u) << r.out;  // ls's own directory descriptor only
}

TEST(Subprocess, SpawnAndWaitWithoutBlocking) {
  testutil::TempDir dir("subprocess_test");
  SubprocessOptions o;
  o.output_file = dir / "log";
  // The child waits for a file the test creates: "still running" is certain, not timed.
  const std::string go = dir / "go";
  pid_t pid =
      SpawnProcess({"sh", "-c", "while [ ! -e " + go + " ]; do sleep 0.01; done; exit 7"}, o);
  int code = -1;
  EXPECT_FALSE(WaitProcess(pid, false, &code));
  std::ofstream(go).put('x');
  EXPECT_TRUE(WaitProcess(pid, true, &code));
  EXPECT_EQ(code, 7);
}

}  // namespace
}  // namespace revsweep
