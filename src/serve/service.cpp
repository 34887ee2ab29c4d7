#include "trm/serve/service.h"

#include <cctype>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "serve/batcher.h"
#include "serve/model_info.h"
#include "trm/backend/precision.h"
#include "trm/error.h"
#include "trm/serve/metrics.h"
#include "trm/train/checkpoint.h"

namespace trm::serve {

nlohmann::json error_json(int code, const std::string& message, const std::string& field) {
  nlohmann::json e{{"code", code}, {"message", message}};
  if (!field.empty()) e["field"] = field;
  return {{"error", e}};
}

std::string dump_json(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

nlohmann::json parse_json_body(const std::string& body) {
  // The nesting depth first, outside strings: nlohmann's recursive destructor and our walkers
  // must never see thousands of levels.
  int depth = 0;
  bool in_string = false, escaped = false;
  for (const char ch : body) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (ch == '\\') escaped = true;
      else if (ch == '"') in_string = false;
      continue;
    }
    if (ch == '"') in_string = true;
    else if (ch == '[' || ch == '{') {
      if (++depth > kMaxJsonDepth) throw ApiError(400, "invalid JSON: nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    } else if (ch == ']' || ch == '}') --depth;
  }
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    if (what.size() > 300) what = what.substr(0, 300) + "...";
    throw ApiError(400, std::string("invalid JSON: ") + what);
  }
}

ModelSpec parse_model_spec(const std::string& arg) {
  const std::size_t eq = arg.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size())
    throw Error("--model \"" + arg + "\": expected NAME=CHECKPOINT");
  ModelSpec s{arg.substr(0, eq), arg.substr(eq + 1)};
  bool ok = s.name.size() <= 64;
  for (const char ch : s.name) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == '-');
  if (!ok) throw Error("--model \"" + arg + "\": the name must be 1 to 64 characters of A-Z a-z 0-9 _ . -");
  return s;
}

void validate(const ServiceOptions& o) {
  if (o.max_batch < 1 || o.max_batch > 4096) throw Error("--max-batch must be in [1, 4096] (got " + std::to_string(o.max_batch) + ")");
  if (!(o.batch_window_ms >= 0 && o.batch_window_ms <= 1000)) throw Error("--batch-window-ms must be in [0, 1000]");
  if (o.max_queue < 1 || o.max_queue > 1000000) throw Error("--max-queue must be in [1, 1000000]");
  if (o.deadline_ms < 1) throw Error("--deadline-ms must be >= 1");
  if (o.max_samples < 1 || o.max_samples > 64) throw Error("--max-samples must be in [1, 64]");
  if (!(o.noise >= 0.0f && o.noise < 1e6f)) throw Error("--noise must be a finite number >= 0");
}

Service::Service(const std::vector<ModelSpec>& models, const ServiceOptions& opt) : opt_(opt) {
  validate(opt_);
  if (models.empty()) throw Error("give at least one --model NAME=CHECKPOINT");
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto& m : models) {
    if (!seen.insert(m.name).second) throw Error("--model: the name \"" + m.name + "\" is given twice");
    names.push_back(m.name);
  }
  // "auto": bf16 on cuda, fp32 elsewhere (as every command's --precision; docs/GPU.md).
  const Precision precision = opt_.precision == "auto"
                                  ? (opt_.backend == "cuda" ? Precision::bf16 : Precision::fp32)
                                  : precision_from_string(opt_.precision);
  metrics_ = std::make_unique<Metrics>(names);
  WorkerOptions wo;
  wo.max_batch = opt_.max_batch;
  wo.batch_window_ms = opt_.batch_window_ms;
  wo.max_queue = opt_.max_queue;
  wo.max_samples = opt_.max_samples;
  wo.noise = opt_.noise;
  wo.gate_halting = opt_.gate_halting;
  for (const auto& m : models) {
    const Checkpoint ck = Checkpoint::read(m.checkpoint);
    const ModelConfig c = ck.model_config();
    ModelInfo info = ModelInfo::make(m.name, m.checkpoint, c, ck.contents().config);
    auto be = make_backend(opt_.backend);
    be->set_precision(precision);
    auto model = std::make_unique<TrmModel>(c, *be);
    ck.load_model(*model, true);
    info.params = c.parameter_count();
    workers_.push_back(std::make_unique<ModelWorker>(std::move(info), std::move(be), std::move(model), wo, *metrics_));
  }
}

Service::~Service() { stop(); }

void Service::stop() {
  draining_ = true;
  for (auto& w : workers_) w->stop();
}

void Service::set_paused(bool paused) {
  for (auto& w : workers_) w->set_paused(paused);
}

std::size_t Service::queue_depth() const {
  std::size_t n = 0;
  for (const auto& w : workers_) n += w->queue_depth();
  return n;
}

void Service::wait_idle() {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(opt_.deadline_ms + 1000);
  while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

nlohmann::json Service::models_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& w : workers_) list.push_back(w->info().to_json());
  return {{"models", list}};
}

std::vector<std::pair<std::string, std::string>> Service::model_tasks() const {
  std::vector<std::pair<std::string, std::string>> v;
  for (const auto& w : workers_) v.emplace_back(w->info().name, w->info().task);
  return v;
}

std::string Service::render_metrics() const {
  std::map<std::string, std::size_t> depth;
  for (const auto& w : workers_) depth[w->info().name] = w->queue_depth();
  return metrics_->render(depth);
}

namespace {
struct InFlight {  // counts a solve between arrival and answer, for the drain
  std::atomic<int>& n;
  explicit InFlight(std::atomic<int>& c) : n(c) { ++n; }
  ~InFlight() { --n; }
};
double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
}  // namespace

nlohmann::json Service::solve(const nlohmann::json& req) {
  InFlight guard(in_flight_);
  const Clock::time_point arrived = Clock::now();
  if (draining_) throw ApiError(503, "the server is shutting down");
  if (!req.is_object()) throw ApiError(400, "the request must be a JSON object");
  static const std::set<std::string> kFields{"model", "puzzle", "grid", "halting", "samples", "trace"};
  for (const auto& [k, v] : req.items()) {
    (void)v;
    if (!kFields.count(k)) {
      const std::string shown = k.size() > 64 ? k.substr(0, 64) + "..." : k;
      throw ApiError(400, "unknown field \"" + shown + "\" (fields: model, puzzle, grid, halting, samples, trace)", shown);
    }
  }
  ModelWorker* w = nullptr;
  if (req.contains("model")) {
    const nlohmann::json& m = req.at("model");
    if (!m.is_string()) throw ApiError(400, "model: must be a string (GET /v1/models lists them)", "model");
    const std::string& name = m.get_ref<const std::string&>();
    for (auto& x : workers_)
      if (x->info().name == name) w = x.get();
    if (!w) {
      const std::string shown = name.size() > 64 ? name.substr(0, 64) + "..." : name;
      throw ApiError(404, "model: no model named \"" + shown + "\" (GET /v1/models lists them)", "model");
    }
  } else {
    if (workers_.size() != 1)
      throw ApiError(400, "model: required, the server has " + std::to_string(workers_.size()) + " models", "model");
    w = workers_.front().get();
  }
  const ModelInfo& info = w->info();
  if (!info.solvable())
    throw ApiError(400, "model: \"" + info.name + "\" is an " + info.task +
                            " model; /v1/solve takes Sudoku, maze and grid-task models (for ARC use trm arc solve)",
                   "model");
  auto job = std::make_shared<Job>();
  if (req.contains("halting")) {
    const nlohmann::json& h = req.at("halting");
    if (!h.is_string() || (h != "adaptive" && h != "reference"))
      throw ApiError(400, "halting: must be \"adaptive\" or \"reference\"", "halting");
    job->reference = h == "reference";
  }
  if (req.contains("samples")) {
    const nlohmann::json& s = req.at("samples");
    const bool ok = s.is_number_integer() && !(s.is_number_unsigned() ? s.get<std::uint64_t>() > 1000000u
                                                                        : (s.get<std::int64_t>() < 1 || s.get<std::int64_t>() > 1000000));
    const std::int64_t k = ok ? s.get<std::int64_t>() : 0;
    if (!ok || k < 1 || k > opt_.max_samples)
      throw ApiError(400, "samples: must be an integer in 1.." + std::to_string(opt_.max_samples), "samples");
    job->samples = static_cast<int>(k);
  }
  if (req.contains("trace")) {
    if (!req.at("trace").is_boolean()) throw ApiError(400, "trace: must be true or false", "trace");
    job->trace = req.at("trace").get<bool>();
  }
  job->tokens = info.encode(req);
  job->arrived = arrived;
  std::future<void> done = job->promise.get_future();
  switch (w->submit(job)) {
    case ModelWorker::Submit::kQueued: break;
    case ModelWorker::Submit::kFull:
      metrics_->rejected(info.name, 503);
      throw ApiError(503, "the queue of model \"" + info.name + "\" is full (" + std::to_string(opt_.max_queue) + " waiting); retry later");
    case ModelWorker::Submit::kStopping: throw ApiError(503, "the server is shutting down");
  }
  if (done.wait_until(arrived + std::chrono::milliseconds(opt_.deadline_ms)) != std::future_status::ready) {
    job->cancelled = true;
    metrics_->rejected(info.name, 504);
    throw ApiError(504, "no answer within the deadline of " + std::to_string(opt_.deadline_ms) + " ms");
  }
  if (job->failed) throw ApiError(500, "internal error while solving (see the server's log)");
  const infer::Answer& a = job->answer;
  nlohmann::json out{{"model", info.name},
                     {"grid", info.grid_json(a.tokens.data())},
                     {"solution", info.text(a.tokens.data())},
                     {"steps", a.steps},
                     {"halted", a.steps < info.config.halt_max_steps},
                     {"confidence", a.step_confidence},
                     {"verified", info.checker.active() ? nlohmann::json(a.check == infer::CheckStatus::kVerified)
                                                        : nlohmann::json(nullptr)},
                     {"check", infer::to_string(a.check)},
                     {"sample", a.sample},
                     {"samples", job->samples},
                     {"finite", a.finite},
                     {"timing_ms", {{"queue", ms(job->started - job->arrived)},
                                    {"compute", ms(job->finished - job->started)},
                                    {"total", ms(Clock::now() - job->arrived)}}}};
  if (job->trace) {
    nlohmann::json t = nlohmann::json::array();
    for (const TraceStep& s : job->steps[static_cast<std::size_t>(a.sample)])
      t.push_back({{"step", s.step},
                   {"grid", info.grid_json(s.tokens.data())},
                   {"confidence", s.confidence},
                   {"verified", info.checker.active() ? nlohmann::json(s.verified) : nlohmann::json(nullptr)}});
    out["trace"] = std::move(t);
  }
  return out;
}

}  // namespace trm::serve
