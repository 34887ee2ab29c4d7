// Looks up the web page's embedded files (include/trm/serve/web_assets.h); the bytes are in the
// .cpp that cmake/embed_web_assets.cmake generates from src/serve/web/.
#include "trm/serve/web_assets.h"

namespace trm::serve {

namespace detail {
extern const WebAsset kWebAssets[];
extern const int kWebAssetCount;
}  // namespace detail

const WebAsset* web_assets_begin() { return detail::kWebAssets; }
const WebAsset* web_assets_end() { return detail::kWebAssets + detail::kWebAssetCount; }

const WebAsset* find_web_asset(std::string_view path) {
  if (path == "/" || path.empty()) path = "/index.html";
  for (const WebAsset* a = web_assets_begin(); a != web_assets_end(); ++a)
    if (a->path == path) return a;
  return nullptr;
}

}  // namespace trm::serve
