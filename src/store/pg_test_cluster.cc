#include "store/pg_test_cluster.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "store/pg_db.h"

namespace keyferry::store {
namespace {

std::string RandomHex(int bytes) {
  std::random_device rd;
  std::string raw;
  for (int i = 0; i < bytes; ++i) raw.push_back(static_cast<char>(rd() & 0xff));
  return absl::BytesToHexString(raw);
}

}  // namespace

absl::Status TestCluster::Run(const std::vector<std::string>& argv) {
  const std::string log = dir_ + "/cmd.log";
  uid_t uid = 0;
  gid_t gid = 0;
  const bool drop = ::geteuid() == 0;
  if (drop) {
    const struct passwd* pw = ::getpwnam("nobody");
    if (pw == nullptr) return absl::UnavailableError("no user nobody");
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return absl::UnavailableError("fork failed");
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (drop && (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 ||
                 ::setuid(uid) != 0)) {
      ::_exit(126);
    }
    if (::chdir(dir_.c_str()) != 0) ::_exit(126);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "test cluster: ", argv[0], " failed (exit ", WEXITSTATUS(status),
        "); see ", log, " and ", dir_, "/server.log"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TestCluster>> TestCluster::Start() {
  char tmpl[] = "/tmp/kf_pg_XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    return absl::UnavailableError("test cluster: mkdtemp failed");
  }
  auto c = std::unique_ptr<TestCluster>(new TestCluster());
  c->dir_ = tmpl;
  c->password_ = RandomHex(16);
  const std::string pwfile = c->dir_ + "/pw";
  std::ofstream(pwfile) << c->password_ << "\n";
  if (::geteuid() == 0) {
    const struct passwd* pw = ::getpwnam("nobody");
    if (pw == nullptr) return absl::UnavailableError("no user nobody");
    for (const std::string& p : {c->dir_, pwfile}) {
      if (::chown(p.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        return absl::UnavailableError("test cluster: chown failed");
      }
    }
  }
  const std::string bin = kBinDir;
  RETURN_IF_ERROR(c->Run({bin + "/initdb", "-D", c->dir_ + "/data", "-U", "kf",
                          "--pwfile=" + pwfile, "--auth=scram-sha-256", "-E",
                          "UTF8", "--locale=C", "--no-sync"}));
  RETURN_IF_ERROR(c->Restart());
  return c;
}

absl::Status TestCluster::Restart() {
  // fsync=off: these clusters are thrown away; durability is not what the
  // tests measure, and it keeps a 2-core machine's disk quiet.
  RETURN_IF_ERROR(Run({std::string(kBinDir) + "/pg_ctl", "-D", dir_ + "/data",
                       "-l", dir_ + "/server.log", "-w", "-t", "60", "-o",
                       "-k " + dir_ +
                           " -c listen_addresses='' -c fsync=off "
                           "-c max_connections=40",
                       "start"}));
  running_ = true;
  return absl::OkStatus();
}

absl::Status TestCluster::Stop() {
  if (!running_) return absl::OkStatus();
  running_ = false;
  return Run({std::string(kBinDir) + "/pg_ctl", "-D", dir_ + "/data", "-w",
              "-m", "fast", "stop"});
}

absl::StatusOr<TestCluster*> TestCluster::Shared() {
  static absl::StatusOr<std::unique_ptr<TestCluster>> cluster = Start();
  if (!cluster.ok()) return cluster.status();
  return cluster->get();
}

TestCluster::~TestCluster() {
  (void)Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string TestCluster::Conninfo(const std::string& dbname) const {
  return absl::StrCat("host=", dir_, " user=kf password=", password_,
                      " dbname=", dbname);
}

absl::StatusOr<std::string> TestCluster::CreateDatabase() {
  ASSIGN_OR_RETURN(pg::ConnInfo info,
                   pg::ConnInfo::Parse(Conninfo("postgres")));
  ASSIGN_OR_RETURN(std::unique_ptr<pg::Conn> c, pg::Conn::Open(info));
  const std::string name = absl::StrCat("kf_test_", ++databases_);
  RETURN_IF_ERROR(c->Script("create database",
                            absl::StrCat("CREATE DATABASE ", name).c_str()));
  return Conninfo(name);
}

}  // namespace keyferry::store
