// Who owns the other end of a local TCP connection: the Linux sock_diag
// netlink interface (NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY with an exact
// inet_diag_req_v2 lookup), as `ss -tne` reads it. Linux only; elsewhere
// every call answers Unimplemented. Needs no privilege: any process may
// look up the sockets of its own network namespace.
#ifndef KEYFERRY_BASE_SOCKET_OWNER_H_
#define KEYFERRY_BASE_SOCKET_OWNER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace keyferry {

// TcpFourTuple names one TCP socket by its own (local) end and its peer's
// (remote) end. Addresses are numeric IPv4 ("127.0.0.1") or IPv6 ("::1",
// "::ffff:127.0.0.1") literals of the same family.
struct TcpFourTuple {
  std::string local_address;
  uint16_t local_port = 0;
  std::string remote_address;
  uint16_t remote_port = 0;
};

// TcpSocketOwner returns the uid that created the TCP socket `socket` (the
// kernel's sk_uid: the creating process's effective uid, which does not
// change when the descriptor is passed on or the process changes uid).
// To learn who is at the other end of a connection a server accepted, pass
// the connection's tuple swapped: the peer socket's local end is the
// server's remote end.
//
// Only a socket that is ESTABLISHED and still held open by a process
// counts: a socket its process already closed (FIN_WAIT2, TIME_WAIT, kept
// by the kernel alone and reported with uid 0) is NotFound, so a client
// cannot send a request, close, and be taken for root.
//
// Errors: InvalidArgument for an address that is not a numeric literal or
// families that differ; NotFound when no such socket exists (or it is not
// established and held open); Unavailable when the netlink query fails;
// Unimplemented on systems other than Linux.
absl::StatusOr<uint32_t> TcpSocketOwner(const TcpFourTuple& socket);

}  // namespace keyferry

#endif  // KEYFERRY_BASE_SOCKET_OWNER_H_
