// Fuzz target: the statistics-file reader (ReadStat) on arbitrary bytes, read as each kind of
// file in turn (SPSS data and portable files, Stata, SAS data sets and transport files): each
// parser refuses what is not its kind at its first bytes. Any input must end in records or a
// Status, never a crash or a hang, within the limits (StatisticsLimits).
#include <cstddef>
#include <cstdint>
#include <string>

#include "passerelle/data/statistics_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace passerelle::data;
  const std::string input(reinterpret_cast<const char*>(data), size);
  for (const char* label : {"fuzz.sav", "fuzz.por", "fuzz.dta", "fuzz.sas7bdat", "fuzz.xpt"}) {
    auto reader = OpenStatisticsBytes(input, label, {}, {});
    if (!reader.ok()) continue;
    for (size_t c = 0; c < (*reader)->header().size(); ++c) (void)(*reader)->DeclaredLevels(c);
    Record record;
    for (int i = 0; i < 100000; ++i) {
      auto more = (*reader)->Next(&record);
      if (!more.ok() || !*more) break;
    }
    (void)(*reader)->ChecksumHex();
  }
  return 0;
}
