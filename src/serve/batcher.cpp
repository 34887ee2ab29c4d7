#include "serve/batcher.h"

#include <algorithm>
#include <cstdio>

#include "trm/error.h"

namespace trm::serve {

ModelWorker::ModelWorker(ModelInfo info, std::unique_ptr<Backend> backend, std::unique_ptr<TrmModel> model,
                         const WorkerOptions& opt, Metrics& metrics)
    : info_(std::move(info)), backend_(std::move(backend)), model_(std::move(model)), opt_(opt), metrics_(metrics) {
  infer::SolverOptions so;
  // Rows for a full batch, and at least one request's samples; the samples' noise buffers exist
  // only when the solver is built with samples > 1 (solver.h), so it is built with the largest K.
  so.batch = std::max(opt_.max_batch, opt_.max_samples);
  so.samples = opt_.max_samples;
  so.noise = opt_.noise;
  so.checker = info_.checker;
  so.gate_halting = opt_.gate_halting;
  so.halting = infer::HaltMode::kAdaptive;  // per request: StreamPuzzle::reference
  solver_ = std::make_unique<infer::Solver>(*model_, so);
  thread_ = std::thread([this] { run(); });
}

ModelWorker::~ModelWorker() { stop(); }

ModelWorker::Submit ModelWorker::submit(const std::shared_ptr<Job>& job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Submit::kStopping;
    if (queue_.size() >= static_cast<std::size_t>(opt_.max_queue)) {
      // Requests whose waiters have given up (504) hold no place in the queue.
      for (auto it = queue_.begin(); it != queue_.end();) {
        if (!(*it)->cancelled) {
          ++it;
          continue;
        }
        (*it)->promise.set_value();
        it = queue_.erase(it);
      }
      if (queue_.size() >= static_cast<std::size_t>(opt_.max_queue)) return Submit::kFull;
    }
    queue_.push_back(job);
  }
  cv_.notify_one();
  return Submit::kQueued;
}

std::size_t ModelWorker::queue_depth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void ModelWorker::set_paused(bool paused) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    paused_ = paused;
  }
  cv_.notify_all();
}

void ModelWorker::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

infer::StreamPoll ModelWorker::next(infer::StreamPuzzle& p, int free_rows, bool idle) {
  std::unique_lock<std::mutex> lock(mu_);
  if (idle) {
    cv_.wait(lock, [this] { return stopping_ || (!queue_.empty() && !paused_); });
    // Dynamic batching: an idle worker that just got a request waits a short window for more to
    // join the first step (later arrivals join the running batch between steps anyway).
    if (!queue_.empty() && opt_.max_batch > 1 && opt_.batch_window_ms > 0) {
      const auto until = Clock::now() + std::chrono::microseconds(static_cast<std::int64_t>(opt_.batch_window_ms * 1000));
      cv_.wait_until(lock, until, [this] { return stopping_ || queue_.size() >= static_cast<std::size_t>(opt_.max_batch); });
    }
  }
  // Without batching, one request at a time.
  if (opt_.max_batch <= 1 && !running_.empty()) return infer::StreamPoll::kNone;
  while (!queue_.empty()) {
    std::shared_ptr<Job> job = queue_.front();
    if (job->cancelled) {  // its waiter has answered 504 already
      queue_.pop_front();
      job->promise.set_value();
      continue;
    }
    if (job->samples > free_rows) return infer::StreamPoll::kNone;
    queue_.pop_front();
    const std::uint64_t tag = next_tag_++;
    job->started = Clock::now();
    if (job->trace) job->steps.assign(static_cast<std::size_t>(job->samples), {});
    p.input = job->tokens.data();
    p.puzzle_id = 0;
    p.tag = tag;
    p.seed_index = 0;  // each request's samples draw the same noise as `trm solve` of that puzzle alone
    p.samples = job->samples;
    p.reference = job->reference;
    running_.emplace(tag, std::move(job));
    return infer::StreamPoll::kPuzzle;
  }
  if (stopping_) return infer::StreamPoll::kEnd;
  return infer::StreamPoll::kNone;
}

void ModelWorker::done(std::uint64_t tag, const infer::Answer& answer) {
  auto it = running_.find(tag);
  if (it == running_.end()) return;
  std::shared_ptr<Job> job = std::move(it->second);
  running_.erase(it);
  job->answer = answer;
  job->finished = Clock::now();
  metrics_.solved(info_.name, std::chrono::duration<double>(job->finished - job->arrived).count(), answer.steps);
  job->promise.set_value();
}

void ModelWorker::step(std::uint64_t tag, int sample, int step, const std::int32_t* tokens, float confidence,
                       bool verified) {
  auto it = running_.find(tag);
  if (it == running_.end() || !it->second->trace) return;
  TraceStep t;
  t.step = step;
  t.tokens.assign(tokens, tokens + info_.config.seq_len);
  t.confidence = confidence;
  t.verified = verified;
  it->second->steps[static_cast<std::size_t>(sample)].push_back(std::move(t));
}

void ModelWorker::ran(int rows) { metrics_.batch(info_.name, rows); }

void ModelWorker::fail_all() {
  for (auto& [tag, job] : running_) {
    job->failed = true;
    job->promise.set_value();
  }
  running_.clear();
}

void ModelWorker::run() {
  for (;;) {
    try {
      solver_->solve_stream(*this);
      fail_all();  // nothing should be left; never leave a waiter hanging
      return;      // the stream ended: stopping and the queue drained
    } catch (const std::exception& e) {
      std::fprintf(stderr, "trm serve: model %s: internal error: %s\n", info_.name.c_str(), e.what());
      fail_all();
    }
  }
}

}  // namespace trm::serve
