// The web page of trm serve is embedded byte for byte from src/serve/web/, found by path, and
// self-contained: every asset the page links is embedded, and nothing is loaded from elsewhere.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <string>

#include "trm/serve/web_assets.h"

namespace trm::serve {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << path;
  return {std::istreambuf_iterator<char>(f), {}};
}

TEST(WebAssets, EmbeddedAsOnDisk) {
  for (const char* name : {"index.html", "app.js", "style.css"}) {
    const std::string path = std::string(name) == "index.html" ? "/index.html" : std::string("/assets/") + name;
    const WebAsset* a = find_web_asset(path);
    ASSERT_NE(a, nullptr) << path;
    EXPECT_EQ(a->body, slurp(std::string(TRM_WEB_DIR) + "/" + name)) << name;
  }
  EXPECT_EQ(web_assets_end() - web_assets_begin(), 3);
}

TEST(WebAssets, PathsAndTypes) {
  const WebAsset* root = find_web_asset("/");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root, find_web_asset("/index.html"));
  EXPECT_EQ(root->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(find_web_asset("/assets/app.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(find_web_asset("/assets/style.css")->content_type, "text/css; charset=utf-8");
  for (const char* bad : {"/app.js", "/assets/", "/assets/../index.html", "/assets/app.js/", "/v1/models", "/INDEX.HTML"})
    EXPECT_EQ(find_web_asset(bad), nullptr) << bad;
}

TEST(WebAssets, PageLinksOnlyEmbeddedAssets) {
  const std::string html(find_web_asset("/")->body);
  // Every src= / href= is a relative assets/ path that is embedded (no CDN, no other host), or
  // the empty data: icon (so the browser does not ask for /favicon.ico).
  const std::regex link(R"((?:src|href)=\"([^\"]*)\")");
  int links = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), link); it != std::sregex_iterator(); ++it) {
    const std::string target = (*it)[1];
    if (target == "data:,") continue;
    EXPECT_EQ(target.rfind("assets/", 0), 0u) << target;
    EXPECT_NE(find_web_asset("/" + target), nullptr) << target;
    ++links;
  }
  EXPECT_EQ(links, 2);  // the stylesheet and the script
  for (const WebAsset* a = web_assets_begin(); a != web_assets_end(); ++a) {
    EXPECT_EQ(std::string(a->body).find("http://"), std::string::npos) << a->path;
    EXPECT_EQ(std::string(a->body).find("https://"), std::string::npos) << a->path;
  }
}

}  // namespace
}  // namespace trm::serve
