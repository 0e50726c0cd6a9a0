// Status server over loopback with raw POSIX sockets: routing, error replies, limits, slow and
// concurrent clients, connection cap, prompt Stop(). Every socket has a receive/send timeout
// and every loop a bound, so a server bug fails a test instead of hanging it.
#include "scheduler/status/status_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/lib/temp_dir.h"

namespace revsweep {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// An owned client socket with bounded blocking I/O.
class Client {
 public:
  explicit Client(int port, int timeout_ms = 3000) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    }
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends everything; false when the peer closed or the send timed out.
  bool Send(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // One recv: >0 bytes, 0 on orderly close, -1 on error (errno: EAGAIN on timeout).
  ssize_t RecvSome(std::string* out) {
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) out->append(buf, static_cast<size_t>(n));
    return n;
  }

  // True when the server closed the connection (EOF or reset) before the socket timeout;
  // any bytes received meanwhile are appended to `seen`.
  bool WaitClosed(std::string* seen = nullptr) {
    std::string sink;
    for (int i = 0; i < 10000; ++i) {
      ssize_t n = RecvSome(seen ? seen : &sink);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET || errno == EPIPE;
    }
    return false;
  }

  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

struct HttpResponse {
  int status = 0;                              // 0: no (complete) response
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// Reads one response (headers + Content-Length body). `head` responses have no body.
HttpResponse ReadResponse(Client& c, bool head = false) {
  HttpResponse r;
  std::string data;
  size_t end = std::string::npos;
  for (int i = 0; i < 1000 && (end = data.find("\r\n\r\n")) == std::string::npos; ++i) {
    if (c.RecvSome(&data) <= 0) return r;
  }
  if (end == std::string::npos) return r;
  std::istringstream hs(data.substr(0, end));
  std::string line;
  std::getline(hs, line);
  if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12) return r;
  int status = std::atoi(line.substr(9, 3).c_str());
  while (std::getline(hs, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    size_t v = line.find_first_not_of(' ', colon + 1);
    r.headers[name] = v == std::string::npos ? "" : line.substr(v);
  }
  size_t length = head ? 0
                       : std::stoul(r.headers.count("content-length") ? r.headers["content-length"]
                                                                      : std::string("0"));
  r.body = data.substr(end + 4);
  for (int i = 0; i < 10000 && r.body.size() < length; ++i) {
    if (c.RecvSome(&r.body) <= 0) return r;
  }
  if (r.body.size() < length) return r;
  r.status = status;
  return r;
}

std::string Request(const std::string& method, const std::string& path, bool close = true) {
  return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
         (close ? "Connection: close\r\n" : "") + "\r\n";
}

HttpResponse Fetch(int port, const std::string& path, const std::string& method = "GET") {
  Client c(port);
  if (!c.Send(Request(method, path))) return {};
  return ReadResponse(c, method == "HEAD");
}

class StatusServerTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(); }

  void StartServer(milliseconds timeout = milliseconds(1000), int max_connections = 64) {
    server_ = std::make_unique<StatusServer>(
        "", 0, [] { return std::string("{\"schema_version\":1}"); },
        [] { return std::string("{\"trials\":[]}"); },
        [] { return std::string("revsweep_trials{state=\"done\"} 3\n"); });
    server_->set_read_timeout(timeout);
    server_->set_max_connections(max_connections);
    server_->Start();
    port_ = server_->port();
    ASSERT_GT(port_, 0);
  }

  // Waits (deadline 60 s, no fixed sleep) until the server has exactly n open connections.
  bool WaitOpen(int n) {
    auto t0 = Clock::now();
    while (server_->open_connections() != n) {
      if (SecondsSince(t0) > 60) return false;
      std::this_thread::sleep_for(milliseconds(2));
    }
    return true;
  }

  void ExpectServing() {
    HttpResponse r = Fetch(port_, "/status");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"schema_version\":1}");
  }

  std::unique_ptr<StatusServer> server_;
  int port_ = 0;
};

TEST_F(StatusServerTest, ValidGetsReturnProviderBodies) {
  HttpResponse r = Fetch(port_, "/status");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"schema_version\":1}");
  EXPECT_EQ(r.headers["content-type"], "application/json");
  r = Fetch(port_, "/trials");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"trials\":[]}");
  EXPECT_EQ(r.headers["content-type"], "application/json");
  r = Fetch(port_, "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "revsweep_trials{state=\"done\"} 3\n");
  EXPECT_EQ(r.headers["content-type"].rfind("text/plain; version=0.0.4", 0), 0u)
      << r.headers["content-type"];
  r = Fetch(port_, "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("/metrics"), std::string::npos);
  r = Fetch(port_, "/status?pretty=1");  // queries are ignored
  EXPECT_EQ(r.status, 200);
}

TEST_F(StatusServerTest, HeadHasHeadersButNoBody) {
  HttpResponse r = Fetch(port_, "/status", "HEAD");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-length"], "20");
  EXPECT_TRUE(r.body.empty());
}

TEST_F(StatusServerTest, UnknownPathIs404) {
  EXPECT_EQ(Fetch(port_, "/nope").status, 404);
  EXPECT_EQ(Fetch(port_, "/status/extra").status, 404);
}

TEST_F(StatusServerTest, OtherMethodsAre405) {
  HttpResponse r = Fetch(port_, "/status", "POST");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers["allow"], "GET, HEAD");
  EXPECT_EQ(Fetch(port_, "/status", "DELETE").status, 405);
  EXPECT_EQ(Fetch(port_, "/status", "BREW").status, 405);
  // A POST with a body is read and answered, not left half-read.
  Client c(port_);
  ASSERT_TRUE(
      c.Send("POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
             "Connection: close\r\n\r\nhello"));
  EXPECT_EQ(ReadResponse(c).status, 405);
  ExpectServing();
}

TEST_F(StatusServerTest, GarbageIs400AndServerKeepsServing) {
  {
    Client c(port_);
    ASSERT_TRUE(c.Send(std::string("\x00\x01\x02 garbage \xff\xfe\r\n\r\n", 18)));
    HttpResponse r = ReadResponse(c);
    EXPECT_EQ(r.status, 400);
    EXPECT_TRUE(c.WaitClosed());
  }
  {
    Client c(port_);
    ASSERT_TRUE(c.Send("GET /status HTTP/9.9\r\n\r\n"));
    EXPECT_EQ(ReadResponse(c).status, 400);
  }
  {
    Client c(port_);
    ASSERT_TRUE(c.Send("GET /status HTTP/1.1\r\nBad Header Without Colon\r\n\r\n"));
    EXPECT_EQ(ReadResponse(c).status, 400);
  }
  ExpectServing();
}

TEST_F(StatusServerTest, OversizedHeaderIsRejectedAndServerKeepsServing) {
  {
    Client c(port_);
    std::string req =
        "GET /status HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
    c.Send(req);  // the server may close before it is all sent
    std::string seen;
    EXPECT_TRUE(c.WaitClosed(&seen));
    if (!seen.empty()) {
      int status = std::atoi(seen.substr(9, 3).c_str());
      EXPECT_TRUE(status == 431 || status == 413) << seen.substr(0, 40);
    }
  }
  {
    // Many small headers over the limit as well.
    Client c(port_);
    std::string req = "GET /status HTTP/1.1\r\n";
    for (int i = 0; i < 1000; ++i) req += "X-H" + std::to_string(i) + ": 0123456789\r\n";
    c.Send(req + "\r\n");
    std::string seen;
    EXPECT_TRUE(c.WaitClosed(&seen));
  }
  ExpectServing();
}

TEST_F(StatusServerTest, OversizedBodyIs413) {
  Client c(port_);
  ASSERT_TRUE(c.Send("GET /status HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
                     std::string(9000, 'b')));
  std::string seen;
  EXPECT_TRUE(c.WaitClosed(&seen));
  EXPECT_EQ(seen.rfind("HTTP/1.1 413", 0), 0u) << seen.substr(0, 40);
  ExpectServing();
}

// No timing windows: "not blocked" is shown by order (the normal request is answered while
// the slow client is still connected, with a 60 s read timeout no busy machine reaches), and
// "dropped by the read timeout" by a lower bound only (a timer never fires early).
TEST_F(StatusServerTest, SlowClientDoesNotBlockOthers) {
  server_.reset();
  StartServer(milliseconds(60000));
  Client slow(port_, 60000);
  ASSERT_TRUE(slow.Send("GET /status HTTP/1.1\r\nHost: x\r\n"));  // ...and stalls
  ASSERT_TRUE(WaitOpen(1));
  ExpectServing();
  char peek;
  errno = 0;
  EXPECT_EQ(::recv(slow.fd(), &peek, 1, MSG_DONTWAIT | MSG_PEEK), -1)
      << "the slow client was closed before the normal request was answered";
  EXPECT_EQ(errno, EAGAIN);
}

TEST_F(StatusServerTest, SlowClientIsDroppedByTheReadTimeout) {
  Client slow(port_, 60000);
  auto t0 = Clock::now();
  ASSERT_TRUE(slow.Send("GET /status HTTP/1.1\r\nHost: x\r\n"));  // ...and stalls
  EXPECT_TRUE(slow.WaitClosed());
  EXPECT_GT(SecondsSince(t0), 0.8);  // the fixture's read timeout is 1 s
}

TEST_F(StatusServerTest, DribblingClientIsDroppedByTheRequestDeadline) {
  // One byte every 200 ms never completes a request within the 1 s deadline: the server
  // closes the connection before the last byte is sent (a whole request takes seconds).
  Client c(port_, 60000);
  const std::string req = Request("GET", "/status");
  ASSERT_GT(req.size(), 25u);  // > 5 s of dribbling
  auto t0 = Clock::now();
  bool closed = false;
  for (size_t i = 0; i < req.size(); ++i) {
    if (!c.Send(req.substr(i, 1))) {
      closed = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds(200));
    char peek;
    if (::recv(c.fd(), &peek, 1, MSG_DONTWAIT | MSG_PEEK) == 0) {  // closed meanwhile?
      closed = true;
      break;
    }
  }
  EXPECT_TRUE(closed) << "the whole request was sent without the deadline closing it";
  EXPECT_GT(SecondsSince(t0), 0.8);
}

TEST_F(StatusServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Client c(port_);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.Send(Request("GET", "/trials", /*close=*/false)));
    HttpResponse r = ReadResponse(c);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"trials\":[]}");
  }
}

TEST_F(StatusServerTest, SequentialAndConcurrentClientsAllAnswered) {
  for (int i = 0; i < 100; ++i) ASSERT_EQ(Fetch(port_, "/metrics").status, 200) << i;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      try {
        HttpResponse r = Fetch(port_, i % 2 ? "/status" : "/metrics");
        if (r.status == 200 && !r.body.empty()) ++ok;
      } catch (const std::exception&) {
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 20);
}

TEST_F(StatusServerTest, ConnectionsBeyondTheCapAreClosed) {
  server_.reset();
  StartServer(milliseconds(60000), /*max_connections=*/2);
  auto a = std::make_unique<Client>(port_);
  auto b = std::make_unique<Client>(port_);
  ASSERT_TRUE(a->Send("GET /status HTTP/1.1\r\n"));  // both hold a slot, mid-request
  ASSERT_TRUE(b->Send("GET /status HTTP/1.1\r\n"));
  ASSERT_TRUE(WaitOpen(2));  // the server accepted both
  {
    Client c(port_, 60000);
    c.Send(Request("GET", "/status"));
    auto t0 = Clock::now();
    std::string seen;
    EXPECT_TRUE(c.WaitClosed(&seen));
    EXPECT_TRUE(seen.empty()) << seen.substr(0, 40);
    EXPECT_LT(SecondsSince(t0), 30.0);  // closed at once, not after the 60 s read timeout
  }
  a.reset();  // frees the slots (the server sees EOF)
  b.reset();
  ASSERT_TRUE(WaitOpen(0));  // the server saw both EOFs
  EXPECT_EQ(Fetch(port_, "/status").status, 200);
}

TEST_F(StatusServerTest, StopReturnsPromptlyWithConnectionsOpen) {
  server_.reset();
  StartServer(milliseconds(60000));
  std::vector<std::unique_ptr<Client>> open;
  for (int i = 0; i < 5; ++i) {
    open.push_back(std::make_unique<Client>(port_, 60000));
    open.back()->Send("GET /status HTTP/1.1\r\n");
  }
  Client idle(port_, 60000);  // connected, nothing sent
  ASSERT_TRUE(WaitOpen(6));
  auto t0 = Clock::now();
  server_->Stop();
  EXPECT_LT(SecondsSince(t0), 30.0);  // not after the 60 s read timeout of the open clients
  for (auto& c : open) EXPECT_TRUE(c->WaitClosed());
  EXPECT_TRUE(idle.WaitClosed());
  server_->Stop();  // idempotent
}

TEST(StatusServer, ProviderExceptionIs500AndServerSurvives) {
  std::atomic<int> calls{0};
  StatusServer server(
      "127.0.0.1", 0,
      [&]() -> std::string {
        if (calls++ == 0) throw std::runtime_error("store locked");
        return "{}";
      },
      [] { return std::string("{}"); }, [] { return std::string(""); });
  server.Start();
  HttpResponse r = Fetch(server.port(), "/status");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("store locked"), std::string::npos);
  EXPECT_EQ(Fetch(server.port(), "/status").status, 200);
}

TEST(StatusServer, BindErrorsThrowAndDestructorWithoutStartIsFine) {
  auto p = [] { return std::string(); };
  StatusServer first("127.0.0.1", 0, p, p, p);
  first.Start();
  StatusServer second("127.0.0.1", first.port(), p, p, p);
  EXPECT_THROW(second.Start(), std::runtime_error);
  StatusServer bad_address("not-an-address", 0, p, p, p);
  EXPECT_THROW(bad_address.Start(), std::runtime_error);
  EXPECT_THROW(StatusServer("", 70000, p, p, p), std::invalid_argument);
  EXPECT_THROW(StatusServer("", 0, nullptr, p, p), std::invalid_argument);
  StatusServer never_started("", 0, p, p, p);
  never_started.Stop();
}

TEST(WritePortFile, WritesUrlAtomically) {
  testutil::TempDir tmp("status_server");
  const std::string dir = tmp.path();
  auto read = [&](const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  WritePortFile(dir + "/run", "", 8123);  // creates the run dir
  EXPECT_EQ(read(dir + "/run/status.url"), "http://127.0.0.1:8123/\n");
  WritePortFile(dir + "/run", "0.0.0.0", 9000);  // replaces; wildcard is not dialable
  EXPECT_EQ(read(dir + "/run/status.url"), "http://127.0.0.1:9000/\n");
  WritePortFile(dir + "/run", "::1", 9001);
  EXPECT_EQ(read(dir + "/run/status.url"), "http://[::1]:9001/\n");
  WritePortFile(dir + "/run", "10.1.2.3", 9002);
  EXPECT_EQ(read(dir + "/run/status.url"), "http://10.1.2.3:9002/\n");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/run")) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);  // no temp files left behind
  std::ofstream(dir + "/file") << "x";
  EXPECT_THROW(WritePortFile(dir + "/file", "", 1), std::runtime_error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace revsweep
