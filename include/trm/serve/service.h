// The serving core shared by `trm serve` (HTTP) and `trm mcp` (stdio): the loaded models, one
// batching worker per model (src/serve/batcher.cpp), request validation and the metrics. The
// front ends (src/serve/http_server.cpp, src/serve/mcp.cpp) only translate their transport into
// Service::solve() calls. docs/SERVING.md has the API.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace trm::serve {

// An error answered to the client: the HTTP status, a message, and the request field at fault
// ("" when none). MCP turns it into a tool error.
class ApiError : public std::runtime_error {
 public:
  ApiError(int code, const std::string& message, std::string field = {})
      : std::runtime_error(message), code_(code), field_(std::move(field)) {}
  int code() const { return code_; }
  const std::string& field() const { return field_; }
  int retry_after_s() const { return code_ == 503 ? 1 : 0; }

 private:
  int code_;
  std::string field_;
};

// {"error": {"code", "message", "field"?}}
nlohmann::json error_json(int code, const std::string& message, const std::string& field = {});
// Serialises a response: invalid UTF-8 a client sent (echoed in a message) is replaced, never thrown.
std::string dump_json(const nlohmann::json& j);
// Parses a request body: a nesting deeper than kMaxJsonDepth or invalid JSON is an ApiError 400.
inline constexpr int kMaxJsonDepth = 32;
nlohmann::json parse_json_body(const std::string& body);

struct ModelSpec {
  std::string name, checkpoint;
};
// "NAME=CHECKPOINT"; trm::Error for a missing '=', an empty part or a name outside [A-Za-z0-9_.-]{1,64}.
ModelSpec parse_model_spec(const std::string& arg);

struct ServiceOptions {
  std::string backend = "cpu", precision = "fp32";
  int max_batch = 64;          // rows one model step runs; 1 = no batching (one request at a time)
  double batch_window_ms = 2;  // an idle worker waits this long for more requests to join the first
  int max_queue = 256;         // requests waiting per model; more: 503
  int deadline_ms = 30000;     // from arrival to answer; later: 504
  int max_samples = 8;         // largest `samples` a request may ask for
  float noise = 0.0f;          // latent noise of samples 2..K
  bool gate_halting = true;    // as trm solve: an answer the checker rejects does not halt early
};
void validate(const ServiceOptions& o);  // trm::Error naming the option

class Metrics;
class ModelWorker;
struct ModelInfo;

class Service {
 public:
  // Loads every checkpoint (trm::Error naming the file on a bad one) and starts its worker.
  Service(const std::vector<ModelSpec>& models, const ServiceOptions& opt);
  ~Service();  // stop()
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  const ServiceOptions& options() const { return opt_; }
  // GET /v1/models
  nlohmann::json models_json() const;
  // POST /v1/solve: the request object -> the response object. Throws ApiError (400, 404, 503, 504).
  nlohmann::json solve(const nlohmann::json& request);
  // Names and tasks ("sudoku" | "maze" | "grid" | "arc" | "unknown"), in --model order.
  std::vector<std::pair<std::string, std::string>> model_tasks() const;

  Metrics& metrics() { return *metrics_; }
  std::string render_metrics() const;  // Prometheus text, with the queue gauges

  // Shutting down: new solves get 503; wait_idle() waits for the ones in flight (at most the
  // deadline); stop() then ends the workers.
  void begin_drain() { draining_ = true; }
  bool draining() const { return draining_; }
  void wait_idle();
  void stop();
  // Tests: while paused, the workers start no new request (queued ones wait).
  void set_paused(bool paused);
  std::size_t queue_depth() const;  // summed over the models

 private:
  ServiceOptions opt_;
  std::unique_ptr<Metrics> metrics_;
  std::vector<std::unique_ptr<ModelWorker>> workers_;
  std::atomic<bool> draining_{false};
  std::atomic<int> in_flight_{0};
};

}  // namespace trm::serve
