// A progress line on stderr for commands that work through many puzzles (eval, predict): done of
// total, the rate, and the ETA from the rate so far. Redrawn in place on a terminal (at most ~4
// times a second); elsewhere one line every 10% so a log shows the pace without flooding.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace trm::cli {

class ProgressLine {
 public:
  ProgressLine(std::string what, bool tty) : what_(std::move(what)), tty_(tty), t0_(Clock::now()), last_(t0_) {}
  void operator()(std::int64_t done, std::int64_t total) {
    const auto now = Clock::now();
    const double secs = std::chrono::duration<double>(now - t0_).count();
    const bool end = done >= total;
    if (tty_) {
      if (!end && std::chrono::duration<double>(now - last_).count() < 0.25) return;
    } else {
      const std::int64_t tenth = total >= 10 ? total / 10 : 1;
      if (!end && done / tenth == shown_ / tenth) return;
    }
    last_ = now;
    shown_ = done;
    const double rate = secs > 0 ? static_cast<double>(done) / secs : 0.0;
    const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0.0;
    std::fprintf(stderr, "%s  %s %lld/%lld  %.1f/s  %s %s%s", tty_ ? "\r" : "", what_.c_str(), static_cast<long long>(done),
                 static_cast<long long>(total), rate, end ? "took" : "ETA", duration(end ? secs : eta).c_str(),
                 tty_ && !end ? "   " : "\n");
    std::fflush(stderr);
  }

 private:
  using Clock = std::chrono::steady_clock;
  static std::string duration(double s) {
    char b[32];
    if (s < 60) std::snprintf(b, sizeof b, "%.0fs", s);
    else if (s < 3600) std::snprintf(b, sizeof b, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
    else std::snprintf(b, sizeof b, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) / 60 % 60);
    return b;
  }
  std::string what_;
  bool tty_;
  Clock::time_point t0_, last_;
  std::int64_t shown_ = 0;
};

}  // namespace trm::cli
