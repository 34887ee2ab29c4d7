// The web page of `trm serve` (src/serve/web/: index.html, app.js, style.css), embedded in the
// binary at build time (cmake/embed_web_assets.cmake writes them into a generated .cpp), so the
// server needs no files beside it and the page loads nothing from elsewhere (docs/VISUALS.md).
#pragma once
#include <string_view>

namespace trm::serve {

struct WebAsset {
  std::string_view path;          // "/index.html", "/assets/app.js", ...
  std::string_view content_type;  // with charset
  std::string_view body;
};

// The asset served at `path` ("/" and "/index.html" -> the page; "/assets/NAME" -> app.js,
// style.css); nullptr for any other path (a 404). A query string is not part of `path`.
const WebAsset* find_web_asset(std::string_view path);

// Every embedded asset (for tests and listings), in no particular order.
const WebAsset* web_assets_begin();
const WebAsset* web_assets_end();

}  // namespace trm::serve
