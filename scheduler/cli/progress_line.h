// The progress display of `revsweep run`: reads the store (read-only) about once a second
// and draws one line: a bar, trials done/total, the running trials' steps and loss, ETA.
#pragma once

#include <string>

namespace revsweep {

class ProgressLine {
 public:
  ProgressLine(std::string store, std::string sweep, bool quiet);
  void Update();
  void Finish();

 private:
  std::string store_, sweep_;
  bool quiet_, tty_;
  double start_;
  double last_print_ = 0;
  size_t last_len_ = 0;
};

// Prints the per-trial accuracy table at the end of a run.
void PrintRunTable(const std::string& store, const std::string& sweep);

}  // namespace revsweep
