// Fuzz target: protocol and study files, as researchers submit them to the hub and the hub hands
// them to every node. Whatever the input: no crash; a protocol that parses has no changes from
// itself, and any text asked whether it is one of its analyses gets an answer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "passerelle/federation/study.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace passerelle::federation;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ParseStudy(text, "study");
  auto p = ParseProtocol(text, "protocol");
  if (!p.ok()) return 0;
  if (!ProtocolChanges(*p, *p).empty()) std::abort();
  (void)ProtocolAnalysisOf(*p, std::string(text));
  for (const StudyAnalysis& a : p->study.analyses) (void)AnalysisJson(a);
  return 0;
}
