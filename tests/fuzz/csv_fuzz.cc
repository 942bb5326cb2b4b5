// Fuzz target: the CSV reader and the row validator on arbitrary bytes, against the GU
// dictionary, read as UTF-8 or through one of the encodings (chosen by the input's length, so
// that every byte stays the file's). Any input must end in rows or a Status, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "passerelle/data/csv.h"
#include "passerelle/data/validator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace passerelle::data;
  static const Dictionary dictionary =
      ParseDictionary(*BuiltinDictionaryText("gu_cohort.v1"), "gu").value();
  std::string input(reinterpret_cast<const char*>(data), size);
  static const char* const kEncodings[] = {"", "", "gb18030", "gbk", "latin1"};
  CsvOptions options;
  options.encoding = kEncodings[size % 5];
  auto reader = CsvReader::FromString(std::move(input), "fuzz.csv", options);
  if (!reader.ok()) return 0;
  ProblemList problems;
  auto validator =
      RowValidator::Make(dictionary, (*reader)->header(), {}, IndexDate::kDiagnosis, &problems);
  if (!validator.ok()) return 0;
  Record record;
  std::vector<Value> row;
  for (int i = 0; i < 10000; ++i) {
    auto more = (*reader)->Next(&record);
    if (!more.ok() || !*more) break;
    (void)(*validator)->Check(record, &row, &problems);
  }
  (void)problems.Format("fuzz.csv", "");
  return 0;
}
