// Typed errors for a user's mistakes (config, dataset, flags, store path).
// Caught once at the CLI and printed as one line; each kind has a distinct exit code.
#pragma once

#include <stdexcept>
#include <string>

namespace revsweep {

// Exit codes, documented in README and docs/CONFIG.md.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;    // internal error or some trials failed
constexpr int kExitUserError = 2;  // bad config / dataset / flags / store path
constexpr int kExitRequeue = 75;   // preempted: checkpoint written, requeue me (EX_TEMPFAIL)

// A mistake in user input. `file`, `line` and `column` are 1-based; line 0 means "whole
// file" (column is then ignored); `key` is the dotted key path ("train.lr") or empty.
class UserError : public std::runtime_error {
 public:
  UserError(std::string file, int line, int column, std::string key, std::string message)
      : std::runtime_error(Format(file, line, column, key, message)),
        file_(std::move(file)),
        line_(line),
        column_(column),
        key_(std::move(key)),
        message_(std::move(message)) {}
  // For errors not tied to a file (flags): file is the flag or subject.
  explicit UserError(std::string message)
      : std::runtime_error(message), line_(0), column_(0), message_(std::move(message)) {}

  const std::string& file() const { return file_; }
  int line() const { return line_; }
  int column() const { return column_; }
  const std::string& key() const { return key_; }
  const std::string& message() const { return message_; }

  // "file:line:column: key: message" (parts omitted when unknown).
  static std::string Format(const std::string& file, int line, int column, const std::string& key,
                            const std::string& message) {
    std::string s = file;
    if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column > 0 ? column : 1);
    if (!s.empty()) s += ": ";
    if (!key.empty()) s += key + ": ";
    return s + message;
  }

 private:
  std::string file_;
  int line_;
  int column_;
  std::string key_;
  std::string message_;
};

}  // namespace revsweep
