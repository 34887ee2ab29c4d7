// An exclusive lock on an output directory for a process's lifetime (internal), so that two
// trainings (or two dataset builds) never write into the same directory at once.
#pragma once
#include <string>

namespace trm::data {

// Takes flock(LOCK_EX) on DIR/.lock (created when missing) and writes one JSON line into it:
// {"pid", "host", "started", "command"}. When another process holds the lock, throws trm::Error
// "WHAT DIR is in use by pid N on HOST since T (command: ...)" (what: "run directory" for a
// training, "dataset directory" for a dataset build). The kernel releases a
// flock when its holder exits, however it exits (kill -9 included), so a lock file left behind by
// a dead process never blocks: only a live holder does. The file is not removed on release
// (removing it would race with a process that has just opened it).
class RunLock {
 public:
  explicit RunLock(const std::string& dir, const std::string& what = "run directory");
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace trm::data
