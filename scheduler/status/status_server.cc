#include "scheduler/status/status_server.h"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include "common/file_io.h"

namespace revsweep {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

constexpr char kServerName[] = "revsweep-status";
constexpr char kIndex[] =
    "revsweep status server\n"
    "  GET /status   sweep status (JSON, schema_version 1)\n"
    "  GET /trials   trials with settings (JSON)\n"
    "  GET /metrics  Prometheus text exposition 0.0.4\n"
    "See docs/STATUS.md.\n";
// After an error reply we half-close and read (and discard) what the client is still sending,
// for at most this long and this many bytes: closing with unread data makes the kernel send a
// RST, which can destroy the reply before the client reads it.
constexpr std::chrono::milliseconds kMaxLinger{1000};
constexpr size_t kMaxLingerBytes = 1 << 20;
// A failed accept (e.g. out of file descriptors) is retried after this pause, not in a loop.
constexpr std::chrono::milliseconds kAcceptRetry{100};

bool IsHttpParseError(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

Response TextResponse(http::status status, unsigned version, std::string body,
                      const char* content_type) {
  Response res{status, version};
  res.set(http::field::server, kServerName);
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

// What a session needs from the server. A plain base class because StatusServer::Impl is
// private to StatusServer and can't be named here.
class ServerCore {
 public:
  virtual ~ServerCore() = default;
  virtual Response Handle(const Request& req) = 0;
  std::chrono::milliseconds read_timeout_ = StatusServer::kDefaultReadTimeout;
  // Open sessions: changed on the server thread only, read by open_connections() anywhere.
  std::atomic<int> active_{0};
};

}  // namespace

class StatusServer::Impl : public ServerCore {
 public:
  Impl(std::string bind, int port, Provider status_json, Provider trials_json,
       Provider metrics_text)
      : bind_(bind.empty() ? "127.0.0.1" : std::move(bind)),
        port_(port),
        status_json_(std::move(status_json)),
        trials_json_(std::move(trials_json)),
        metrics_text_(std::move(metrics_text)) {}
  ~Impl() override { Stop(); }

  void Start();
  void Stop();
  Response Handle(const Request& req) override;

  std::string bind_;
  int port_;
  Provider status_json_, trials_json_, metrics_text_;
  int max_connections_ = kDefaultMaxConnections;
  int bound_port_ = -1;
  bool started_ = false;

 private:
  void DoAccept();
  void OnAccept(const error_code& ec, tcp::socket socket);

  // Destroyed explicitly in Stop(), in this order: acceptor and timer, then the io_context,
  // whose destructor destroys the pending handlers and with them the sessions, which still
  // point at this Impl (active_).
  std::unique_ptr<asio::io_context> ioc_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<asio::steady_timer> retry_timer_;
  std::thread thread_;
};

namespace {

// One client connection: read a request under a deadline, answer, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, ServerCore* server)
      : stream_(std::move(socket)), server_(server), buffer_(StatusServer::kMaxRequestBytes) {
    ++server_->active_;
  }
  ~Session() { --server_->active_; }

  void Run() { DoRead(); }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->header_limit(StatusServer::kMaxRequestBytes);
    parser_->body_limit(StatusServer::kMaxRequestBytes);
    // One deadline for the whole request: a client dribbling a byte at a time can't hold us.
    stream_.expires_after(server_->read_timeout_);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(error_code ec) {
    try {
      if (ec == http::error::end_of_stream) {  // client closed between requests
        stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
        return;
      }
      if (ec && (!IsHttpParseError(ec) || ec == http::error::partial_message)) {
        // Timeout (the stream is already closed), reset, or EOF mid-request: nobody to answer.
        return;
      }
      if (ec) {
        http::status status = http::status::bad_request;
        const char* why = "bad request\n";
        if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
          status = http::status::request_header_fields_too_large;
          why = "request header too large\n";
        } else if (ec == http::error::body_limit) {
          status = http::status::payload_too_large;
          why = "request body too large\n";
        }
        // The stream can't be resynchronised after a parse error: answer, then close.
        Reply(TextResponse(status, 11, why, "text/plain; charset=utf-8"), /*close=*/true);
        return;
      }
      Request req = parser_->release();
      Response res = server_->Handle(req);
      Reply(std::move(res), /*close=*/!req.keep_alive());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "status server: %s\n", e.what());
    }
  }

  void Reply(Response res, bool close) {
    res.keep_alive(!close);
    res_ = std::move(res);
    stream_.expires_after(server_->read_timeout_);  // a client that never reads can't hold us
    http::async_write(stream_, *res_, [self = shared_from_this(), close](error_code ec, size_t) {
      self->OnWrite(ec, close);
    });
  }

  void OnWrite(error_code ec, bool close) {
    try {
      res_.reset();
      if (ec) return;
      if (!close) {
        DoRead();
        return;
      }
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      if (ec) return;
      stream_.expires_after(std::min(server_->read_timeout_, kMaxLinger));
      DoDrain();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "status server: %s\n", e.what());
    }
  }

  void DoDrain() {
    stream_.async_read_some(asio::buffer(drain_),
                            [self = shared_from_this()](error_code ec, size_t n) {
                              self->drained_ += n;
                              if (!ec && self->drained_ < kMaxLingerBytes) self->DoDrain();
                            });
  }

  beast::tcp_stream stream_;
  ServerCore* server_;
  beast::flat_buffer buffer_;  // limited: bytes beyond it fail the read (431)
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<Response> res_;  // kept alive while async_write runs
  char drain_[4096];
  size_t drained_ = 0;
};

}  // namespace

Response StatusServer::Impl::Handle(const Request& req) {
  const unsigned v = req.version();
  const bool head = req.method() == http::verb::head;
  if (req.method() != http::verb::get && !head) {
    Response res =
        TextResponse(http::status::method_not_allowed, v, "method not allowed: read-only server\n",
                     "text/plain; charset=utf-8");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  beast::string_view target = req.target();
  size_t q = target.find('?');  // queries are ignored, not rejected
  if (q != beast::string_view::npos) target = target.substr(0, q);

  const Provider* provider = nullptr;
  const char* type = nullptr;
  if (target == "/status") {
    provider = &status_json_;
    type = "application/json";
  } else if (target == "/trials") {
    provider = &trials_json_;
    type = "application/json";
  } else if (target == "/metrics") {
    provider = &metrics_text_;
    type = "text/plain; version=0.0.4; charset=utf-8";
  }
  Response res;
  if (target == "/") {
    res = TextResponse(http::status::ok, v, kIndex, "text/plain; charset=utf-8");
  } else if (provider == nullptr) {
    res =
        TextResponse(http::status::not_found, v, "not found; see /\n", "text/plain; charset=utf-8");
  } else {
    try {
      res = TextResponse(http::status::ok, v, (*provider)(), type);
    } catch (const std::exception& e) {
      res = TextResponse(http::status::internal_server_error, v,
                         std::string("status provider failed: ") + e.what() + "\n",
                         "text/plain; charset=utf-8");
    } catch (...) {
      res = TextResponse(http::status::internal_server_error, v, "status provider failed\n",
                         "text/plain; charset=utf-8");
    }
  }
  if (head) {
    // Same headers as GET (Content-Length of the GET body), no body.
    size_t n = res.body().size();
    res.body().clear();
    res.content_length(n);
  }
  return res;
}

void StatusServer::Impl::Start() {
  if (started_) throw std::logic_error("StatusServer::Start called twice");
  started_ = true;
  ioc_ = std::make_unique<asio::io_context>(1);
  acceptor_ = std::make_unique<tcp::acceptor>(*ioc_);
  retry_timer_ = std::make_unique<asio::steady_timer>(*ioc_);
  const std::string where = bind_ + ":" + std::to_string(port_);
  try {
    tcp::endpoint ep(asio::ip::make_address(bind_), static_cast<unsigned short>(port_));
    acceptor_->open(ep.protocol());
    // A restarted coordinator can rebind its fixed port while old connections sit in TIME_WAIT.
    acceptor_->set_option(asio::socket_base::reuse_address(true));
    acceptor_->bind(ep);
    acceptor_->listen(asio::socket_base::max_listen_connections);
    bound_port_ = acceptor_->local_endpoint().port();
  } catch (const boost::system::system_error& e) {
    acceptor_.reset();
    retry_timer_.reset();
    ioc_.reset();
    throw std::runtime_error("status server: cannot listen on " + where + ": " +
                             e.code().message());
  }
  DoAccept();
  thread_ = std::thread([this] {
    // Handlers catch their own exceptions; this loop is the last line, so one bad request can
    // never take the server (or, via std::terminate, the coordinator) down.
    for (;;) {
      try {
        ioc_->run();
        return;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "status server: %s\n", e.what());
      } catch (...) {
        std::fprintf(stderr, "status server: unknown exception\n");
      }
    }
  });
}

void StatusServer::Impl::DoAccept() {
  acceptor_->async_accept([this](error_code ec, tcp::socket socket) {
    try {
      OnAccept(ec, std::move(socket));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "status server: %s\n", e.what());
      DoAccept();
    }
  });
}

void StatusServer::Impl::OnAccept(const error_code& ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
  if (ec) {
    retry_timer_->expires_after(kAcceptRetry);
    retry_timer_->async_wait([this](error_code wait_ec) {
      if (!wait_ec) DoAccept();
    });
    return;
  }
  if (active_ >= max_connections_) {
    error_code ignored;
    socket.close(ignored);  // over the cap: refuse at once rather than queue
  } else {
    std::make_shared<Session>(std::move(socket), this)->Run();
  }
  DoAccept();
}

void StatusServer::Impl::Stop() {
  if (!ioc_) return;
  ioc_->stop();  // thread-safe; run() returns after the current handler
  if (thread_.joinable()) thread_.join();
  error_code ignored;
  if (acceptor_) acceptor_->close(ignored);
  acceptor_.reset();
  retry_timer_.reset();
  ioc_.reset();  // destroys pending handlers, so sessions close their sockets here
}

// ---------------------------------------------------------------------------------------------

StatusServer::StatusServer(std::string bind, int port, Provider status_json, Provider trials_json,
                           Provider metrics_text)
    : impl_(std::make_unique<Impl>(std::move(bind), port, std::move(status_json),
                                   std::move(trials_json), std::move(metrics_text))) {
  if (port < 0 || port > 65535) throw std::invalid_argument("status server: bad port");
  if (!impl_->status_json_ || !impl_->trials_json_ || !impl_->metrics_text_) {
    throw std::invalid_argument("status server: empty provider");
  }
}

StatusServer::~StatusServer() = default;

void StatusServer::set_read_timeout(std::chrono::milliseconds timeout) {
  impl_->read_timeout_ = timeout;
}

void StatusServer::set_max_connections(int n) { impl_->max_connections_ = n < 1 ? 1 : n; }

void StatusServer::Start() { impl_->Start(); }

void StatusServer::Stop() { impl_->Stop(); }

int StatusServer::port() const { return impl_->bound_port_; }

int StatusServer::open_connections() const { return impl_->active_.load(); }

// ---------------------------------------------------------------------------------------------

void WritePortFile(const std::string& run_dir, const std::string& bind, int port) {
  std::string host = bind;
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") {
    host = "127.0.0.1";  // a wildcard is not an address a client can dial
  } else if (host.find(':') != std::string::npos && host.front() != '[') {
    host = "[" + host + "]";  // IPv6 literal in a URL
  }
  std::error_code ec;
  // Created here so the coordinator can start the server before anything else made the folder;
  // a failure shows up as the write below failing, with a better message.
  std::filesystem::create_directories(run_dir, ec);
  WriteFileAtomic((std::filesystem::path(run_dir) / "status.url").string(),
                  "http://" + host + ":" + std::to_string(port) + "/\n");
}

}  // namespace revsweep
