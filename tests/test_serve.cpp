// trm serve in process (trm/serve/service.h, trm/serve/server.h) on an ephemeral port, through
// httplib::Client: /v1/solve answers what infer::Solver answers alone; concurrent requests share
// model steps (batch > 1) and each gets its own answer; every limit answers its code (400 naming
// the field, 401, 404, 413, 415, 503 with Retry-After, 504); a drain answers the requests in
// flight; a malformed-request corpus (>= 200 cases, generated here plus tests/serve_corpus/)
// gets 4xx JSON errors and never takes the server down. MCP over POST /mcp: initialize,
// tools/list, tools/call, a bad call.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>
#include <set>
#include <thread>
#include <vector>

#include "data/collate.h"
#include "data_util.h"
#include "model_util.h"
#include "temp_dir.h"
#include "trm/data/rng.h"
#include "trm/infer/solver.h"
#include "trm/serve/metrics.h"
#include "trm/serve/server.h"
#include "trm/serve/service.h"
#include "trm/train/checkpoint.h"

namespace trm::serve {
namespace {

using nlohmann::json;

// A 4x4 Sudoku model whose Q head is re-drawn so that puzzles halt at different steps (as in
// test_infer), saved as a checkpoint; the small test split's puzzles.
struct Fixture {
  test_util::TempDir dir{"trm_serve"};
  std::string ckpt = dir / "m.safetensors";
  ModelConfig cfg = test_util::tiny_sudoku_mlp_4x4();
  data::Dataset test;
  data::Batch rows;
  int n = 0;
  Fixture() {
    cfg.halt_max_steps = 8;
    auto be = make_cpu_backend();
    TrmModel model(cfg, *be);
    model.init(3);
    const ParamInfo& w = model.info("q_head.weight");
    const ParamInfo& b = model.info("q_head.bias");
    std::vector<float> wh(static_cast<std::size_t>(w.numel)), bh(static_cast<std::size_t>(b.numel), 0.0f);
    data::Rng rng(9);
    for (auto& x : wh) x = static_cast<float>((rng.uniform() - 0.5) * 0.6);
    be->from_host(wh.data(), model.params() + w.offset, w.numel);
    be->from_host(bh.data(), model.params() + b.offset, b.numel);
    save_checkpoint(ckpt, model, nullptr, nullptr, CheckpointContents{{{"model", cfg}}, {}});
    test = data::read_split(test_util::small_sudoku_dir(), "test");
    n = std::min<int>(24, static_cast<int>(test.num_examples));
    data::collate_range(test, 0, n, rows);
  }
  json grid(int i) const {  // puzzle i as request values (token - 1)
    json g = json::array();
    for (int r = 0; r < 4; ++r) {
      json row = json::array();
      for (int c = 0; c < 4; ++c) row.push_back(rows.inputs[static_cast<std::size_t>(i * 16 + r * 4 + c)] - 1);
      g.push_back(row);
    }
    return g;
  }
};
Fixture& fx() {
  static Fixture f;
  return f;
}

struct Live {
  std::unique_ptr<Service> service;
  std::unique_ptr<HttpServer> server;
  std::unique_ptr<httplib::Client> client;
  explicit Live(ServiceOptions so = {}, ServerOptions ho = {}) {
    ho.port = 0;
    ho.threads = 32;
    service = std::make_unique<Service>(std::vector<ModelSpec>{{"s4", fx().ckpt}}, so);
    server = std::make_unique<HttpServer>(*service, ho);
    server->start();
    client = make_client();
  }
  std::unique_ptr<httplib::Client> make_client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", server->port());
    c->set_read_timeout(30);
    return c;
  }
  httplib::Result post(const json& body, const std::string& path = "/v1/solve") const {
    return client->Post(path.c_str(), body.dump(), "application/json");
  }
};

json body_of(const httplib::Result& r) { return json::parse(r->body); }

// What infer::Solver answers alone for puzzle i with the server's checker.
infer::Answer solve_alone(int i, bool reference = false, bool gate = true) {
  Fixture& f = fx();
  auto be = make_cpu_backend();
  auto model = load_model_from_checkpoint(f.ckpt, *be, true);
  infer::SolverOptions so;
  so.batch = 1;
  so.halting = reference ? infer::HaltMode::kReference : infer::HaltMode::kAdaptive;
  so.checker = infer::Checker(infer::PuzzleFamily::kSudoku, 4);
  so.gate_halting = gate;
  infer::Solver solver(*model, so);
  std::vector<infer::Answer> out;
  solver.solve(f.rows.inputs.data() + i * 16, nullptr, 1, out);
  return out.front();
}

// The first n puzzles through one Solver in one batch (the shape a batch of n requests runs).
std::vector<infer::Answer> solve_together(int n, bool gate) {
  Fixture& f = fx();
  auto be = make_cpu_backend();
  auto model = load_model_from_checkpoint(f.ckpt, *be, true);
  infer::SolverOptions so;
  so.batch = 64;
  so.checker = infer::Checker(infer::PuzzleFamily::kSudoku, 4);
  so.gate_halting = gate;
  infer::Solver solver(*model, so);
  std::vector<infer::Answer> out;
  solver.solve(f.rows.inputs.data(), nullptr, n, out);
  return out;
}

void expect_same(const json& got, const infer::Answer& want, int i) {
  ASSERT_EQ(got["steps"].get<int>(), want.steps) << "puzzle " << i;
  // Value = token - 1; a padding token (0) is given as the blank, 0.
  for (int k = 0; k < 16; ++k)
    EXPECT_EQ(got["grid"][k / 4][k % 4].get<int>(), std::max(0, want.tokens[static_cast<std::size_t>(k)] - 1)) << i;
  ASSERT_EQ(got["confidence"].size(), want.step_confidence.size());
  // Grids and steps exact; confidences to rounding (a row's place in the batch can change the
  // GEMM's summation order: ~1e-6 here).
  for (std::size_t s = 0; s < want.step_confidence.size(); ++s)
    EXPECT_NEAR(got["confidence"][s].get<double>(), want.step_confidence[s], 1e-4);
  EXPECT_EQ(got["verified"].get<bool>(), want.check == infer::CheckStatus::kVerified);
}

TEST(Serve, SolveAnswersWhatTheSolverAnswersAlone) {
  // Ungated, so this random model's puzzles halt at different steps (gated, none would: its
  // answers never pass the checker).
  ServiceOptions so;
  so.gate_halting = false;
  Live live(so);
  std::set<int> steps_seen;
  for (int i = 0; i < 8; ++i) {
    auto r = live.post({{"grid", fx().grid(i)}, {"trace", true}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json j = body_of(r);
    expect_same(j, solve_alone(i, false, false), i);
    steps_seen.insert(j["steps"].get<int>());
    ASSERT_EQ(j["trace"].size(), j["steps"].get<std::size_t>());
    EXPECT_EQ(j["trace"].back()["grid"], j["grid"]);
    EXPECT_EQ(j["model"], "s4");
  }
  EXPECT_GT(steps_seen.size(), 1u) << "every puzzle halted at the same step: the test would not see per-sample halting";
  // The text form gives the same answer as the grid form; reference halting runs every step.
  std::string text;
  for (int k = 0; k < 16; ++k) text += static_cast<char>('0' + fx().rows.inputs[static_cast<std::size_t>(k)] - 1);
  auto r = live.post({{"puzzle", text}, {"halting", "reference"}});
  ASSERT_EQ(r->status, 200) << r->body;
  expect_same(body_of(r), solve_alone(0, true, false), 0);
  EXPECT_EQ(body_of(r)["steps"], 8);
  auto m = live.client->Get("/v1/models");
  ASSERT_EQ(m->status, 200);
  const json mj = body_of(m);
  EXPECT_EQ(mj["models"][0]["task"], "sudoku");
  EXPECT_EQ(mj["models"][0]["rows"], 4);
  EXPECT_EQ(mj["models"][0]["vocab"]["values"].size(), 5u);
  EXPECT_EQ(body_of(live.client->Get("/healthz"))["status"], "ok");
}

TEST(Serve, ConcurrentRequestsShareModelStepsAndEachGetsItsOwnAnswer) {
  ServiceOptions so;
  so.gate_halting = false;
  Live live(so);
  const int n = 16;
  // The worker is held while the 16 requests queue up, so its first step takes them all: the batch
  // then has the shape of one Solver run over the 16 puzzles (the GEMMs round the same way), and
  // each request must get exactly its own puzzle's answer from it.
  const std::vector<infer::Answer> want = solve_together(n, false);
  live.service->set_paused(true);
  std::vector<std::future<json>> got;
  for (int i = 0; i < n; ++i)
    got.push_back(std::async(std::launch::async, [&live, i] {
      auto c = live.make_client();
      auto r = c->Post("/v1/solve", json{{"grid", fx().grid(i)}}.dump(), "application/json");
      return r && r->status == 200 ? json::parse(r->body) : json{{"status", r ? r->status : -1}};
    }));
  for (int t = 0; t < 2000 && live.service->queue_depth() < static_cast<std::size_t>(n); ++t)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(live.service->queue_depth(), static_cast<std::size_t>(n));
  EXPECT_NE(live.client->Get("/metrics")->body.find("trm_queue_depth{model=\"s4\"} 16"), std::string::npos);
  live.service->set_paused(false);
  std::set<int> steps;
  for (int i = 0; i < n; ++i) {
    const json j = got[static_cast<std::size_t>(i)].get();
    expect_same(j, want[static_cast<std::size_t>(i)], i);
    steps.insert(j.value("steps", 0));
  }
  EXPECT_GT(steps.size(), 1u) << "all halted together: per-sample halting not exercised";
  EXPECT_GT(live.service->metrics().batches_above("s4", 8), 0u) << "no model step ran more than 8 rows";
  const std::string metrics = live.client->Get("/metrics")->body;
  for (const char* s : {"trm_batch_rows_bucket{model=\"s4\",le=\"16\"}", "trm_solve_latency_seconds_count{model=\"s4\"} 16",
                        "trm_queue_depth{model=\"s4\"} 0", "trm_supervision_steps_per_second{model=\"s4\"}",
                        "trm_http_requests_total{route=\"/v1/solve\",code=\"200\"} 16"})
    EXPECT_NE(metrics.find(s), std::string::npos) << s << "\n" << metrics;
  // Requests arriving while others run join between steps (continuous batching): a second wave
  // sent without holding the worker also gets 200s and shares steps.
  std::vector<std::future<int>> wave;
  for (int i = 0; i < n; ++i)
    wave.push_back(std::async(std::launch::async, [&live, i] {
      auto r = live.make_client()->Post("/v1/solve", json{{"grid", fx().grid(i)}}.dump(), "application/json");
      return r ? r->status : -1;
    }));
  for (auto& w : wave) EXPECT_EQ(w.get(), 200);
}

TEST(Serve, WithoutBatchingEachRequestRunsAlone) {
  ServiceOptions so;
  so.max_batch = 1;
  so.batch_window_ms = 50;
  Live live(so);
  std::vector<std::future<int>> got;
  for (int i = 0; i < 8; ++i)
    got.push_back(std::async(std::launch::async, [&live, i] {
      auto r = live.make_client()->Post("/v1/solve", json{{"grid", fx().grid(i)}}.dump(), "application/json");
      return r ? r->status : -1;
    }));
  for (auto& g : got) EXPECT_EQ(g.get(), 200);
  EXPECT_EQ(live.service->metrics().batches_above("s4", 1), 0u);
}

void expect_error(const httplib::Result& r, int code, const std::string& field = {}, const std::string& needle = {}) {
  ASSERT_TRUE(r) << "no response";
  EXPECT_EQ(r->status, code) << r->body;
  json j;
  ASSERT_NO_THROW(j = json::parse(r->body)) << r->body;
  ASSERT_TRUE(j.contains("error")) << r->body;
  EXPECT_EQ(j["error"]["code"], code);
  if (!field.empty()) {
    EXPECT_EQ(j["error"].value("field", ""), field) << r->body;
  }
  if (!needle.empty()) {
    EXPECT_NE(j["error"]["message"].get<std::string>().find(needle), std::string::npos) << r->body;
  }
}

TEST(Serve, EveryLimitAnswersItsCode) {
  ServiceOptions so;
  so.max_queue = 2;
  so.deadline_ms = 3000;  // long enough that the two waiting requests are still queued under load
  ServerOptions ho;
  ho.max_body = 4096;
  Live live(so, ho);
  json g = fx().grid(0);
  expect_error(live.client->Post("/v1/solve", "{", "application/json"), 400, "", "invalid JSON");
  expect_error(live.post({{"grid", g}, {"colour", 1}}), 400, "colour", "unknown field");
  json short_row = g;
  short_row[2].erase(0);
  expect_error(live.post({{"grid", short_row}}), 400, "grid", "row 3 has 3 cells, the model expects 4");
  json bad_value = g;
  bad_value[0][0] = 7;
  expect_error(live.post({{"grid", bad_value}}), 400, "grid", "outside the puzzle alphabet");
  expect_error(live.post({{"puzzle", "12345"}}), 400, "puzzle");
  expect_error(live.post({{"puzzle", "11.............."}}), 400, "puzzle", "invalid");
  expect_error(live.post({{"grid", g}, {"halting", "sometimes"}}), 400, "halting");
  expect_error(live.post({{"grid", g}, {"samples", 0}}), 400, "samples");
  expect_error(live.post({{"grid", g}, {"samples", 1e300}}), 400, "samples");
  expect_error(live.post({{"grid", g}, {"trace", "yes"}}), 400, "trace");
  expect_error(live.post({{"grid", g}, {"puzzle", "1..."}}), 400);
  expect_error(live.post(json::array({1, 2})), 400);
  expect_error(live.post({{"grid", g}, {"model", "nope"}}), 404, "model", "no model named");
  expect_error(live.client->Post("/v1/solve", std::string(5000, ' '), "application/json"), 413);
  expect_error(live.client->Post("/v1/solve", json{{"grid", g}}.dump(), "text/plain"), 415);
  expect_error(live.client->Get("/v1/solve"), 405);
  expect_error(live.client->Get("/v1/nothing"), 404);
  expect_error(live.client->Get("/nothing"), 404);
  // 503 when the queue is full, 504 past the deadline: the worker is paused so the queue fills.
  live.service->set_paused(true);
  std::vector<std::future<httplib::Result>> waiting;
  for (int i = 0; i < 2; ++i)
    waiting.push_back(std::async(std::launch::async, [&live, g] {
      return live.make_client()->Post("/v1/solve", json{{"grid", g}}.dump(), "application/json");
    }));
  // Until both are queued (a fixed sleep raced with a loaded machine's scheduler).
  for (int i = 0; i < 500 && live.service->queue_depth() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(live.service->queue_depth(), 2u);
  auto full = live.post({{"grid", g}});
  expect_error(full, 503, "", "queue");
  EXPECT_EQ(full->get_header_value("Retry-After"), "1");
  for (auto& w : waiting) expect_error(w.get(), 504, "", "deadline");
  live.service->set_paused(false);
  EXPECT_EQ(live.post({{"grid", g}})->status, 200);
  const std::string metrics = live.client->Get("/metrics")->body;
  EXPECT_NE(metrics.find("trm_http_errors_total{code=\"504\"} 2"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("trm_solve_rejected_total{model=\"s4\",code=\"503\"} 1"), std::string::npos) << metrics;
}

TEST(Serve, BearerAuth) {
  ServerOptions ho;
  ho.api_key = "sekret";
  Live live({}, ho);
  const std::string body = json{{"grid", fx().grid(0)}}.dump();
  expect_error(live.client->Post("/v1/solve", body, "application/json"), 401, "", "missing");
  expect_error(live.client->Post("/v1/solve", {{"Authorization", "Bearer wrong"}}, body, "application/json"), 401, "", "bad");
  expect_error(live.client->Get("/v1/models"), 401);
  EXPECT_EQ(live.client->Post("/v1/solve", {{"Authorization", "Bearer sekret"}}, body, "application/json")->status, 200);
  EXPECT_EQ(live.client->Get("/healthz")->status, 200);  // probes need no token
}

TEST(Serve, StaticHandlerServesOtherGetPaths) {
  ServerOptions ho;
  ho.static_files = [](const std::string& path, std::string& body, std::string& type) {
    if (path != "/" && path != "/assets/app.js") return false;
    body = path == "/" ? "<html>page</html>" : "js";
    type = path == "/" ? "text/html" : "text/javascript";
    return true;
  };
  Live live({}, ho);
  auto r = live.client->Get("/");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "<html>page</html>");
  EXPECT_EQ(live.client->Get("/assets/app.js")->body, "js");
  EXPECT_EQ(live.client->Get("/assets/none.js")->status, 404);
  Live plain;
  auto p = plain.client->Get("/");
  EXPECT_EQ(p->status, 200);
  EXPECT_NE(p->body.find("SERVING.md"), std::string::npos);
}

TEST(Serve, ShutdownAnswersTheRequestsInFlight) {
  Live live;
  live.service->set_paused(true);
  std::vector<std::future<httplib::Result>> waiting;
  for (int i = 0; i < 4; ++i)
    waiting.push_back(std::async(std::launch::async, [&live, i] {
      return live.make_client()->Post("/v1/solve", json{{"grid", fx().grid(i)}}.dump(), "application/json");
    }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::thread stopper([&live] { live.server->shutdown(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(live.service->draining());
  live.service->set_paused(false);
  for (auto& w : waiting) {
    auto r = w.get();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
  stopper.join();
}

// ---- the malformed-request corpus ------------------------------------------------------------
struct Case {
  std::string name, content_type, body, path = "/v1/solve";
};

std::vector<Case> generated_corpus() {
  std::vector<Case> v;
  const std::string ok_grid = fx().grid(0).dump();
  auto add = [&v](std::string name, std::string body, std::string type = "application/json") {
    v.push_back({std::move(name), std::move(type), std::move(body)});
  };
  // Wrong types for every field.
  const std::vector<std::string> values{"null", "true", "false", "0", "-1", "1.5", "1e308", "-1e308", "18446744073709551616",
                                        "\"\"", "\"x\"", "[]", "{}", "[[]]", "[1,2,3]", "{\"a\":1}", "\"\\u0000\"",
                                        "99999999999999999999999999999999", "-0", "[null]"};
  for (const char* field : {"model", "puzzle", "grid", "halting", "samples", "trace"})
    for (const auto& x : values) add(std::string("type ") + field + "=" + x, "{\"" + std::string(field) + "\":" + x + "}");
  // Grids of the wrong shape or alphabet.
  for (const auto& g : {"[[1,2,3,4]]", "[[0,0,0,0],[0,0,0,0],[0,0,0,0]]", "[[0,0,0,0],[0,0,0,0],[0,0,0,0],[0,0,0]]",
                        "[[0,0,0,0],[0,0,0,0],[0,0,0,0],[0,0,0,0,0]]", "[[0,0,0,0],[0,0,0,0],[0,0,0,0],[0,0,0,5]]",
                        "[[0,0,0,0],[0,0,0,0],[0,0,0,0],[0,0,0,-1]]", "[[0,0,0,0],[0,0,0,0],[0,0,0,0],[0,0,0,1.0]]",
                        "[[0,0,0,0],[0,0,0,0],[0,0,0,0],[0,0,0,\"1\"]]", "[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]",
                        "[[1,1,0,0],[0,0,0,0],[0,0,0,0],[0,0,0,0]]", "[[0,0,0,0],[0,0,0,0],[0,0,0,0],[0,0,0,1e400]]"})
    add(std::string("grid ") + g, std::string("{\"grid\":") + g + "}");
  // Puzzle texts the model cannot take.
  for (const auto& t : {"", " ", "1", "12345678901234567", "#S G", "abcd", "1..4..1..1..4..X", "-1..............",
                        "\\u00e9\\u00e9\\u00e9", "1..4\\n..1.\\n.1..\\n4..1\\n5", "................................"})
    add(std::string("puzzle ") + t, std::string("{\"puzzle\":\"") + t + "\"}");
  // Unknown fields, missing puzzle, both forms, unknown model.
  add("no puzzle", "{}");
  add("unknown field", "{\"grid\":" + ok_grid + ",\"x\":1}");
  add("both", "{\"grid\":" + ok_grid + ",\"puzzle\":\"1...............\"}");
  add("model unknown", "{\"grid\":" + ok_grid + ",\"model\":\"other\"}");
  add("model long", "{\"grid\":" + ok_grid + ",\"model\":\"" + std::string(10000, 'm') + "\"}");
  add("samples huge", "{\"grid\":" + ok_grid + ",\"samples\":1000000000000}");
  add("samples over max", "{\"grid\":" + ok_grid + ",\"samples\":9}");
  add("field long", "{\"" + std::string(5000, 'k') + "\":1}");
  // Not objects.
  for (const std::string& b : std::vector<std::string>{"null", "1", "\"s\"", "[]", "[{}]", "true", "[" + ok_grid + "]"}) add(std::string("not object ") + b, b);
  // Malformed JSON and truncations of a good body.
  const std::string good = "{\"grid\":" + ok_grid + ",\"halting\":\"adaptive\",\"samples\":1,\"trace\":true}";
  for (std::size_t cut = 0; cut < good.size(); cut += 3) add("truncated at " + std::to_string(cut), good.substr(0, cut));
  for (const auto& b : {"{", "}", "{]", "{\"grid\":}", "{\"grid\" [[1]]}", "{'grid': 1}", "{\"a\":1,}", "[1,,2]", "{\"a\":01}",
                        "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":\"\\x\"}", "{\"a\":\"\\ud800\"}", "/* c */ {}",
                        "{\"a\":1} trailing", "\xef\xbb\xbf{}", "{\"a\":\"\x01\"}", "{\"grid\":[[1,2],[3,4]]]"})
    add(std::string("malformed ") + b, b);
  // Invalid UTF-8 in keys and values.
  for (const auto& b : {"{\"puzzle\":\"\xff\xfe\"}", "{\"\xc3\x28\":1}", "{\"model\":\"\xe2\x82\"}", "{\"puzzle\":\"\xf0\x28\x8c\xbc\"}",
                        "{\"model\":\"\xed\xa0\x80\"}", "\xff"})
    add("utf8", b);
  // Deep nesting.
  for (int d : {33, 100, 1000, 100000}) {
    add("deep array " + std::to_string(d), "{\"grid\":" + std::string(static_cast<std::size_t>(d), '[') + std::string(static_cast<std::size_t>(d), ']') + "}");
    std::string o;
    for (int i = 0; i < d; ++i) o += "{\"a\":";
    o += "1" + std::string(static_cast<std::size_t>(d), '}');
    add("deep object " + std::to_string(d), o);
    add("deep unclosed " + std::to_string(d), std::string(static_cast<std::size_t>(d), '['));
  }
  // Huge arrays and numbers (under the body limit).
  std::string arr = "{\"grid\":[";
  for (int i = 0; i < 100000; ++i) arr += i ? ",0" : "0";
  add("huge flat grid", arr + "]}");
  std::string rows = "{\"grid\":[";
  for (int i = 0; i < 20000; ++i) rows += i ? ",[0,0,0,0]" : "[0,0,0,0]";
  add("huge row count", rows + "]}");
  add("huge number", "{\"samples\":" + std::string(100000, '9') + "}");
  add("huge string", "{\"puzzle\":\"" + std::string(500000, '1') + "\"}");
  // Wrong content types.
  for (const auto& t : {"text/plain", "application/x-www-form-urlencoded", "", "application/jsonx", "multipart/form-data",
                        "application/xml"})
    add(std::string("content type ") + t, "{\"grid\":" + ok_grid + "}", t);
  // The MCP endpoint with the same bodies.
  for (const auto& b : {"{", "[]", "null", "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", "\xff"}) {
    v.push_back({std::string("mcp ") + b, "application/json", b, "/mcp"});
  }
  return v;
}

std::vector<Case> stored_corpus() {
  std::vector<Case> v;
  for (const auto& e : std::filesystem::directory_iterator(TRM_SERVE_CORPUS_DIR)) {
    if (e.path().extension() != ".body") continue;
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    // The first line says the content type (and, after a space, the path: /v1/solve when absent).
    std::string all = ss.str(), head = all.substr(0, all.find('\n'));
    Case c{e.path().filename().string(), head, all.find('\n') == std::string::npos ? "" : all.substr(all.find('\n') + 1)};
    if (const auto sp = head.find(' '); sp != std::string::npos) {
      c.content_type = head.substr(0, sp);
      c.path = head.substr(sp + 1);
    }
    v.push_back(std::move(c));
  }
  return v;
}

TEST(Serve, MalformedRequestCorpusGetsJsonErrorsAndNeverCrashes) {
  ServiceOptions so;
  ServerOptions ho;
  ho.max_body = 1 << 20;
  Live live(so, ho);
  std::vector<Case> corpus = generated_corpus();
  const std::vector<Case> stored = stored_corpus();
  EXPECT_GE(stored.size(), 10u);
  corpus.insert(corpus.end(), stored.begin(), stored.end());
  ASSERT_GE(corpus.size(), 200u);
  int n = 0;
  for (const Case& c : corpus) {
    auto r = c.content_type.empty() ? live.client->Post(c.path.c_str(), c.body, "")
                                    : live.client->Post(c.path.c_str(), c.body, c.content_type);
    ASSERT_TRUE(r) << c.name << ": no response (" << httplib::to_string(r.error()) << ")";
    if (c.path == "/mcp" && r->status == 200) {  // JSON-RPC errors ride on 200
      EXPECT_TRUE(json::parse(r->body).contains("error")) << c.name << ": " << r->body;
    } else {
      EXPECT_GE(r->status, 400) << c.name << ": " << r->body;
      EXPECT_LT(r->status, 500) << c.name << ": " << r->body;
      json j;
      ASSERT_NO_THROW(j = json::parse(r->body)) << c.name << ": " << r->body;
      EXPECT_TRUE(j.contains("error") || j.contains("jsonrpc")) << c.name << ": " << r->body;
    }
    ++n;
  }
  EXPECT_EQ(n, static_cast<int>(corpus.size()));
  auto h = live.client->Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(live.post({{"grid", fx().grid(0)}})->status, 200);
  std::printf("%zu malformed requests (%zu stored), all answered 4xx\n", corpus.size(), stored.size());
}

TEST(Serve, McpOverHttp) {
  Live live;
  auto rpc = [&live](const json& m) { return live.client->Post("/mcp", m.dump(), "application/json"); };
  auto init = rpc({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"},
                   {"params", {{"protocolVersion", "2025-06-18"}, {"capabilities", json::object()},
                               {"clientInfo", {{"name", "t"}, {"version", "1"}}}}}});
  ASSERT_EQ(init->status, 200);
  EXPECT_EQ(body_of(init)["result"]["protocolVersion"], "2025-06-18");
  EXPECT_EQ(rpc({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}})->status, 202);
  const json tools = body_of(rpc({{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/list"}}))["result"]["tools"];
  std::set<std::string> names;
  for (const auto& t : tools) names.insert(t["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"solve_sudoku", "solve_maze", "solve_grid", "list_models"}));
  std::string text;
  for (int k = 0; k < 16; ++k) text += static_cast<char>('0' + fx().rows.inputs[static_cast<std::size_t>(k)] - 1);
  const json call = body_of(rpc({{"jsonrpc", "2.0"}, {"id", 3}, {"method", "tools/call"},
                                 {"params", {{"name", "solve_sudoku"}, {"arguments", {{"puzzle", text}}}}}}));
  EXPECT_FALSE(call["result"]["isError"].get<bool>()) << call;
  expect_same(call["result"]["structuredContent"], solve_alone(0), 0);
  const json bad = body_of(rpc({{"jsonrpc", "2.0"}, {"id", 4}, {"method", "tools/call"},
                                {"params", {{"name", "solve_sudoku"}, {"arguments", {{"puzzle", "12"}}}}}}));
  EXPECT_TRUE(bad["result"]["isError"].get<bool>()) << bad;
  const json maze = body_of(rpc({{"jsonrpc", "2.0"}, {"id", 5}, {"method", "tools/call"},
                                 {"params", {{"name", "solve_maze"}, {"arguments", {{"maze", "#S G#"}}}}}}));
  EXPECT_TRUE(maze["result"]["isError"].get<bool>()) << maze;  // no maze model is served
  const json unknown = body_of(rpc({{"jsonrpc", "2.0"}, {"id", 6}, {"method", "nope"}}));
  EXPECT_EQ(unknown["error"]["code"], -32601);
}

}  // namespace
}  // namespace trm::serve
