#include "trm/serve/metrics.h"

#include <algorithm>
#include <cstdio>

namespace trm::serve {

namespace {
std::string num(double x) {
  char b[64];
  std::snprintf(b, sizeof b, "%.9g", x);
  return b;
}
// Model names are [A-Za-z0-9_.-] (parse_model_spec), route names fixed: no escaping needed.
std::string label(const std::string& k, const std::string& v) { return k + "=\"" + v + "\""; }
constexpr double kWindowS = 10.0;
}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double x) {
  const std::size_t i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), x) - bounds_.begin());
  counts_[i] += 1;
  sum_ += x;
  count_ += 1;
}

std::uint64_t Histogram::count_above(double x) const {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i)
    if (i == 0 ? false : bounds_[i - 1] >= x) n += counts_[i];
  return n;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : labels + ",";
  std::uint64_t cum = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    out += name + "_bucket{" + sep + "le=\"" + num(bounds_[i]) + "\"} " + std::to_string(cum) + "\n";
  }
  cum += counts_.back();
  out += name + "_bucket{" + sep + "le=\"+Inf\"} " + std::to_string(cum) + "\n";
  out += name + "_sum{" + labels + "} " + num(sum_) + "\n";
  out += name + "_count{" + labels + "} " + std::to_string(count_) + "\n";
}

Metrics::Metrics(const std::vector<std::string>& models) {
  for (const auto& m : models) models_[m];
}

void Metrics::request(const std::string& route, int code) {
  std::lock_guard<std::mutex> lock(mu_);
  requests_[{route, code}] += 1;
}

void Metrics::batch(const std::string& model, int rows) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(model);
  if (it == models_.end()) return;
  PerModel& m = it->second;
  m.batch_rows.observe(rows);
  m.forwards += 1;
  m.row_steps += static_cast<std::uint64_t>(rows);
  const Clock::time_point now = Clock::now();
  m.recent.emplace_back(now, rows);
  while (!m.recent.empty() && std::chrono::duration<double>(now - m.recent.front().first).count() > kWindowS)
    m.recent.pop_front();
}

void Metrics::solved(const std::string& model, double latency_s, int steps) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(model);
  if (it == models_.end()) return;
  it->second.latency.observe(latency_s);
  it->second.solved += 1;
  it->second.supervision_steps += static_cast<std::uint64_t>(steps);
}

void Metrics::rejected(const std::string& model, int code) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(model);
  if (it != models_.end()) it->second.rejected[code] += 1;
}

std::uint64_t Metrics::batches_above(const std::string& model, int rows) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(model);
  return it == models_.end() ? 0 : it->second.batch_rows.count_above(rows);
}

std::uint64_t Metrics::requests(const std::string& route, int code) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = requests_.find({route, code});
  return it == requests_.end() ? 0 : it->second;
}

std::string Metrics::render(const std::map<std::string, std::size_t>& queue_depth) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string o;
  o += "# HELP trm_http_requests_total HTTP requests answered, by route and status code.\n"
       "# TYPE trm_http_requests_total counter\n";
  for (const auto& [k, n] : requests_)
    o += "trm_http_requests_total{" + label("route", k.first) + "," + label("code", std::to_string(k.second)) + "} " +
         std::to_string(n) + "\n";
  o += "# HELP trm_http_errors_total HTTP requests answered with a status >= 400, by status code.\n"
       "# TYPE trm_http_errors_total counter\n";
  std::map<int, std::uint64_t> errors;
  for (const auto& [k, n] : requests_)
    if (k.second >= 400) errors[k.second] += n;
  for (const auto& [code, n] : errors) o += "trm_http_errors_total{" + label("code", std::to_string(code)) + "} " + std::to_string(n) + "\n";
  o += "# HELP trm_queue_depth Solve requests waiting for a model's worker.\n# TYPE trm_queue_depth gauge\n";
  for (const auto& [m, d] : queue_depth) o += "trm_queue_depth{" + label("model", m) + "} " + std::to_string(d) + "\n";
  o += "# HELP trm_batch_rows Rows (puzzle samples) per model step.\n# TYPE trm_batch_rows histogram\n";
  for (const auto& [m, pm] : models_) pm.batch_rows.render(o, "trm_batch_rows", label("model", m));
  o += "# HELP trm_solve_latency_seconds Time from a solve request's arrival to its answer.\n"
       "# TYPE trm_solve_latency_seconds histogram\n";
  for (const auto& [m, pm] : models_) pm.latency.render(o, "trm_solve_latency_seconds", label("model", m));
  o += "# HELP trm_row_steps_total Supervision steps computed, summed over the rows of every model step.\n"
       "# TYPE trm_row_steps_total counter\n";
  for (const auto& [m, pm] : models_) o += "trm_row_steps_total{" + label("model", m) + "} " + std::to_string(pm.row_steps) + "\n";
  o += "# HELP trm_model_steps_total Model forward passes (batched supervision steps).\n# TYPE trm_model_steps_total counter\n";
  for (const auto& [m, pm] : models_) o += "trm_model_steps_total{" + label("model", m) + "} " + std::to_string(pm.forwards) + "\n";
  o += "# HELP trm_puzzles_solved_total Puzzles answered.\n# TYPE trm_puzzles_solved_total counter\n";
  for (const auto& [m, pm] : models_) o += "trm_puzzles_solved_total{" + label("model", m) + "} " + std::to_string(pm.solved) + "\n";
  o += "# HELP trm_solve_rejected_total Solve requests refused for load (503) or late (504).\n"
       "# TYPE trm_solve_rejected_total counter\n";
  for (const auto& [m, pm] : models_)
    for (const auto& [code, n] : pm.rejected)
      o += "trm_solve_rejected_total{" + label("model", m) + "," + label("code", std::to_string(code)) + "} " + std::to_string(n) + "\n";
  o += "# HELP trm_supervision_steps_per_second Row supervision steps per second over the last 10 s.\n"
       "# TYPE trm_supervision_steps_per_second gauge\n";
  const Clock::time_point now = Clock::now();
  const double window = std::min(kWindowS, std::chrono::duration<double>(now - start_).count());
  for (const auto& [m, pm] : models_) {
    std::uint64_t rows = 0;
    for (const auto& [t, r] : pm.recent)
      if (std::chrono::duration<double>(now - t).count() <= kWindowS) rows += static_cast<std::uint64_t>(r);
    o += "trm_supervision_steps_per_second{" + label("model", m) + "} " + num(window > 0 ? rows / window : 0.0) + "\n";
  }
  return o;
}

}  // namespace trm::serve
