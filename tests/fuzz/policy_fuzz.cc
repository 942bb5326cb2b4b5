// Fuzz target: site policy files. A parsed policy must print to TOML that parses again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "passerelle/privacy/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace passerelle::privacy;
  auto p = ParsePolicy(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  if (!p.ok()) return 0;
  if (!ParsePolicy(PolicyToToml(*p), "again").ok()) std::abort();
  return 0;
}
