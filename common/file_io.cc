#include "common/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace revsweep {

void WriteFileAtomic(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  auto fail = [&](const std::string& what, int fd) {
    int err = errno;
    if (fd >= 0) close(fd);
    unlink(tmp.c_str());
    throw std::runtime_error(path + ": " + what + ": " + std::strerror(err));
  };
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create temp file", -1);
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed", fd);
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) fail("fsync failed", fd);
  if (close(fd) != 0) fail("close failed", -1);
  if (rename(tmp.c_str(), path.c_str()) != 0) fail("rename failed", -1);
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
}

bool TryReadFile(const std::string& path, std::string* out, std::string* error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    *error = "is a directory";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    *error = "read error";
    return false;
  }
  *out = std::move(ss).str();
  return true;
}

std::string ReadFile(const std::string& path) {
  std::string text, error;
  if (!TryReadFile(path, &text, &error)) throw std::runtime_error(path + ": cannot read: " + error);
  return text;
}

}  // namespace revsweep
