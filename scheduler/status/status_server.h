// A small read-only HTTP/1.1 status endpoint for a running sweep (Boost.Beast):
//   GET /         text index of the endpoints
//   GET /status   application/json (the status_json provider; see docs/STATUS.md)
//   GET /trials   application/json (the trials_json provider)
//   GET /metrics  text/plain; version=0.0.4 (the metrics_text provider, Prometheus)
// HEAD works on the same paths. Other paths 404, other methods 405, malformed requests 400,
// requests over 8 KiB 431 (header) or 413 (body); those error replies close the connection.
//
// The server is hardened for a shared login/compute node, not for the internet: it binds
// 127.0.0.1 by default, gives each connection a deadline per request (a stalled client is
// dropped), caps concurrent connections (the excess is closed at once) and never lets an
// exception escape its thread (a provider that throws yields a 500).
//
// Thread-safety contract: the providers are called on the server's own thread, one call at a
// time, while the caller's threads keep running. The caller makes them safe for that, e.g. a
// provider that copies a string the coordinator refreshes under a mutex. Providers should be
// fast (they block every other request while they run).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace revsweep {

class StatusServer {
 public:
  using Provider = std::function<std::string()>;

  static constexpr int kDefaultMaxConnections = 64;
  static constexpr std::chrono::milliseconds kDefaultReadTimeout{5000};
  // Limit of the request line + headers, and separately of the body (a GET has none).
  static constexpr size_t kMaxRequestBytes = 8 * 1024;

  // `bind` is an IPv4/IPv6 literal; "" means 127.0.0.1. `port` 0 picks a free port (see
  // port()). REQUIRES: 0 <= port <= 65535 and the providers are non-empty. Nothing is bound
  // before Start().
  StatusServer(std::string bind, int port, Provider status_json, Provider trials_json,
               Provider metrics_text);
  // Stops the server if it is running.
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // Tuning, before Start() only (tests shorten the timeout). The read timeout bounds reading
  // one whole request, and writing one reply; idle keep-alive connections close after it too.
  void set_read_timeout(std::chrono::milliseconds timeout);
  void set_max_connections(int n);  // REQUIRES: n >= 1

  // Binds, listens and starts the background thread that runs the server's io_context.
  // Throws std::runtime_error (message names the address) when the address is invalid or the
  // port cannot be bound. REQUIRES: called at most once per object.
  void Start();
  // Closes the listener and every connection and joins the thread; returns promptly even with
  // clients connected. Idempotent; safe to call without Start().
  void Stop();
  // The bound port (the real one when constructed with 0). REQUIRES: Start() succeeded.
  int port() const;
  // Connections accepted and not yet closed (tests wait on it instead of sleeping).
  int open_connections() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes `<run_dir>/status.url` with "http://HOST:PORT/\n" atomically (WriteFileAtomic: temp
// file, fsync, rename), so a reader never sees a half-written URL. HOST is 127.0.0.1 when
// `bind` is empty or a wildcard (0.0.0.0, ::), else `bind` (IPv6 in brackets). Creates run_dir
// when missing. Throws std::runtime_error when the file cannot be written.
void WritePortFile(const std::string& run_dir, const std::string& bind, int port);

}  // namespace revsweep
