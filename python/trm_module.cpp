// The Python module `trm` (pybind11) over the same C++ code as the C API (src/capi/solve.h), so
// the CLI, C and Python give the same answers for the same checkpoint and puzzles.
//   m = trm.load("final.safetensors");  r = m.solve(np.array(...)) or m.solve("4x4 text")
//   trm.train(preset=..., data=..., out=..., callback=lambda p: ...)
// Compute runs with the GIL released; trm's errors arrive as trm.Error with trm's message.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "capi/solve.h"
#include "cli/puzzle_checker.h"
#include "cli/puzzle_text.h"
#include "trm/data/dataset.h"
#include "trm/error.h"
#include "trm/eval/evaluate.h"
#include "trm/train/checkpoint.h"
#include "trm/train/trainer.h"

namespace py = pybind11;

namespace {

// A loaded model; calls on one Model are serialized (TrmModel holds its activations).
class Model {
 public:
  Model(const std::string& path, const std::string& backend, bool use_ema)
      : path_(path), be_(trm::make_backend(backend)), model_(trm::load_model_from_checkpoint(path, *be_, use_ema)),
        config_(trm::Checkpoint::read(path).contents().config) {}

  py::dict info() const {
    const trm::ModelConfig& c = model_->config();
    py::dict d;
    d["path"] = path_;
    d["arch"] = c.arch == trm::Arch::kHrm ? "hrm" : "trm";
    d["backend"] = be_->name();
    d["num_params"] = model_->num_params();
    d["vocab_size"] = c.vocab_size;
    d["seq_len"] = c.seq_len;
    d["puzzle_emb_len"] = c.prefix_len();
    d["num_puzzle_identifiers"] = c.num_puzzle_identifiers;
    d["hidden_size"] = c.hidden_size;
    d["H_cycles"] = c.H_cycles;
    d["L_cycles"] = c.L_cycles;
    d["halt_max_steps"] = c.halt_max_steps;
    d["mlp_t"] = c.mlp_t;
    d["puzzles"] = trm::cli::puzzles_for_model(c.vocab_size, c.seq_len).describe();
    return d;
  }

  // Token arrays [n, S] (or one [S]) of any integer dtype.
  py::dict solve_array(const py::array& x, const std::string& halting, int batch, const py::object& puzzle_ids,
                       int samples, float noise, std::uint64_t seed, const std::string& select, const std::string& checker) {
    const trm::ModelConfig& c = model_->config();
    const int S = c.seq_len, T = c.halt_max_steps;
    const std::vector<std::int32_t> tokens = to_int32(x, "puzzles");
    const bool single = x.ndim() == 1;
    if (x.ndim() != 1 && x.ndim() != 2)
      throw trm::Error("puzzles: expected an array of shape [n, " + std::to_string(S) + "] or [" + std::to_string(S) +
                       "], got " + std::to_string(x.ndim()) + " dimensions");
    const std::int64_t n = single ? 1 : x.shape(0);
    if (x.shape(x.ndim() - 1) != S)
      throw trm::Error("puzzles: rows of " + std::to_string(x.shape(x.ndim() - 1)) + " tokens; this model takes " +
                       std::to_string(S) + " (" + trm::cli::puzzles_for_model(c.vocab_size, S).describe() + ")");
    std::vector<std::int32_t> ids;
    if (!puzzle_ids.is_none()) {
      ids = to_int32(puzzle_ids.cast<py::array>(), "puzzle_ids");
      if (static_cast<std::int64_t>(ids.size()) != n)
        throw trm::Error("puzzle_ids: " + std::to_string(ids.size()) + " ids for " + std::to_string(n) + " puzzles");
    }
    trm::capi::SolveRequest req;
    req.inputs = tokens.data();
    req.puzzle_ids = ids.empty() ? nullptr : ids.data();
    req.n = n;
    req.batch = batch;
    req.halting = trm::halting_from_string(halting);
    req.samples = samples;
    req.noise = noise;
    req.seed = seed;
    if (checker == "sudoku" || checker == "maze") {
      int side = 1;
      while (side * side < S) ++side;
      if (side * side != S) throw trm::Error("checker=" + checker + " needs a square grid; this model's seq_len is " + std::to_string(S));
      req.checker = trm::infer::Checker(checker == "sudoku" ? trm::infer::PuzzleFamily::kSudoku : trm::infer::PuzzleFamily::kMaze, side);
    } else if (checker != "none") {
      throw trm::Error("checker must be \"none\", \"sudoku\" or \"maze\" (got \"" + checker + "\")");
    }
    req.select = select == "auto" ? (req.checker.active() ? trm::infer::Select::kChecker : trm::infer::Select::kConfidence)
                                  : trm::infer::select_from_string(select);
    py::array_t<std::int32_t> answers({n, static_cast<std::int64_t>(S)});
    py::array_t<std::int32_t> steps(n);
    py::array_t<float> confidence({n, static_cast<std::int64_t>(T)});
    py::array_t<std::uint8_t> nonfinite(n), check(n);
    trm::capi::SolveResult out{answers.mutable_data(), steps.mutable_data(), confidence.mutable_data(),
                               nonfinite.mutable_data(), check.mutable_data(), 0};
    {
      py::gil_scoped_release nogil;
      const std::lock_guard<std::mutex> hold(lock_);
      trm::capi::solve(*model_, req, out, scratch_);
    }
    if (out.nonfinite_count > 0)
      throw trm::Error("solve: the model's outputs were NaN or infinite for " + std::to_string(out.nonfinite_count) +
                       " of " + std::to_string(n) + " puzzles");
    py::dict d;
    if (single) {
      d["answer"] = answers[py::int_(0)];
      d["steps"] = steps.at(0);
      d["confidence"] = confidence[py::int_(0)];
      d["check"] = kCheckNames[check.at(0)];
    } else {
      d["answers"] = answers;
      d["steps"] = steps;
      d["confidence"] = confidence;
      py::list names;
      for (py::ssize_t i = 0; i < n; ++i) names.append(kCheckNames[check.at(i)]);
      d["check"] = names;
    }
    return d;
  }

  // The CLI's text form (Sudoku or maze): the answer comes back as text too.
  py::dict solve_text(const std::string& text, const std::string& halting, int samples, float noise, std::uint64_t seed,
                      const std::string& select) {
    const trm::ModelConfig& c = model_->config();
    const trm::cli::PuzzleText p = trm::cli::parse_puzzle_for_checkpoint(text, "puzzle", config_, c.vocab_size, c.seq_len, path_);
    const std::string checker = p.kind == trm::cli::PuzzleKind::kSudoku ? "sudoku" : p.kind == trm::cli::PuzzleKind::kMaze ? "maze" : "none";
    if (checker != "none") {
      const std::string invalid = trm::cli::checker_for(p).puzzle_problem(p.tokens.data());
      if (!invalid.empty()) throw trm::Error("puzzle: this puzzle is invalid / has no solution: " + invalid);
    }
    py::array_t<std::int32_t> x(static_cast<py::ssize_t>(p.tokens.size()));
    std::copy(p.tokens.begin(), p.tokens.end(), x.mutable_data());
    py::dict d = solve_array(x, halting, samples, py::none(), samples, noise, seed, select, checker);
    const py::array_t<std::int32_t> a = d["answer"].cast<py::array_t<std::int32_t>>();
    const std::vector<std::int32_t> answer(a.data(), a.data() + a.size());
    d["text"] = trm::cli::format_tokens(p, answer);
    const std::string wrong = trm::cli::check_answer(p, answer);
    d["valid"] = wrong.empty();
    if (!wrong.empty()) d["problem"] = wrong;
    return d;
  }

  py::dict evaluate(const std::string& data_dir, const std::string& split, const std::string& halting,
                    std::int64_t max_examples, int batch) {
    if (batch < 1) throw trm::Error("evaluate: batch must be >= 1 (got " + std::to_string(batch) + ")");
    if (max_examples < 0) throw trm::Error("evaluate: max_examples must be >= 0");
    trm::EvalOptions o;
    o.batch = batch;
    o.max_examples = max_examples;
    o.halting = trm::halting_from_string(halting);
    trm::EvalResult r;
    {
      py::gil_scoped_release nogil;
      const trm::data::Dataset ds = trm::data::read_split(data_dir, split);
      const std::lock_guard<std::mutex> hold(lock_);
      r = trm::evaluate(*model_, ds, o);
    }
    py::dict d;
    d["n"] = r.n;
    d["exact_accuracy"] = r.exact_accuracy;
    d["cell_accuracy"] = r.cell_accuracy;
    d["avg_steps"] = r.avg_steps;
    d["q_halt_accuracy"] = r.q_halt_accuracy;
    d["exact_by_step"] = r.exact_by_step;
    d["nonfinite"] = r.nonfinite;
    d["halting"] = trm::to_string(r.halting);
    d["seconds"] = r.seconds;
    return d;
  }

 private:
  static std::vector<std::int32_t> to_int32(const py::array& x, const std::string& what) {
    const char kind = x.dtype().kind();
    if (kind != 'i' && kind != 'u')
      throw trm::Error(what + ": expected an integer array (token ids), got dtype " +
                       std::string(py::str(x.dtype())));
    const py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> v(x);
    std::vector<std::int32_t> out(static_cast<std::size_t>(v.size()));
    const std::int64_t* p = v.data();
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (p[i] < INT32_MIN || p[i] > INT32_MAX)
        throw trm::Error(what + ": value " + std::to_string(p[i]) + " at flat index " + std::to_string(i) +
                         " does not fit a token id");
      out[i] = static_cast<std::int32_t>(p[i]);
    }
    return out;
  }

  static constexpr const char* kCheckNames[3] = {"unchecked", "verified", "unverified"};
  std::string path_;
  std::unique_ptr<trm::Backend> be_;
  std::unique_ptr<trm::TrmModel> model_;
  nlohmann::json config_;  // the checkpoint's config: a grid task's alphabet for the text form
  std::mutex lock_;
  trm::capi::SolveScratch scratch_;
};

py::dict train(const py::dict& config, const py::object& callback) {
  const py::module_ json = py::module_::import("json");
  const std::string text = json.attr("dumps")(config).cast<std::string>();
  trm::TrainOptions o = trm::capi::train_options_from_json(text, "trm.train");
  const std::string backend = trm::capi::backend_of_train_json(text);
  std::unique_ptr<py::error_already_set> raised;  // an exception from the callback, re-raised after the run
  if (!callback.is_none()) {
    o.on_progress = [&](const trm::TrainProgress& p) {
      py::gil_scoped_acquire gil;
      try {
        py::dict d;
        d["step"] = p.step;
        d["total_steps"] = p.total_steps;
        d["lm_loss"] = p.lm_loss;
        d["accuracy"] = p.accuracy;
        d["exact_accuracy"] = p.exact_accuracy;
        d["steps_per_second"] = p.steps_per_second;
        d["eta_seconds"] = p.eta_seconds;
        const py::object r = callback(d);
        return r.is_none() || r.cast<bool>();  // return False to stop
      } catch (py::error_already_set& e) {
        raised = std::make_unique<py::error_already_set>(std::move(e));
        return false;
      }
    };
  }
  trm::TrainSummary s;
  {
    py::gil_scoped_release nogil;
    const auto be = trm::make_backend(backend);
    s = trm::train(o, *be);
  }
  if (raised) throw std::move(*raised);
  py::dict d;
  d["steps"] = s.steps;
  d["seconds"] = s.seconds;
  d["stopped_by_time"] = s.stopped_by_time;
  d["cancelled"] = s.cancelled;
  d["out"] = o.out_dir;
  if (s.evaluated) {
    d["exact_accuracy"] = s.last_eval.exact_accuracy;
    d["cell_accuracy"] = s.last_eval.cell_accuracy;
    d["eval_n"] = s.last_eval.n;
  }
  return d;
}

}  // namespace

PYBIND11_MODULE(trm, m) {
  m.doc() = "trm: the Tiny Recursive Model (load a checkpoint, solve puzzles, evaluate, train). docs/LIBRARY.md";
  m.attr("__version__") = TRM_VERSION_STRING;
  static py::exception<trm::Error> error(m, "Error");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const trm::Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    } catch (const trm::InternalError& e) {
      PyErr_SetString(PyExc_RuntimeError, (std::string("internal error (a bug in trm): ") + e.what()).c_str());
    }
  });
  py::class_<Model>(m, "Model", "A loaded checkpoint. Calls on one Model are serialized; the GIL is released while it computes.")
      .def_property_readonly("info", &Model::info, "The model's configuration as a dict")
      .def("solve", &Model::solve_array, py::arg("puzzles"), py::arg("halting") = "adaptive", py::arg("batch") = 256,
           py::arg("puzzle_ids") = py::none(), py::arg("samples") = 1, py::arg("noise") = 0.3f, py::arg("seed") = 0,
           py::arg("select") = "auto", py::arg("checker") = "none",
           "Solve token arrays [n, seq_len] (or one [seq_len]): dict of answers, steps, confidence [n, halt_max_steps], "
           "check (unchecked / verified / unverified against checker=\"sudoku\"|\"maze\")")
      .def("solve", &Model::solve_text, py::arg("puzzle"), py::arg("halting") = "adaptive", py::arg("samples") = 1,
           py::arg("noise") = 0.3f, py::arg("seed") = 0, py::arg("select") = "auto",
           "Solve one puzzle in the CLI's text form (checked by its rules): dict of answer, text, steps, confidence, "
           "check, valid")
      .def("evaluate", &Model::evaluate, py::arg("data"), py::arg("split") = "test", py::arg("halting") = "reference",
           py::arg("max_examples") = 0, py::arg("batch") = 256, "Exact and cell accuracy on a dataset directory");
  m.def(
      "load",
      [](const std::string& path, const std::string& backend, bool use_ema) {
        return std::make_unique<Model>(path, backend, use_ema);
      },
      py::arg("path"), py::arg("backend") = "cpu", py::arg("use_ema") = true, "Load a checkpoint (.safetensors)");
  m.def(
      "train",
      [](const py::kwargs& kwargs) {
        py::dict config;
        py::object callback = py::none();
        for (auto item : kwargs) {
          const std::string key = item.first.cast<std::string>();
          if (key == "callback") callback = py::reinterpret_borrow<py::object>(item.second);
          else config[item.first] = item.second;
        }
        return train(config, callback);
      },
      "train(preset=, data=, out=, overrides={...}, max_steps=, batch=, ..., callback=f): the keys of trm_train's "
      "JSON (include/trm/trm.h); callback(progress dict) returning False stops the run (resumable)");
}
