// The HTTP front end of trm serve (cpp-httplib): routes /v1/solve, /v1/models, /healthz,
// /metrics and /mcp onto a Service, with bearer auth, body and content-type limits and JSON
// errors (docs/SERVING.md).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "trm/serve/service.h"

namespace httplib {
class Server;
}

namespace trm::serve {

// Serves GET paths outside /v1, /mcp, /healthz and /metrics (the web page): fills body and
// content_type and returns true, or false for "no such file" (404).
using StaticHandler = std::function<bool(const std::string& path, std::string& body, std::string& content_type)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;             // 0: any free port (port() says which)
  std::string api_key;         // non-empty: bearer auth on /v1 and /mcp
  std::size_t max_body = std::size_t{1} << 20;
  int threads = 64;            // HTTP connections served at once
  StaticHandler static_files;  // empty: GET / answers a plain-text pointer to docs/SERVING.md
};

class McpHandler;

class HttpServer {
 public:
  HttpServer(Service& service, const ServerOptions& opt);
  ~HttpServer();  // shutdown()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds (trm::Error naming host and port when it cannot) and returns the port.
  int bind();
  int port() const { return port_; }
  // Serves until shutdown(); call after bind().
  void listen();
  // bind() and listen() on a thread of its own (tests).
  void start();
  // Drains: new solves get 503, the ones in flight are answered, then the listener stops.
  void shutdown();

 private:
  void routes();
  Service& service_;
  ServerOptions opt_;
  std::unique_ptr<httplib::Server> http_;
  std::unique_ptr<McpHandler> mcp_;
  std::thread thread_;
  int port_ = 0;
  bool stopped_ = false;
};

}  // namespace trm::serve
