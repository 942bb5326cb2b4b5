// Fuzz target: the Excel reader on arbitrary bytes. An input that starts as a ZIP archive does
// ("PK") is read as a workbook. Any other is split at its NUL bytes into a sheet's XML, its
// shared strings' and its styles', stored in a workbook of that one sheet: so the fuzzer reaches
// the XML behind the archive without forging deflate streams and CRCs. Any input must end in
// records or a Status, never a crash, within the limits (XlsxLimits).
#include <cstddef>
#include <cstdint>
#include <string>

#include "passerelle/data/xlsx.h"
#include "passerelle/data/zip_test_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace passerelle::data;
  std::string input(reinterpret_cast<const char*>(data), size);
  std::string workbook;
  if (input.starts_with("PK")) {
    workbook = std::move(input);
  } else {
    std::string parts[3];
    size_t from = 0;
    for (int i = 0; i < 3 && from <= input.size(); ++i) {
      const size_t nul = input.find('\0', from);
      parts[i] = input.substr(from, nul == std::string::npos ? std::string::npos : nul - from);
      from = nul == std::string::npos ? input.size() + 1 : nul + 1;
    }
    workbook = testing::Workbook(parts[0], parts[1], parts[2]);
  }
  CellFormat french;
  french.decimal_comma = true;
  for (const CellFormat& cells : {CellFormat(), french}) {
    auto reader = OpenXlsxBytes(workbook, "fuzz.xlsx", {}, cells);
    if (!reader.ok()) return 0;
    Record record;
    for (int i = 0; i < 100000; ++i) {
      auto more = (*reader)->Next(&record);
      if (!more.ok() || !*more) break;
      for (size_t f = 0; f < record.size(); ++f) (void)(*reader)->Where(record.line(f), f + 1);
    }
    (void)(*reader)->ChecksumHex();
  }
  return 0;
}
