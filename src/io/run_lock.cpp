#include "io/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "trm/error.h"

namespace trm::data {
namespace {

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown host";
  return buf;
}

std::string now_iso8601() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &tm);
  return buf;
}

// This process's command line (Linux /proc; empty elsewhere), arguments joined by spaces.
std::string own_command() {
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  while (!s.empty() && s.back() == '\0') s.pop_back();
  for (char& c : s)
    if (c == '\0') c = ' ';
  return s;
}

// What the holder wrote into the lock file, for the refusal message.
std::string holder_description(int fd) {
  std::string text(4096, '\0');
  const ssize_t n = ::pread(fd, text.data(), text.size(), 0);
  text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("pid")) return "another process (it has not recorded its pid yet)";
  auto field = [&](const char* key) {
    const auto it = j.find(key);
    return it == j.end() ? std::string("?") : it->is_string() ? it->get<std::string>() : it->dump();
  };
  std::string s = "pid " + field("pid") + " on " + field("host") + " since " + field("started");
  if (j.contains("command")) s += " (command: " + field("command") + ")";
  return s;
}

}  // namespace

RunLock::RunLock(const std::string& dir, const std::string& what) : path_((std::filesystem::path(dir) / ".lock").string()) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(path_ + ": cannot open the lock file (" + std::strerror(errno) + ")");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string msg = err == EWOULDBLOCK ? what + " " + dir + " is in use by " + holder_description(fd_)
                                         : path_ + ": cannot lock (" + std::strerror(err) + ")";
    ::close(fd_);
    fd_ = -1;
    throw Error(msg);
  }
  const std::string info = nlohmann::json{{"pid", static_cast<long long>(::getpid())},
                                          {"host", host_name()},
                                          {"started", now_iso8601()},
                                          {"command", own_command()}}
                               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                           "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, info.data(), info.size(), 0) != static_cast<ssize_t>(info.size())) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw Error(path_ + ": cannot write the lock file (" + std::strerror(err) + ")");
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace trm::data
