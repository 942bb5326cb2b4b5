// The hub's web UI (src/passerelle/federation/web/), built into the binary: its pages, script and
// styles, served by `hub serve` from its own origin.
#ifndef PASSERELLE_FEDERATION_WEB_ASSETS_H_
#define PASSERELLE_FEDERATION_WEB_ASSETS_H_

#include <string_view>

namespace passerelle::federation {

struct WebAsset {
  std::string_view path;  // "/", "/ui/app.js", "/ui/style.css"
  std::string_view content_type;
  std::string_view body;
};

// The asset served at `path`; nullptr when there is none.
const WebAsset* FindWebAsset(std::string_view path);

}  // namespace passerelle::federation

#endif  // PASSERELLE_FEDERATION_WEB_ASSETS_H_
