// Prometheus counters, gauges and histograms of the server (GET /metrics, text format 0.0.4).
// Label values come from fixed sets (route names, status codes, model names given at start), so
// nothing a client sends can grow the series without bound.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace trm::serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double x);
  // `name`_bucket{labels,le=...}, _sum, _count.
  void render(std::string& out, const std::string& name, const std::string& labels) const;
  std::uint64_t count() const { return count_; }
  // Observations with value > x (for tests: e.g. a batch of more than one row happened).
  std::uint64_t count_above(double x) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bucket, not cumulative
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

class Metrics {
 public:
  explicit Metrics(const std::vector<std::string>& models);
  // One answered HTTP request: route is one of the server's route names ("other" for the rest).
  void request(const std::string& route, int code);
  void batch(const std::string& model, int rows);               // one model step of `rows` rows
  void solved(const std::string& model, double latency_s, int steps);
  void rejected(const std::string& model, int code);            // 503 / 504 of a solve
  // Text for GET /metrics; queue depths are read by the caller and passed in (model -> depth).
  std::string render(const std::map<std::string, std::size_t>& queue_depth) const;
  // For tests.
  std::uint64_t batches_above(const std::string& model, int rows) const;
  std::uint64_t requests(const std::string& route, int code) const;

 private:
  using Clock = std::chrono::steady_clock;
  struct PerModel {
    Histogram batch_rows{{1, 2, 4, 8, 16, 32, 64, 128, 256}};
    Histogram latency{{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
    std::uint64_t row_steps = 0, forwards = 0, solved = 0, supervision_steps = 0;
    std::map<int, std::uint64_t> rejected;
    std::deque<std::pair<Clock::time_point, int>> recent;  // model steps of the last 10 s
  };
  mutable std::mutex mu_;
  std::map<std::string, PerModel> models_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  Clock::time_point start_ = Clock::now();
};

}  // namespace trm::serve
