#include <httplib.h>

#include <cstring>

#include "serve/mcp.h"
#include "trm/error.h"
#include "trm/serve/metrics.h"
#include "trm/serve/server.h"

namespace trm::serve {

namespace {
constexpr const char* kJson = "application/json";

void send(httplib::Response& res, int code, const nlohmann::json& body) {
  res.status = code;
  res.set_content(dump_json(body), kJson);
}
void send_error(httplib::Response& res, int code, const std::string& message, const std::string& field = {}) {
  if (code == 503) res.set_header("Retry-After", "1");
  send(res, code, error_json(code, message, field));
}
bool is_json(const httplib::Request& req) {
  const std::string ct = req.get_header_value("Content-Type");
  // "application/json", optionally with parameters ("; charset=utf-8").
  return ct.compare(0, 16, "application/json") == 0 && (ct.size() == 16 || ct[16] == ';' || ct[16] == ' ');
}
// The metrics' route label: the fixed route names, "other" for anything else.
std::string route_of(const std::string& path) {
  for (const char* r : {"/v1/solve", "/v1/models", "/healthz", "/metrics", "/mcp", "/"})
    if (path == r) return r;
  return "other";
}
// Constant-time comparison of the bearer token (no early exit on the first differing byte).
bool same(const std::string& a, const std::string& b) {
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned>(a[i] ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}
}  // namespace

HttpServer::HttpServer(Service& service, const ServerOptions& opt)
    : service_(service), opt_(opt), http_(std::make_unique<httplib::Server>()), mcp_(std::make_unique<McpHandler>(service)) {
  if (opt_.threads < 1 || opt_.threads > 1024) throw Error("--threads must be in [1, 1024]");
  if (opt_.max_body < 1024) throw Error("--max-body must be at least 1024 bytes");
  routes();
}

HttpServer::~HttpServer() { shutdown(); }

void HttpServer::routes() {
  httplib::Server& s = *http_;
  const int threads = opt_.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  s.set_payload_max_length(opt_.max_body);
  s.set_keep_alive_max_count(10000);
  s.set_keep_alive_timeout(5);
  s.set_read_timeout(10);
  s.set_write_timeout(10);
  s.set_tcp_nodelay(true);

  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (opt_.api_key.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const bool guarded = req.path.rfind("/v1/", 0) == 0 || req.path == "/mcp" || req.path == "/metrics";
    if (!guarded) return httplib::Server::HandlerResponse::Unhandled;
    const std::string h = req.get_header_value("Authorization");
    if (h.size() > 7 && h.compare(0, 7, "Bearer ") == 0 && same(h.substr(7), opt_.api_key))
      return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, 401, h.empty() ? "missing Authorization: Bearer token" : "bad bearer token");
    return httplib::Server::HandlerResponse::Handled;
  });
  // httplib's own refusals (413 over --max-body, 400 unparsable HTTP, 404 no route) get a JSON body.
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const int code = res.status;
    const char* msg = code == 413 ? "request body too large"
                      : code == 404 ? "no such path (the API is under /v1: docs/SERVING.md)"
                      : code == 405 ? "method not allowed"
                                    : "bad request";
    send(res, code, error_json(code, msg));
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    std::fprintf(stderr, "trm serve: internal error: %s\n", what.c_str());
    send(res, 500, error_json(500, "internal error"));
  });
  // Counted just before the response is written (the post-routing handler runs for every answer,
  // 404s and errors included), not in the logger, which runs after the client has its answer: a
  // client that reads /metrics right after a solve must find that solve counted.
  s.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    service_.metrics().request(route_of(req.path), res.status);
  });

  s.Post("/v1/solve", [this](const httplib::Request& req, httplib::Response& res) {
    try {
      if (!is_json(req)) throw ApiError(415, "Content-Type must be application/json");
      send(res, 200, service_.solve(parse_json_body(req.body)));
    } catch (const ApiError& e) {
      send_error(res, e.code(), e.what(), e.field());
    }
  });
  s.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) { send(res, 200, service_.models_json()); });
  s.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    if (service_.draining()) send(res, 503, {{"status", "draining"}});
    else send(res, 200, {{"status", "ok"}});
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(service_.render_metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  // MCP Streamable HTTP: a JSON-RPC message per POST, answered with application/json (a request)
  // or 202 Accepted (notifications and responses). This server offers no SSE stream: GET is 405.
  s.Post("/mcp", [this](const httplib::Request& req, httplib::Response& res) {
    if (!is_json(req)) {
      send_error(res, 415, "Content-Type must be application/json");
      return;
    }
    nlohmann::json msg;
    try {
      msg = parse_json_body(req.body);
    } catch (const ApiError& e) {
      send(res, 400, McpHandler::parse_error(e.what()));
      return;
    }
    std::optional<nlohmann::json> reply = mcp_->handle(msg);
    if (!reply) {
      res.status = 202;
      return;
    }
    send(res, 200, *reply);
  });
  s.Get("/mcp", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Allow", "POST");
    send_error(res, 405, "this server offers no SSE stream: POST JSON-RPC messages to /mcp");
  });
  s.Delete("/mcp", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Allow", "POST");
    send_error(res, 405, "this server keeps no sessions");
  });
  for (const char* p : {"/v1/solve"})
    s.Get(p, [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Allow", "POST");
      send_error(res, 405, "use POST with a JSON body");
    });
  s.Post("/v1/models", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Allow", "GET");
    send_error(res, 405, "use GET");
  });
  s.Get(R"(/v1/.*)", [](const httplib::Request&, httplib::Response& res) { send_error(res, 404, "no such API path"); });
  // Everything else GET: the web page's handler, when there is one.
  s.Get(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
    std::string body, type;
    if (opt_.static_files && opt_.static_files(req.path, body, type)) {
      res.set_content(std::move(body), type);
      return;
    }
    if (req.path == "/") {
      res.set_content("trm serve: POST /v1/solve, GET /v1/models, GET /healthz, GET /metrics, POST /mcp.\n"
                      "See docs/SERVING.md.\n",
                      "text/plain; charset=utf-8");
      return;
    }
    send_error(res, 404, "no such path");
  });
}

int HttpServer::bind() {
  const int port = opt_.port == 0 ? http_->bind_to_any_port(opt_.host) : (http_->bind_to_port(opt_.host, opt_.port) ? opt_.port : -1);
  if (port <= 0)
    throw Error("cannot listen on " + opt_.host + ":" + std::to_string(opt_.port) + " (" + std::strerror(errno) +
                "; is the port in use or the host not an address of this machine?)");
  port_ = port;
  return port;
}

void HttpServer::listen() { http_->listen_after_bind(); }

void HttpServer::start() {
  bind();
  thread_ = std::thread([this] { listen(); });
  while (!http_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void HttpServer::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  service_.begin_drain();
  service_.wait_idle();
  http_->stop();
  if (thread_.joinable()) thread_.join();
  service_.stop();
}

}  // namespace trm::serve
