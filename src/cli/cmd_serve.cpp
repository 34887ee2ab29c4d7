// trm serve --model NAME=CHECKPOINT ... : the HTTP server (docs/SERVING.md).
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "cli/commands.h"
#include "cli/serve_options.h"
#include "trm/serve/server.h"
#include "trm/serve/web_assets.h"

namespace trm::cli {

void add_serve_command(CLI::App& app, Action& action) {
  static ServeArgs args;
  static std::string host = "127.0.0.1", api_key;
  static int port = 8080, threads = 64;
  static std::size_t max_body = std::size_t{1} << 20;
  auto* cmd = app.add_subcommand("serve", "Serve models over HTTP: JSON API, Prometheus metrics, MCP (docs/SERVING.md)");
  add_serve_model_options(cmd, args);
  cmd->add_option("--host", host, "Address to listen on (loopback by default)")->capture_default_str();
  cmd->add_option("--port", port, "Port (0: any free port, printed at start)")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", api_key, "Require 'Authorization: Bearer KEY' on /v1, /mcp and /metrics (or env TRM_API_KEY)");
  cmd->add_option("--threads", threads, "HTTP connections served at once")->capture_default_str();
  cmd->add_option("--max-body", max_body, "Largest request body in bytes (413 beyond)")->capture_default_str();
  cmd->callback([&action] {
    action = [] {
      // SIGTERM / SIGINT are taken by a thread of ours (sigwait), so they must be blocked before
      // any other thread (workers, OpenMP, HTTP) exists: those inherit the mask.
      sigset_t sigs;
      sigemptyset(&sigs);
      sigaddset(&sigs, SIGTERM);
      sigaddset(&sigs, SIGINT);
      pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
      serve::ServerOptions so;
      so.host = host;
      so.port = port;
      so.threads = threads;
      so.max_body = max_body;
      so.api_key = api_key;
      // The web page (src/serve/web/, embedded at build time) at / and /assets/*; the page itself
      // needs no key (it asks for one when /v1 answers 401).
      so.static_files = [](const std::string& path, std::string& body, std::string& type) {
        const serve::WebAsset* a = serve::find_web_asset(path);
        if (!a) return false;
        body.assign(a->body);
        type.assign(a->content_type);
        return true;
      };
      if (so.api_key.empty())
        if (const char* k = std::getenv("TRM_API_KEY")) so.api_key = k;
      serve::Service service(serve_models(args), serve_service_options(args));
      serve::HttpServer server(service, so);
      const int bound = server.bind();
      std::fprintf(stderr, "trm serve: listening on http://%s:%d (%zu model%s%s)\n", host.c_str(), bound,
                   args.models.size(), args.models.size() == 1 ? "" : "s", so.api_key.empty() ? "" : ", bearer auth");
      std::fflush(stderr);
      std::thread signals([&server, sigs] {
        int sig = 0;
        sigwait(&sigs, &sig);
        std::fprintf(stderr, "trm serve: %s: draining\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        server.shutdown();
      });
      server.listen();
      signals.join();
      std::fprintf(stderr, "trm serve: stopped\n");
      return 0;
    };
  });
}

}  // namespace trm::cli
