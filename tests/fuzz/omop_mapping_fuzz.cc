// Fuzz target: OMOP mapping files (docs/omop.md), as a mapping of their own and as a site's
// extension of the built-in omop_gu.v1. An extension never loses what the built-in one holds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "passerelle/data/omop.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace passerelle::data;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  OmopMapping own;
  (void)ParseOmopMapping(text, "fuzz", &own);
  auto builtin = LoadOmopMapping("");
  if (!builtin.ok()) std::abort();
  const size_t organs = builtin->organs.size();
  const size_t treatments = builtin->treatments.size();
  const size_t pathology = builtin->pathology.size();
  const size_t events = builtin->events.size();
  (void)ParseOmopMapping(text, "fuzz", &*builtin);
  if (builtin->organs.size() < organs || builtin->treatments.size() < treatments ||
      builtin->pathology.size() < pathology || builtin->events.size() < events) {
    std::abort();
  }
  return 0;
}
