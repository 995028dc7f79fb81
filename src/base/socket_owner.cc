#include "base/socket_owner.h"

#include "absl/strings/str_cat.h"

#if defined(__linux__)

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace keyferry {
namespace {

struct RawAddress {
  int family = 0;
  uint32_t words[4] = {0, 0, 0, 0};  // network order, as inet_diag_sockid
};

absl::StatusOr<RawAddress> ParseAddress(const std::string& text) {
  RawAddress a;
  in_addr v4;
  in6_addr v6;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    a.family = AF_INET;
    std::memcpy(a.words, &v4, sizeof(v4));
  } else if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    a.family = AF_INET6;
    std::memcpy(a.words, &v6, sizeof(v6));
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a numeric IP address"));
  }
  return a;
}

// Fd closes a descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status Errno(const char* what) {
  return absl::UnavailableError(
      absl::StrCat("sock_diag ", what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<uint32_t> TcpSocketOwner(const TcpFourTuple& s) {
  absl::StatusOr<RawAddress> local = ParseAddress(s.local_address);
  if (!local.ok()) return local.status();
  absl::StatusOr<RawAddress> remote = ParseAddress(s.remote_address);
  if (!remote.ok()) return remote.status();
  if (local->family != remote->family) {
    return absl::InvalidArgumentError(
        "the local and remote addresses are of different families");
  }

  Fd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (fd.get() < 0) return Errno("socket");
  timeval timeout{.tv_sec = 2, .tv_usec = 0};
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout,
                   sizeof(timeout)) != 0) {
    return Errno("setsockopt");
  }

  // Without NLM_F_DUMP the kernel looks up exactly this 4-tuple
  // (inet_diag_find_one_icsk) and answers with one inet_diag_msg or with
  // an NLMSG_ERROR (ENOENT when there is no such socket).
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message;
  std::memset(&message, 0, sizeof(message));
  message.header.nlmsg_len = sizeof(message);
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST;
  message.header.nlmsg_seq = 1;
  inet_diag_req_v2& r = message.request;
  r.sdiag_family = static_cast<uint8_t>(local->family);
  r.sdiag_protocol = IPPROTO_TCP;
  r.idiag_states = ~0u;
  r.id.idiag_sport = htons(s.local_port);
  r.id.idiag_dport = htons(s.remote_port);
  std::memcpy(r.id.idiag_src, local->words, sizeof(r.id.idiag_src));
  std::memcpy(r.id.idiag_dst, remote->words, sizeof(r.id.idiag_dst));
  r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

  sockaddr_nl kernel;
  std::memset(&kernel, 0, sizeof(kernel));
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd.get(), &message, sizeof(message), 0,
               reinterpret_cast<const sockaddr*>(&kernel),
               sizeof(kernel)) < 0) {
    return Errno("sendto");
  }

  alignas(nlmsghdr) char buffer[8192];
  ssize_t n;
  do {
    n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Errno("recv");
  const std::string what =
      absl::StrCat("TCP socket ", s.local_address, ":", s.local_port, " -> ",
                   s.remote_address, ":", s.remote_port);
  int len = static_cast<int>(n);
  // NLMSG_OK compares the header's unsigned length with the int it is
  // given, as netlink(3) documents; clang flags the macro's comparison.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
  for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, len);
       h = NLMSG_NEXT(h, len)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) break;
      const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
      if (e->error == -ENOENT) {
        return absl::NotFoundError(absl::StrCat("no ", what));
      }
      return absl::UnavailableError(absl::StrCat(
          "sock_diag lookup of ", what, ": ", std::strerror(-e->error)));
    }
    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
        h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) {
      continue;
    }
    const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
    // The lookup falls back to a listening socket on the local end, and
    // finds sockets their process already closed (time-wait sockets report
    // uid 0): only an established socket with an inode (still open in some
    // process) has a meaningful owner.
    if (m->idiag_state != TCP_ESTABLISHED || m->idiag_inode == 0 ||
        m->id.idiag_sport != r.id.idiag_sport ||
        m->id.idiag_dport != r.id.idiag_dport) {
      return absl::NotFoundError(
          absl::StrCat("no established ", what, " held open by a process"));
    }
    return m->idiag_uid;
  }
#pragma GCC diagnostic pop
  return absl::UnavailableError(
      absl::StrCat("sock_diag lookup of ", what, ": no answer"));
}

}  // namespace keyferry

#else  // !__linux__

namespace keyferry {

absl::StatusOr<uint32_t> TcpSocketOwner(const TcpFourTuple&) {
  return absl::UnimplementedError(
      "finding a socket's owner needs Linux (sock_diag)");
}

}  // namespace keyferry

#endif
