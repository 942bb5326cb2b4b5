// Fuzz target: dictionary files. A parsed dictionary must print to TOML that parses again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "passerelle/data/dictionary.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace passerelle::data;
  auto d = ParseDictionary(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  if (!d.ok()) return 0;
  if (!ParseDictionary(DictionaryToToml(*d), "again").ok()) std::abort();
  return 0;
}
