// Fuzz target: a task as a node runs it (the hub signs it, but a node trusts no text): the local
// step of any analysis on a real table under the default policy. Whatever the task: no crash, no
// hang, no leak; an answer or a clear refusal.
#include <cstddef>
#include <cstdint>
#include <string>

#include "passerelle/analysis/local_step.h"
#include "passerelle/data/csv_table.h"
#include "passerelle/privacy/policy.h"

namespace {

const passerelle::data::Table& Site() {
  static const passerelle::data::Table table =
      passerelle::data::ReadCsvTable(
          {PASSERELLE_SOURCE_DIR "/tests/reference/data/colon_death_site1.csv"}, {})
          .value();
  return table;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const passerelle::privacy::Policy policy = passerelle::privacy::DefaultPolicy("site1");
  const std::string task(reinterpret_cast<const char*>(data), size);
  (void)passerelle::analysis::RunLocalStep(task, Site(), policy);
  return 0;
}
