// One worker thread per served model: it owns the model and an infer::Solver and runs
// Solver::solve_stream over a queue of jobs, so requests that arrive while others are in flight
// join the running batch at the next supervision step, and each leaves (its HTTP answer sent) the
// step its puzzle halts. HTTP threads submit() a job and wait on its future.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "serve/model_info.h"
#include "trm/backend/backend.h"
#include "trm/infer/solver.h"
#include "trm/model/model.h"
#include "trm/serve/metrics.h"

namespace trm::serve {

using Clock = std::chrono::steady_clock;

struct TraceStep {
  int step = 0;
  std::vector<std::int32_t> tokens;
  float confidence = 0.0f;
  bool verified = false;
};

struct Job {
  std::vector<std::int32_t> tokens;  // [seq_len]
  int samples = 1;
  bool reference = false;
  bool trace = false;
  Clock::time_point arrived, started, finished;
  std::atomic<bool> cancelled{false};  // its waiter gave up (deadline): skip it if still queued
  std::promise<void> promise;
  infer::Answer answer;
  std::vector<std::vector<TraceStep>> steps;  // per sample, with trace
  bool failed = false;                         // the worker hit an internal error
};

struct WorkerOptions {
  int max_batch = 64;
  double batch_window_ms = 2;
  int max_queue = 256;
  int max_samples = 8;
  float noise = 0.0f;
  bool gate_halting = true;
};

class ModelWorker final : public infer::PuzzleStream {
 public:
  ModelWorker(ModelInfo info, std::unique_ptr<Backend> backend, std::unique_ptr<TrmModel> model,
              const WorkerOptions& opt, Metrics& metrics);
  ~ModelWorker() override;  // stop()

  const ModelInfo& info() const { return info_; }
  enum class Submit { kQueued, kFull, kStopping };
  Submit submit(const std::shared_ptr<Job>& job);
  std::size_t queue_depth() const;
  // Finishes every queued and running job, then ends the thread.
  void stop();
  // While paused, an idle worker takes no new job (tests fill the queue deterministically with it).
  void set_paused(bool paused);

  // infer::PuzzleStream, called on the worker thread only.
  infer::StreamPoll next(infer::StreamPuzzle& p, int free_rows, bool idle) override;
  void done(std::uint64_t tag, const infer::Answer& answer) override;
  bool observes_steps() const override { return true; }
  void step(std::uint64_t tag, int sample, int step, const std::int32_t* tokens, float confidence, bool verified) override;
  void ran(int rows) override;

 private:
  void run();
  void fail_all();

  ModelInfo info_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<TrmModel> model_;
  WorkerOptions opt_;
  Metrics& metrics_;
  std::unique_ptr<infer::Solver> solver_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  bool paused_ = false;
  // Worker thread only:
  std::unordered_map<std::uint64_t, std::shared_ptr<Job>> running_;
  std::uint64_t next_tag_ = 0;
  std::thread thread_;
};

}  // namespace trm::serve
