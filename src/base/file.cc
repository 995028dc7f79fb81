#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <random>

namespace keyferry {
namespace {

absl::Status ErrnoStatus(const std::string& what, const std::string& path,
                         int err) {
  std::string msg = what + " " + path + ": " + strerror(err);
  if (err == ENOENT) return absl::NotFoundError(msg);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

std::string DirName(const std::string& path) {
  auto pos = path.rfind('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     size_t max_bytes) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open", path, errno);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return ErrnoStatus("cannot read", path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      close(fd);
      return absl::InvalidArgumentError(path + ": file larger than " +
                                        std::to_string(max_bytes) + " bytes");
    }
  }
  close(fd);
  return out;
}

absl::StatusOr<SecretBytes> ReadSecretFile(const std::string& path,
                                           size_t max_bytes) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("cannot open", path, errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return ErrnoStatus("cannot stat", path, err);
  }
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    close(fd);
    return absl::InvalidArgumentError(path + ": file larger than " +
                                      std::to_string(max_bytes) + " bytes");
  }
  SecretBytes out(static_cast<size_t>(st.st_size));
  auto buf = out.mutable_data(SecretAccess::Get());
  size_t off = 0;
  while (off < buf.size()) {
    ssize_t n = read(fd, buf.data() + off, buf.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return ErrnoStatus("cannot read", path, err);
    }
    if (n == 0) break;  // the file shrank while being read
    off += static_cast<size_t>(n);
  }
  close(fd);
  out.Resize(off);
  return out;
}

absl::Status WriteFileAtomic(const std::string& path,
                             std::span<const uint8_t> data, unsigned mode) {
  std::random_device rd;
  std::string tmp =
      path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(rd());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus("cannot create", tmp, errno);
  auto fail = [&](const std::string& what) {
    int err = errno;
    close(fd);
    unlink(tmp.c_str());
    return ErrnoStatus(what, path, err);
  };
  if (fchmod(fd, mode) != 0) return fail("cannot chmod");
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return fail("cannot fsync");
  if (close(fd) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return ErrnoStatus("cannot close", path, err);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return ErrnoStatus("cannot rename onto", path, err);
  }
  int dfd = open(DirName(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return absl::OkStatus();
}

absl::Status ShredFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return absl::OkStatus();
    if (errno == ELOOP) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " is a symbolic link; it is not followed nor overwritten"));
    }
    return absl::InternalError(absl::StrCat("cannot open ", path));
  }
  struct stat st;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    std::vector<uint8_t> zeros(static_cast<size_t>(st.st_size), 0);
    if (::write(fd, zeros.data(), zeros.size()) !=
        static_cast<ssize_t>(zeros.size())) {
      ::close(fd);
      return absl::InternalError(absl::StrCat("cannot overwrite ", path));
    }
    ::fsync(fd);
  }
  ::close(fd);
  if (::unlink(path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot remove ", path));
  }
  return SyncDirectory(path);
}

absl::Status SyncDirectory(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    return absl::InternalError(absl::StrCat(
        "cannot open directory ", dir.string(), ": ", strerror(errno)));
  }
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("cannot fsync directory ",
                                            dir.string(), ": ", strerror(err)));
  }
  return absl::OkStatus();
}

namespace {

absl::Status ModeError(std::string_view what, const std::string& path,
                       mode_t mode) {
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o",
                static_cast<unsigned>(mode & 07777));
  return absl::PermissionDeniedError(
      absl::StrCat(absl::string_view(what.data(), what.size()), " ", path,
                   " is accessible to group or others (mode ", octal,
                   "); it must be 0600 or stricter"));
}

}  // namespace

absl::Status CheckOwnerOnly(const std::string& path, std::string_view what) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::NotFoundError(path);
    return absl::PermissionDeniedError(
        absl::StrCat("cannot stat ", path, ": ", strerror(errno)));
  }
  if ((st.st_mode & 077) != 0) return ModeError(what, path, st.st_mode);
  return absl::OkStatus();
}

absl::StatusOr<SecretBytes> ReadOwnerOnlySecretFile(const std::string& path,
                                                    size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return absl::NotFoundError(path);
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot open ", path, errno == ELOOP ? ": it is a symbolic link" : ": ",
        strerror(errno)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::PermissionDeniedError(
        absl::StrCat(path, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return ModeError("secret file", path, st.st_mode);
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is larger than ", max_bytes, " bytes"));
  }
  SecretBytes out(static_cast<size_t>(st.st_size));
  auto buf = out.mutable_data(SecretAccess::Get());
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::read(fd, buf.data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return absl::InternalError(absl::StrCat("cannot read ", path));
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

}  // namespace keyferry
