// How the coordinator talks to the worker ranks: the seam between its protocol (which trial runs
// where, what a failure means) and MPI. MpiTransport (mpi_transport.h) is the real one;
// InMemoryTransport lets a unit test play every worker rank by hand.
#pragma once

#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace revsweep {

struct Envelope {
  int source = 0;  // world rank
  int tag = 0;     // a MessageTag
  std::string text;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Ranks in the world, rank 0 included (it runs a worker beside the coordinator).
  virtual int WorldSize() const = 0;
  // Never blocks on the receiver: a rank that is stuck (in a collective with a dead peer, or
  // stopped) must not stall the coordinator. Delivery order per destination is kept.
  virtual void Send(int dest, int tag, const std::string& text) = 0;
  // The next message addressed to the coordinator (Result, Failed, Progress, Heartbeat), if one
  // has arrived.
  virtual std::optional<Envelope> TryReceive() = 0;
  // Ends every rank of the world with `code` now. Does not return.
  [[noreturn]] virtual void Abort(int code) = 0;
};

// What InMemoryTransport::Abort throws: the in-memory world "ends" by unwinding the test.
class WorldAborted : public std::runtime_error {
 public:
  explicit WorldAborted(int code)
      : std::runtime_error("world aborted with code " + std::to_string(code)), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// A world in a test's hands: what the coordinator sends lands in `sent`, what the test pushes
// with Deliver is what the coordinator receives.
class InMemoryTransport : public Transport {
 public:
  struct Sent {
    int dest;
    int tag;
    std::string text;
  };
  explicit InMemoryTransport(int world_size) : world_size_(world_size) {}
  int WorldSize() const override { return world_size_; }
  void Send(int dest, int tag, const std::string& text) override {
    sent.push_back({dest, tag, text});
  }
  std::optional<Envelope> TryReceive() override {
    if (inbox_.empty()) return std::nullopt;
    Envelope e = std::move(inbox_.front());
    inbox_.pop_front();
    return e;
  }
  [[noreturn]] void Abort(int code) override { throw WorldAborted(code); }

  void Deliver(int source, int tag, const std::string& text) {
    inbox_.push_back({source, tag, text});
  }
  // Removes and returns what was sent with `tag` (to any rank), oldest first.
  std::vector<Sent> Take(int tag) {
    std::vector<Sent> out, keep;
    for (auto& s : sent) (s.tag == tag ? out : keep).push_back(std::move(s));
    sent = std::move(keep);
    return out;
  }

  std::vector<Sent> sent;

 private:
  int world_size_;
  std::deque<Envelope> inbox_;
};

}  // namespace revsweep
