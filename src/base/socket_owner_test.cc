#include "base/socket_owner.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <string>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "base/testing.h"

namespace keyferry {
namespace {

// Loopback is one real TCP connection on loopback: a listener, a client
// and the accepted server end.
class Loopback {
 public:
  // Connect builds the connection on `family` (AF_INET or AF_INET6); false
  // when that family has no loopback here.
  bool Connect(int family) {
    family_ = family;
    listener_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener_ < 0) return false;
    sockaddr_storage a;
    socklen_t len = Any(a);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(listener_, 4) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return false;
    }
    client_ = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client_ < 0 ||
        ::connect(client_, reinterpret_cast<sockaddr*>(&a), len) != 0) {
      return false;
    }
    server_ = ::accept(listener_, nullptr, nullptr);
    return server_ >= 0;
  }
  ~Loopback() {
    for (int fd : {client_, server_, listener_}) {
      if (fd >= 0) ::close(fd);
    }
  }

  // ClientTuple names the client's socket: local = the client's end.
  TcpFourTuple ClientTuple() const { return Tuple(client_); }
  // ServerTuple names the accepted socket.
  TcpFourTuple ServerTuple() const { return Tuple(server_); }
  uint16_t ListenerPort() const {
    sockaddr_storage a;
    socklen_t len = sizeof(a);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    return PortOf(a);
  }
  void CloseClient() {
    ::close(client_);
    client_ = -1;
  }

 private:
  socklen_t Any(sockaddr_storage& a) const {
    std::memset(&a, 0, sizeof(a));
    if (family_ == AF_INET) {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&a);
      v4->sin_family = AF_INET;
      v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      return sizeof(sockaddr_in);
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a);
    v6->sin6_family = AF_INET6;
    v6->sin6_addr = in6addr_loopback;
    return sizeof(sockaddr_in6);
  }
  static std::string Address(const sockaddr_storage& a) {
    char text[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a)->sin_addr,
                text, sizeof(text));
    } else {
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a)->sin6_addr,
                text, sizeof(text));
    }
    return text;
  }
  static uint16_t PortOf(const sockaddr_storage& a) {
    return ntohs(a.ss_family == AF_INET
                     ? reinterpret_cast<const sockaddr_in*>(&a)->sin_port
                     : reinterpret_cast<const sockaddr_in6*>(&a)->sin6_port);
  }
  static TcpFourTuple Tuple(int fd) {
    sockaddr_storage local, remote;
    socklen_t l = sizeof(local), r = sizeof(remote);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &l);
    ::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &r);
    return {Address(local), PortOf(local), Address(remote), PortOf(remote)};
  }

  int family_ = AF_INET;
  int listener_ = -1;
  int client_ = -1;
  int server_ = -1;
};

// Swapped is the other end of `t`.
TcpFourTuple Swapped(const TcpFourTuple& t) {
  return {t.remote_address, t.remote_port, t.local_address, t.local_port};
}

TEST(SocketOwnerTest, FindsOwnUidIpv4) {
  Loopback c;
  ASSERT_TRUE(c.Connect(AF_INET));
  EXPECT_EQ(c.ClientTuple().local_address, "127.0.0.1");
  ASSERT_OK_AND_ASSIGN(uint32_t uid, TcpSocketOwner(c.ClientTuple()));
  EXPECT_EQ(uid, ::geteuid());
  EXPECT_EQ(uid, ::getuid());
  // As a server asks it: the peer of the accepted socket.
  ASSERT_OK_AND_ASSIGN(uint32_t peer, TcpSocketOwner(Swapped(c.ServerTuple())));
  EXPECT_EQ(peer, ::getuid());
  ASSERT_OK_AND_ASSIGN(uint32_t self, TcpSocketOwner(c.ServerTuple()));
  EXPECT_EQ(self, ::getuid());
}

TEST(SocketOwnerTest, FindsOwnUidIpv6) {
  Loopback c;
  if (!c.Connect(AF_INET6)) GTEST_SKIP() << "no IPv6 loopback here";
  EXPECT_EQ(c.ClientTuple().local_address, "::1");
  ASSERT_OK_AND_ASSIGN(uint32_t uid, TcpSocketOwner(Swapped(c.ServerTuple())));
  EXPECT_EQ(uid, ::getuid());
}

// The answer is the peer's uid, not ours: a child process that became
// nobody (65534) connects; needs root to change uid, skipped otherwise, and
// skipped when the child cannot become nobody (a user namespace where 65534
// is not mapped). The parent never waits without a deadline: it polls the
// listener and watches the child, so a child that exits (or hangs) before
// connecting is a skip or a failure, not a hang until ctest's timeout.
TEST(SocketOwnerTest, FindsAnotherUid) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a client as nobody";
  constexpr uid_t kNobody = 65534;
  constexpr int kCannotBecomeNobody = 2, kCannotConnect = 3;
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  absl::Cleanup close_listener = [listener] { ::close(listener); };
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len), 0);
  int done[2];
  ASSERT_EQ(::pipe2(done, O_CLOEXEC), 0);
  pid_t child = ::fork();
  if (child < 0) {
    ::close(done[0]);
    ::close(done[1]);
    FAIL() << "fork: " << std::strerror(errno);
  }
  if (child == 0) {
    ::close(done[1]);
    if (::setresgid(kNobody, kNobody, kNobody) != 0 ||
        ::setresuid(kNobody, kNobody, kNobody) != 0) {
      ::_exit(kCannotBecomeNobody);
    }
    int c = ::socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || ::connect(c, reinterpret_cast<sockaddr*>(&a), len) != 0) {
      ::_exit(kCannotConnect);
    }
    char byte;
    (void)!::read(done[0], &byte, 1);  // until the parent has looked
    ::_exit(0);
  }
  ::close(done[0]);
  // Whatever way this test ends, the child is told to go (done[1] closes)
  // and reaped; one still running then is killed first.
  int status = -1;  // not "exited 0" until waitpid says so
  bool reaped = false;
  absl::Cleanup reap_child = [&] {
    if (done[1] >= 0) ::close(done[1]);
    if (reaped) return;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::waitpid(child, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(child, SIGKILL);
        ::waitpid(child, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };

  // Wait (30 s at most) for the child's connection, or for its end.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    pollfd p{.fd = listener, .events = POLLIN, .revents = 0};
    const int ready = ::poll(&p, 1, 100);
    ASSERT_GE(ready, 0) << "poll: " << std::strerror(errno);
    if (ready == 1) break;
    const pid_t gone = ::waitpid(child, &status, WNOHANG);
    ASSERT_GE(gone, 0) << "waitpid: " << std::strerror(errno);
    if (gone == child) {
      reaped = true;
      if (WIFEXITED(status) && WEXITSTATUS(status) == kCannotBecomeNobody) {
        GTEST_SKIP() << "the child cannot become uid " << kNobody
                     << " (setresgid/setresuid failed: a user namespace "
                        "that does not map it?)";
      }
      FAIL() << "the child ended before its connection was accepted: "
             << (WIFEXITED(status) && WEXITSTATUS(status) == kCannotConnect
                     ? "it could not connect"
                     : "wait status " + std::to_string(status));
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "the child, uid " << kNobody << ", did not connect in 30 s";
  }
  int server = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(server, 0) << "accept: " << std::strerror(errno);
  sockaddr_in local{}, remote{};
  socklen_t l = sizeof(local), r = sizeof(remote);
  ::getsockname(server, reinterpret_cast<sockaddr*>(&local), &l);
  ::getpeername(server, reinterpret_cast<sockaddr*>(&remote), &r);
  absl::StatusOr<uint32_t> uid =
      TcpSocketOwner({"127.0.0.1", ntohs(remote.sin_port), "127.0.0.1",
                      ntohs(local.sin_port)});
  absl::StatusOr<uint32_t> own =
      TcpSocketOwner({"127.0.0.1", ntohs(local.sin_port), "127.0.0.1",
                      ntohs(remote.sin_port)});
  ::close(done[1]);  // the child may go
  done[1] = -1;
  ::close(server);
  std::move(reap_child).Invoke();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the child's wait status: " << status;
  ASSERT_OK(uid);
  EXPECT_EQ(*uid, kNobody);
  ASSERT_OK(own);
  EXPECT_EQ(*own, 0u);
}

TEST(SocketOwnerTest, FailureNoSuchSocket) {
  Loopback c;
  ASSERT_TRUE(c.Connect(AF_INET));
  TcpFourTuple t = c.ClientTuple();
  // A 4-tuple that does not exist (the client port plus one, to a peer port
  // nobody uses).
  t.local_port = static_cast<uint16_t>(t.local_port + 1);
  t.remote_port = 1;
  EXPECT_THAT(TcpSocketOwner(t), StatusIs(absl::StatusCode::kNotFound));
  // The listener's address with a peer that never connected: the kernel's
  // lookup falls back to the listening socket, which is not an answer.
  TcpFourTuple to_listener{"127.0.0.1", c.ListenerPort(), "127.0.0.1", 1};
  EXPECT_THAT(TcpSocketOwner(to_listener),
              StatusIs(absl::StatusCode::kNotFound));
}

// A client that sends and closes at once leaves a socket the kernel keeps
// alone (FIN_WAIT, then a time-wait socket reporting uid 0): no owner.
TEST(SocketOwnerTest, FailureClosedSocket) {
  Loopback c;
  ASSERT_TRUE(c.Connect(AF_INET));
  const TcpFourTuple client = c.ClientTuple();
  ASSERT_OK(TcpSocketOwner(client));
  c.CloseClient();
  EXPECT_THAT(TcpSocketOwner(client), StatusIs(absl::StatusCode::kNotFound));
}

TEST(SocketOwnerTest, FailureBadAddresses) {
  EXPECT_THAT(TcpSocketOwner({"localhost", 1, "127.0.0.1", 2}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(TcpSocketOwner({"127.0.0.1", 1, "::1", 2}),
              StatusHasMessage("different families"));
}

}  // namespace
}  // namespace keyferry
