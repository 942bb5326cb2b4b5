#include "passerelle/data/statistics_file.h"

#include <readstat.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "passerelle/base/date.h"
#include "passerelle/base/sha256.h"
#include "passerelle/base/text.h"
#include "passerelle/data/csv.h"
#include "passerelle/data/value.h"

namespace passerelle::data {
namespace {

enum class Package { kSpss, kStata, kSas };

struct FileKind {
  std::string_view extension;
  Package package;
  readstat_error_t (*parse)(readstat_parser_t*, const char*, void*);
};

constexpr FileKind kKinds[] = {
    {".sav", Package::kSpss, &readstat_parse_sav},
    {".zsav", Package::kSpss, &readstat_parse_sav},
    {".por", Package::kSpss, &readstat_parse_por},
    {".dta", Package::kStata, &readstat_parse_dta},
    {".sas7bdat", Package::kSas, &readstat_parse_sas7bdat},
    {".xpt", Package::kSas, &readstat_parse_xport},
};

std::string_view PackageName(Package package) {
  switch (package) {
    case Package::kSpss:
      return "SPSS";
    case Package::kStata:
      return "Stata";
    case Package::kSas:
      return "SAS";
  }
  return "";
}

// How a numeric variable's display format says its numbers are to be read.
enum class Temporal { kNone, kDays, kSeconds, kMilliseconds };

// Epochs: SPSS counts seconds from 1582-10-14 (the Gregorian calendar's first day); Stata and
// SAS count days (dates) or seconds and milliseconds (date-times) from 1960-01-01.
int32_t EpochDays(Package package) {
  return package == Package::kSpss ? DaysFromCivil(1582, 10, 14) : DaysFromCivil(1960, 1, 1);
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// The format's name without its width and decimals: "DATE11" and "DATE9." are DATE.
std::string FormatName(std::string_view format) {
  std::string name = Upper(format);
  while (!name.empty() &&
         (std::isdigit(static_cast<unsigned char>(name.back())) || name.back() == '.')) {
    name.pop_back();
  }
  return name;
}

// Reads the display formats of the three packages' manuals. Times of day (SPSS TIME, SAS TIME,
// Stata %tc with only hours) are not dates and stay numbers; so do Stata's weekly, monthly,
// quarterly and yearly dates, which count other units than days.
Temporal TemporalOf(Package package, std::string_view format) {
  if (format.empty()) return Temporal::kNone;
  switch (package) {
    case Package::kSpss: {
      // Every SPSS date is a number of seconds; DATETIME and YMDHMS add the time of day, and
      // QYR, MOYR and WKYR show a part of the date only.
      const std::string name = FormatName(format);
      if (name == "DATE" || name == "ADATE" || name == "EDATE" || name == "SDATE" ||
          name == "JDATE" || name == "QYR" || name == "MOYR" || name == "WKYR" ||
          name == "DATETIME" || name == "YMDHMS") {
        return Temporal::kSeconds;
      }
      return Temporal::kNone;
    }
    case Package::kStata: {
      // "%-td" is "%td" shown left-aligned.
      std::string left_aligned;
      std::string_view f = format;
      if (f.starts_with("%-")) f = left_aligned = "%" + std::string(f.substr(2));
      if (f.starts_with("%td") || (f.starts_with("%d") && !f.starts_with("%dx"))) {
        return Temporal::kDays;
      }
      if (f.starts_with("%tc") || f.starts_with("%tC")) {
        // A format showing only the time of day ("%tcHH:MM", "%tchh:mm:ss am") is a time, not a
        // date. Its date codes: century (C, c), year (Y, y), day of the year (J, j), month (N,
        // n, and the names Mon, mon, Month, month) and day (D, d, and the day's names); MM and
        // mm are minutes.
        const std::string_view rest = f.substr(3);
        const bool only_time = !rest.empty() &&
                               rest.find_first_of("CcYyJjNnDd") == std::string_view::npos &&
                               rest.find("Mon") == std::string_view::npos &&
                               rest.find("mon") == std::string_view::npos;
        return only_time ? Temporal::kNone : Temporal::kMilliseconds;
      }
      return Temporal::kNone;
    }
    case Package::kSas: {
      // SAS's date formats write a number of days, its datetime formats a number of seconds,
      // even those that show a part only (DAY, MONYY, YEAR; DTDATE, DTYEAR, E8601DN). A format's
      // name is matched whole, with the separator letter some take (MMDDYYS, YYMMDDN): a
      // custodian's own format ("YEARGRP") is not a date. TOD and the TIME formats show a time.
      const std::string name = FormatName(format);
      auto named = [&name](std::initializer_list<std::string_view> names, bool separated) {
        return std::any_of(names.begin(), names.end(), [&](std::string_view n) {
          return name == n || (separated && name.size() == n.size() + 1 && name.starts_with(n) &&
                               std::string_view("BCDNPS").find(name.back()) != std::string::npos);
        });
      };
      if (named({"DATETIME", "DATEAMPM", "DTDATE",  "DTMONYY",  "DTWKDATX", "DTYEAR",  "DTYYQC",
                 "E8601DT",  "E8601DN",  "E8601DX", "E8601DZ",  "E8601LX",  "B8601DT", "B8601DN",
                 "B8601DX",  "B8601DZ",  "B8601LX", "IS8601DT", "IS8601DN", "MDYAMPM", "EURDFDT"},
                false) ||
          name.starts_with("NLDATM")) {
        return Temporal::kSeconds;
      }
      if (named({"DDMMYY", "MMDDYY", "YYMMDD", "MMYY", "YYMM", "YYQ", "YYQR"}, true) ||
          named({"DATE",   "DAY",     "DOWNAME",  "JULDAY",   "JULIAN",   "MONNAME", "MONTH",
                 "MONYY",  "QTR",     "QTRR",     "WEEKDATE", "WEEKDATX", "WEEKDAY", "WEEKU",
                 "WEEKV",  "WEEKW",   "WORDDATE", "WORDDATX", "YEAR",     "YYMON",   "NENGO",
                 "MINGUO", "E8601DA", "B8601DA",  "IS8601DA"},
                false) ||
          name.starts_with("NLDATE") || name.starts_with("EURDF")) {
        return Temporal::kDays;
      }
      return Temporal::kNone;
    }
  }
  return Temporal::kNone;
}

double NumericValue(readstat_value_t value) {
  switch (readstat_value_type(value)) {
    case READSTAT_TYPE_INT8:
      return readstat_int8_value(value);
    case READSTAT_TYPE_INT16:
      return readstat_int16_value(value);
    case READSTAT_TYPE_INT32:
      return readstat_int32_value(value);
    case READSTAT_TYPE_FLOAT:
      return readstat_float_value(value);
    case READSTAT_TYPE_DOUBLE:
      return readstat_double_value(value);
    default:
      return NAN;
  }
}

// A file's value labels of one name: numeric codes or strings to the levels' text, in the
// file's order.
struct LabelSet {
  std::vector<std::pair<double, std::string>> numeric;
  std::vector<std::pair<std::string, std::string>> strings;
  std::unordered_map<double, size_t> numeric_index;
  std::unordered_map<std::string, size_t> string_index;
};

// How a message on a file's text ends: the advice to give its encoding.
std::string EncodingAdvice() {
  return "give its encoding with --encoding (" + Join(CsvEncodings(), ", ") +
         "; gb18030 or gbk for Chinese Windows)";
}

// The rule `text` breaks when it is not UTF-8, or "".
std::string NotUtf8(std::string_view text) {
  const auto bad = FindInvalidUtf8(text);
  if (!bad) return "";
  return "text that is not valid UTF-8 (byte " + std::to_string(*bad + 1) + "); " +
         EncodingAdvice();
}

struct Column {
  std::string name;
  bool is_string = false;
  Temporal temporal = Temporal::kNone;
  std::string labels;  // the name of its label set, or ""
  // SPSS user-missing codes: single values and ranges, as [low, high].
  std::vector<std::pair<double, double>> missing_ranges;
  std::vector<std::string> missing_strings;  // a text variable's user-missing values
};

// A batch of records handed from the parsing thread to the caller: kBatchRows, or fewer when
// they hold kBatchBytes (a field costs its text and 12 bytes of places).
using Batch = std::vector<Record>;
constexpr size_t kBatchRows = 1024;
constexpr size_t kBatchBytes = size_t{4} << 20;
constexpr size_t kBatchesAhead = 4;

// A file held in memory, read through ReadStat's I/O handlers.
struct MemoryFile {
  const std::string* bytes = nullptr;
  int64_t at = 0;
};

void UseMemoryFile(readstat_parser_t* parser, MemoryFile* file) {
  readstat_set_open_handler(parser, [](const char*, void* io) -> int {
    static_cast<MemoryFile*>(io)->at = 0;
    return 0;
  });
  readstat_set_close_handler(parser, [](void*) -> int { return 0; });
  readstat_set_seek_handler(
      parser, [](readstat_off_t offset, readstat_io_flags_t whence, void* io) -> readstat_off_t {
        auto* f = static_cast<MemoryFile*>(io);
        const auto size = static_cast<int64_t>(f->bytes->size());
        int64_t base = 0;
        if (whence == READSTAT_SEEK_CUR) base = f->at;
        if (whence == READSTAT_SEEK_END) base = size;
        if (offset < -base || offset > size - base) return -1;
        f->at = base + offset;
        return f->at;
      });
  readstat_set_read_handler(parser, [](void* buffer, size_t n, void* io) -> ssize_t {
    auto* f = static_cast<MemoryFile*>(io);
    const size_t left = f->bytes->size() - static_cast<size_t>(f->at);
    const size_t count = std::min(n, left);
    if (count > 0) std::memcpy(buffer, f->bytes->data() + f->at, count);
    f->at += static_cast<int64_t>(count);
    return static_cast<ssize_t>(count);
  });
  readstat_set_update_handler(
      parser, [](long, readstat_progress_handler, void*, void*) { return READSTAT_OK; });
  readstat_set_io_ctx(parser, file);
}

class StatisticsReader final : public RecordReader {
 public:
  // Reads the file at `path`, or `bytes` when `in_memory`.
  StatisticsReader(std::string path, std::string bytes, bool in_memory, FileKind kind,
                   std::string iconv_encoding, CellFormat cells)
      : path_(std::move(path)),
        bytes_(std::move(bytes)),
        in_memory_(in_memory),
        kind_(kind),
        iconv_encoding_(std::move(iconv_encoding)),
        cells_(std::move(cells)) {}
  ~StatisticsReader() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cancelled_ = true;
    }
    changed_.notify_all();
    if (parser_thread_.joinable()) parser_thread_.join();
  }

  const std::vector<std::string>& header() const override { return header_; }
  const std::string& label() const override { return path_; }
  std::string ChecksumHex() override {
    return in_memory_ ? Sha256Hex(bytes_) : FileSha256Hex(path_);
  }
  std::string Where(size_t line, size_t /*column*/) const override {
    return line ? "row " + std::to_string(line) : "";
  }
  size_t header_line() const override { return 0; }
  std::vector<std::string> DeclaredLevels(size_t column) const override;

  // The first pass: variables and value labels, no rows. Then starts the parsing thread.
  Status Start();
  Result<bool> Next(Record* record) override;

 private:
  // A parser reading the file (through `memory` when the file is in memory).
  // A parser of the file, in the encoding given with --encoding unless `as_said`.
  readstat_parser_t* NewParser(MemoryFile* memory, bool as_said = false) const;
  // The encoding the file says it is in, as ReadStat reads it without --encoding ("" when it
  // says none, or cannot be read so).
  std::string SaidEncoding() const;
  std::string Failure(readstat_error_t error) const;
  // Runs the kind's parser over the file.
  readstat_error_t RunParser(readstat_parser_t* parser);
  // "the file holds R rows of V variables": more than kCellsPerByte for each of its bytes?
  bool TooManyCells(uint64_t rows, uint64_t variables) const;
  static int OnMetadata(readstat_metadata_t* metadata, void* ctx);
  static int OnDataMetadata(readstat_metadata_t* metadata, void* ctx);
  // Refuses a file whose format's framing shows it cut short.
  Status CheckWhole() const;
  // The parsing thread's body and its ReadStat handlers.
  void Parse();
  static int OnVariable(int index, readstat_variable_t* variable, const char* labels, void* ctx);
  static int OnValueLabel(const char* labels, readstat_value_t value, const char* label, void* ctx);
  static int OnValue(int row, readstat_variable_t* variable, readstat_value_t value, void* ctx);
  static void OnError(const char* message, void* ctx);
  // The text of one cell; false (with the rule in *rule) for a string that is not UTF-8.
  bool CellText(size_t column, readstat_variable_t* variable, readstat_value_t value,
                std::string* text, std::string* rule) const;
  // Hands the batch being filled to the caller, waiting while it is kBatchesAhead behind.
  // False when the reader is being destroyed.
  bool Publish();

  const std::string path_;
  const std::string bytes_;  // the file, when read from memory
  const bool in_memory_;
  uint64_t file_size_ = 0;
  const FileKind kind_;
  const std::string iconv_encoding_;
  const CellFormat cells_;
  std::vector<Column> columns_;
  std::vector<std::string> header_;
  std::unordered_map<std::string, LabelSet> label_sets_;
  size_t labels_ = 0;       // value labels in all sets
  int format_version_ = 0;  // the file's, as ReadStat reads it (Stata's 114 to 119)
  // The file does not say its encoding (or names ReadStat's default for one that does not),
  // and none was given: ReadStat reads its text as windows-1252, under which any bytes are
  // text — GBK bytes too, as nonsense. Its text must then be ASCII.
  bool encoding_unsaid_ = false;
  // The rule a text breaks when it is not ASCII in such a file, or empty.
  std::string UnsaidEncoding(std::string_view text) const;
  long declared_rows_ = -1;       // the rows the file says it holds; -1 when it does not say
  Status first_pass_error_;       // a limit the variables or labels go beyond
  std::string readstat_message_;  // the last message of ReadStat's error handler

  // Owned by the parsing thread while it runs.
  Batch filling_;
  size_t filling_bytes_ = 0;
  std::vector<std::string> row_cells_;
  size_t row_bytes_ = 0;
  long row_ = -1;  // the row whose cells row_cells_ holds, or -1
  Status parse_error_;

  std::thread parser_thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> ready_;  // guarded by mutex_
  bool finished_ = false;    // guarded by mutex_: no more batches will come
  bool cancelled_ = false;   // guarded by mutex_
  Status final_status_;      // guarded by mutex_: how the parse ended
  Batch reading_;            // the caller's batch
  size_t next_in_batch_ = 0;
};

readstat_parser_t* StatisticsReader::NewParser(MemoryFile* memory, bool as_said) const {
  readstat_parser_t* parser = readstat_parser_init();
  if (!parser) return nullptr;
  if (in_memory_) {
    memory->bytes = &bytes_;
    UseMemoryFile(parser, memory);
  }
  readstat_set_error_handler(parser, &StatisticsReader::OnError);
  if (!iconv_encoding_.empty() && !as_said) {
    readstat_set_file_character_encoding(parser, iconv_encoding_.c_str());
  }
  return parser;
}

std::string StatisticsReader::SaidEncoding() const {
  struct Said {
    Package package;
    std::string encoding;
  } said{kind_.package, ""};
  MemoryFile memory;
  readstat_parser_t* parser = NewParser(&memory, true);
  if (!parser) return "";
  // The context is `said`, not the reader: ReadStat's messages are not needed here.
  readstat_set_error_handler(parser, [](const char*, void*) {});
  readstat_set_metadata_handler(parser, [](readstat_metadata_t* metadata, void* ctx) -> int {
    auto* out = static_cast<Said*>(ctx);
    const char* encoding = readstat_get_file_encoding(metadata);
    // Stata's files are UTF-8 from format 118 on, and say nothing before.
    if (out->package == Package::kStata) {
      out->encoding = readstat_get_file_format_version(metadata) >= 118 ? "UTF-8" : "";
    } else if (encoding) {
      out->encoding = encoding;
    }
    return READSTAT_HANDLER_ABORT;  // nothing more is needed
  });
  readstat_set_row_limit(parser, 1);
  (void)kind_.parse(parser, in_memory_ ? "memory" : path_.c_str(), &said);
  readstat_parser_free(parser);
  return said.encoding;
}

std::string StatisticsReader::Failure(readstat_error_t error) const {
  std::string why = readstat_error_message(error);
  if (!readstat_message_.empty()) why += " (" + readstat_message_ + ")";
  // The encoding the file names cannot be converted from, or is not its text's.
  if (error == READSTAT_ERROR_UNSUPPORTED_CHARSET || error == READSTAT_ERROR_CONVERT ||
      error == READSTAT_ERROR_CONVERT_BAD_STRING || error == READSTAT_ERROR_CONVERT_SHORT_STRING ||
      error == READSTAT_ERROR_CONVERT_LONG_STRING) {
    why += "; " + EncodingAdvice();
  }
  return path_ + ": cannot read it as a " + std::string(PackageName(kind_.package)) +
         " file: " + why;
}

readstat_error_t StatisticsReader::RunParser(readstat_parser_t* parser) {
  return kind_.parse(parser, in_memory_ ? "memory" : path_.c_str(), this);
}

bool StatisticsReader::TooManyCells(uint64_t rows, uint64_t variables) const {
  return rows * variables / StatisticsLimits::kCellsPerByte > file_size_;
}

// The first pass (which reads one row at most, and is told so as its row count): the variables.
int StatisticsReader::OnMetadata(readstat_metadata_t* metadata, void* ctx) {
  auto* self = static_cast<StatisticsReader*>(ctx);
  self->format_version_ = readstat_get_file_format_version(metadata);
  const char* encoding = readstat_get_file_encoding(metadata);
  // Stata's files say UTF-8 from format 118 on (Stata 14), and nothing before.
  self->encoding_unsaid_ =
      self->iconv_encoding_.empty() &&
      (self->kind_.package == Package::kStata
           ? self->format_version_ < 118
           : !encoding || !*encoding || AsciiLower(encoding) == "windows-1252");
  const int variables = readstat_get_var_count(metadata);
  if (variables > static_cast<int>(StatisticsLimits::kVariables)) {
    self->first_pass_error_ = InvalidArgument(
        self->path_ + ": the file declares " + GroupedCount(static_cast<uint64_t>(variables)) +
        " variables, over the limit of " + GroupedCount(StatisticsLimits::kVariables));
    return READSTAT_HANDLER_ABORT;
  }
  if (variables > 0 && static_cast<uint64_t>(variables) > self->file_size_) {
    self->first_pass_error_ = InvalidArgument(
        self->path_ + ": the file declares " + GroupedCount(static_cast<uint64_t>(variables)) +
        " variables, more than its " + GroupedCount(self->file_size_) +
        " bytes can hold: it is damaged");
    return READSTAT_HANDLER_ABORT;
  }
  return READSTAT_HANDLER_OK;
}

// The second pass: the rows the file says it holds.
int StatisticsReader::OnDataMetadata(readstat_metadata_t* metadata, void* ctx) {
  auto* self = static_cast<StatisticsReader*>(ctx);
  const int rows = readstat_get_row_count(metadata);
  const int variables = readstat_get_var_count(metadata);
  self->declared_rows_ = rows;
  if (rows > 0 && variables > 0 &&
      self->TooManyCells(static_cast<uint64_t>(rows), static_cast<uint64_t>(variables))) {
    self->parse_error_ = InvalidArgument(
        self->path_ + ": the file declares " + GroupedCount(static_cast<uint64_t>(rows)) +
        " rows of " + GroupedCount(static_cast<uint64_t>(variables)) +
        " variables, more than its " + GroupedCount(self->file_size_) +
        " bytes can hold: it is damaged");
    return READSTAT_HANDLER_ABORT;
  }
  return READSTAT_HANDLER_OK;
}

Status StatisticsReader::CheckWhole() const {
  // What the formats' own framing says of a file cut short, where ReadStat reads on without a
  // word: SAS transport files are 80-byte records; Stata's files since 13 end with their tag.
  std::string head, tail;
  if (in_memory_) {
    head = bytes_.substr(0, 16);
    tail = bytes_.substr(bytes_.size() - std::min<size_t>(bytes_.size(), 16));
  } else {
    std::ifstream in(path_, std::ios::binary);
    head.resize(16);
    in.read(head.data(), 16);
    head.resize(static_cast<size_t>(in.gcount()));
    in.clear();
    in.seekg(-static_cast<std::streamoff>(std::min<uint64_t>(file_size_, 16)), std::ios::end);
    tail.resize(16);
    in.read(tail.data(), 16);
    tail.resize(static_cast<size_t>(in.gcount()));
  }
  if (kind_.extension == ".xpt" && file_size_ % 80 != 0) {
    return InvalidArgument(path_ + ": the file is not a whole number of 80-byte records (it has " +
                           GroupedCount(file_size_) + " bytes): it is truncated or damaged");
  }
  if (kind_.extension == ".dta" && head.starts_with("<stata_dta>") &&
      !tail.ends_with("</stata_dta>")) {
    return InvalidArgument(path_ + ": the file does not end with </stata_dta>: it is truncated");
  }
  return Status::Ok();
}

void StatisticsReader::OnError(const char* message, void* ctx) {
  auto* self = static_cast<StatisticsReader*>(ctx);
  std::string text = message ? message : "";
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  self->readstat_message_ = std::move(text);
}

int StatisticsReader::OnVariable(int index, readstat_variable_t* variable, const char* labels,
                                 void* ctx) {
  auto* self = static_cast<StatisticsReader*>(ctx);
  Column column;
  // A damaged file can leave a variable without a name: refused below, as any invalid name.
  const char* name = readstat_variable_get_name(variable);
  column.name = name ? name : "";
  column.is_string = readstat_variable_get_type_class(variable) == READSTAT_TYPE_CLASS_STRING;
  const char* format = readstat_variable_get_format(variable);
  if (!column.is_string) {
    column.temporal = TemporalOf(self->kind_.package, format ? format : "");
  }
  if (index >= static_cast<int>(StatisticsLimits::kVariables)) {
    self->first_pass_error_ =
        InvalidArgument(self->path_ + ": the file has more than " +
                        GroupedCount(StatisticsLimits::kVariables) + " variables, the limit");
    return READSTAT_HANDLER_ABORT;
  }
  if (labels) {
    // ReadStat hands a Stata file's label-set name in place, in its fixed-width entry, without
    // the terminating NUL a damaged file leaves out: read no further than the entry.
    size_t width = std::string_view::npos;
    if (self->kind_.package == Package::kStata) {
      width = self->format_version_ < 110 ? 9 : self->format_version_ < 118 ? 33 : 129;
    }
    column.labels.assign(labels, strnlen(labels, width));
  }
  for (int i = 0; i < readstat_variable_get_missing_ranges_count(variable); ++i) {
    if (column.is_string) {
      const char* missing =
          readstat_string_value(readstat_variable_get_missing_range_lo(variable, i));
      if (missing) column.missing_strings.emplace_back(TrimSpaces(missing));
      continue;
    }
    const double low = NumericValue(readstat_variable_get_missing_range_lo(variable, i));
    const double high = NumericValue(readstat_variable_get_missing_range_hi(variable, i));
    if (!std::isnan(low) && !std::isnan(high)) column.missing_ranges.emplace_back(low, high);
  }
  if (index != static_cast<int>(self->columns_.size())) return READSTAT_HANDLER_ABORT;
  self->columns_.push_back(std::move(column));
  return READSTAT_HANDLER_OK;
}

std::string StatisticsReader::UnsaidEncoding(std::string_view text) const {
  if (!encoding_unsaid_) return "";
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      return "text that is not ASCII in a file that does not say its encoding, or says "
             "windows-1252, which is also what is guessed for one that does not (read so, Chinese "
             "text would be misread): " +
             EncodingAdvice();
    }
  }
  return "";
}

int StatisticsReader::OnValueLabel(const char* labels, readstat_value_t value, const char* label,
                                   void* ctx) {
  auto* self = static_cast<StatisticsReader*>(ctx);
  if (!labels || !label) return READSTAT_HANDLER_OK;
  // A label of a tagged missing value (.a "not asked") names a kind of missing: not a level.
  if (readstat_value_is_tagged_missing(value) || readstat_value_is_system_missing(value)) {
    return READSTAT_HANDLER_OK;
  }
  LabelSet& set = self->label_sets_[labels];
  const std::string where = self->path_ + ": value labels " + QuoteCell(labels) + ": ";
  if (set.numeric.size() + set.strings.size() >= StatisticsLimits::kLabelsPerSet) {
    self->first_pass_error_ =
        InvalidArgument(where + "more than " + GroupedCount(StatisticsLimits::kLabelsPerSet) +
                        " labels, the limit");
    return READSTAT_HANDLER_ABORT;
  }
  if (++self->labels_ > StatisticsLimits::kLabels) {
    self->first_pass_error_ =
        InvalidArgument(self->path_ + ": more than " + GroupedCount(StatisticsLimits::kLabels) +
                        " value labels in all, the limit");
    return READSTAT_HANDLER_ABORT;
  }
  if (Utf8Length(label) > kMaxCellCharacters) {
    self->first_pass_error_ =
        InvalidArgument(where + "a label of more than " + GroupedCount(kMaxCellCharacters) +
                        " characters, the limit of a cell");
    return READSTAT_HANDLER_ABORT;
  }
  const char* string_key = readstat_value_type_class(value) == READSTAT_TYPE_CLASS_STRING
                               ? readstat_string_value(value)
                               : "";
  // Whether the file says its encoding is known once the pass is over (Start checks them then).
  for (const std::string_view text :
       {std::string_view(label), std::string_view(string_key ? string_key : "")}) {
    if (std::string rule = NotUtf8(text); !rule.empty()) {
      self->first_pass_error_ = InvalidArgument(where + rule);
      return READSTAT_HANDLER_ABORT;
    }
  }
  if (readstat_value_type_class(value) == READSTAT_TYPE_CLASS_STRING) {
    const char* key = string_key;
    if (!key) return READSTAT_HANDLER_OK;
    if (set.string_index.emplace(key, set.strings.size()).second) {
      set.strings.emplace_back(key, label);
    }
  } else {
    const double key = NumericValue(value);
    if (std::isnan(key)) return READSTAT_HANDLER_OK;
    if (set.numeric_index.emplace(key, set.numeric.size()).second) {
      set.numeric.emplace_back(key, label);
    }
  }
  return READSTAT_HANDLER_OK;
}

Status StatisticsReader::Start() {
  if (in_memory_) {
    file_size_ = bytes_.size();
  } else {
    std::error_code ec;
    file_size_ = std::filesystem::file_size(path_, ec);
    if (ec) file_size_ = UINT64_MAX;  // ReadStat says why it cannot open it
  }
  // --encoding is for a file that does not say its own, or names a code page it may not be
  // in. Read as another encoding, a file that says UTF-8 (as every Stata file from Stata 14 on
  // does) would have its text stored as other characters.
  if (!iconv_encoding_.empty() && iconv_encoding_ != "UTF-8") {
    const std::string said = AsciiLower(SaidEncoding());
    if (said == "utf-8" || said == "utf8") {
      return InvalidArgument(path_ + ": the file says its text is UTF-8; --encoding is for a " +
                             "file that does not say its encoding: leave it out");
    }
  }
  MemoryFile memory;
  readstat_parser_t* parser = NewParser(&memory);
  if (!parser) return Internal(path_ + ": ReadStat could not start");
  readstat_set_metadata_handler(parser, &StatisticsReader::OnMetadata);
  readstat_set_variable_handler(parser, &StatisticsReader::OnVariable);
  readstat_set_value_label_handler(parser, &StatisticsReader::OnValueLabel);
  // No value handler and one row: the variables and labels only, however long the file.
  readstat_set_row_limit(parser, 1);
  const readstat_error_t error = RunParser(parser);
  readstat_parser_free(parser);
  RETURN_IF_ERROR(first_pass_error_);
  if (error == READSTAT_ERROR_OPEN) return NotFound(path_ + ": cannot open the file for reading");
  if (error != READSTAT_OK) return InvalidArgument(Failure(error));
  RETURN_IF_ERROR(CheckWhole());
  for (const auto& [name, set] : label_sets_) {
    std::string rule;
    for (const auto& [key, label] : set.strings) {
      if (rule.empty()) rule = UnsaidEncoding(key + label);
    }
    for (const auto& [key, label] : set.numeric) {
      if (rule.empty()) rule = UnsaidEncoding(label);
    }
    if (!rule.empty())
      return InvalidArgument(path_ + ": value labels " + QuoteCell(name) + ": " + rule);
  }
  if (columns_.empty()) return InvalidArgument(path_ + ": the file has no variables");
  for (size_t c = 0; c < columns_.size(); ++c) {
    const std::string problem = ColumnNameProblem(columns_[c].name, header_);
    if (!problem.empty()) {
      return InvalidArgument(path_ + ": variable " + std::to_string(c + 1) + ": " + problem);
    }
    header_.push_back(columns_[c].name);
  }
  readstat_message_.clear();
  parser_thread_ = std::thread([this] { Parse(); });
  return Status::Ok();
}

std::vector<std::string> StatisticsReader::DeclaredLevels(size_t column) const {
  if (column >= columns_.size()) return {};
  const Column& c = columns_[column];
  const auto set = label_sets_.find(c.labels);
  if (c.labels.empty() || set == label_sets_.end() || c.temporal != Temporal::kNone) return {};
  std::vector<std::string> levels;
  // A code labelled "NA", or with an empty label, reads as a missing value: not a level.
  auto add = [&levels](const std::string& level) {
    if (IsMissingCell(level)) return;
    if (std::find(levels.begin(), levels.end(), level) == levels.end()) levels.push_back(level);
  };
  if (c.is_string) {
    for (const auto& [key, level] : set->second.strings) {
      const std::string_view code = TrimSpaces(key);
      if (std::find(c.missing_strings.begin(), c.missing_strings.end(), code) ==
          c.missing_strings.end()) {
        add(level);
      }
    }
    return levels;
  }
  for (const auto& [code, level] : set->second.numeric) {
    // The label of a user-missing code ("999 not measured") names a missing value, not a level.
    // (A copy: clang 14 captures no structured binding.)
    const double key = code;
    const bool missing =
        std::any_of(c.missing_ranges.begin(), c.missing_ranges.end(),
                    [key](const auto& r) { return key >= r.first && key <= r.second; });
    if (!missing) add(level);
  }
  return levels;
}

bool StatisticsReader::CellText(size_t column, readstat_variable_t* variable,
                                readstat_value_t value, std::string* text,
                                std::string* rule) const {
  text->clear();
  if (readstat_value_is_missing(value, variable)) return true;
  const Column& c = columns_[column];
  const LabelSet* labels = nullptr;
  if (!c.labels.empty()) {
    const auto it = label_sets_.find(c.labels);
    if (it != label_sets_.end()) labels = &it->second;
  }
  if (c.is_string) {
    const char* s = readstat_string_value(value);
    *text = s ? s : "";
    if (Utf8Length(*text) > kMaxCellCharacters) {
      *rule = "a text of more than " + GroupedCount(kMaxCellCharacters) +
              " characters, the limit of a cell";
      return false;
    }
    *rule = NotUtf8(*text);
    if (rule->empty()) *rule = UnsaidEncoding(*text);
    if (!rule->empty()) return false;
    if (labels) {
      const auto it = labels->string_index.find(*text);
      if (it != labels->string_index.end()) *text = labels->strings[it->second].second;
    }
    return true;
  }
  const double x = NumericValue(value);
  if (std::isnan(x)) return true;
  // A date's value labels are left aside: a date is a date (and a category's levels would show
  // the dates that have none).
  if (labels && c.temporal == Temporal::kNone) {
    const auto it = labels->numeric_index.find(x);
    if (it != labels->numeric_index.end()) {
      *text = labels->numeric[it->second].second;
      return true;
    }
  }
  double days = NAN;
  switch (c.temporal) {
    case Temporal::kNone:
      break;
    case Temporal::kDays:
      days = std::floor(x);
      break;
    case Temporal::kSeconds:
      days = std::floor(x / 86400);
      break;
    case Temporal::kMilliseconds:
      days = std::floor(x / 86400000);
      break;
  }
  if (!std::isnan(days)) {
    const double day = EpochDays(kind_.package) + days;
    // Beyond any calendar a dictionary accepts: left as the number, for the validator to refuse.
    if (std::abs(day) < 3e6) {
      *text = cells_.date_format.Format(CivilFromDays(static_cast<int32_t>(day)));
      return true;
    }
  }
  *text = FormatTypedNumber(x, cells_);
  return true;
}

bool StatisticsReader::Publish() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return ready_.size() < kBatchesAhead || cancelled_; });
  if (cancelled_) return false;
  ready_.push_back(std::move(filling_));
  filling_.clear();
  filling_bytes_ = 0;
  lock.unlock();
  changed_.notify_all();
  return true;
}

int StatisticsReader::OnValue(int row, readstat_variable_t* variable, readstat_value_t value,
                              void* ctx) {
  auto* self = static_cast<StatisticsReader*>(ctx);
  const int index = readstat_variable_get_index(variable);
  if (index < 0 || static_cast<size_t>(index) >= self->columns_.size()) {
    return READSTAT_HANDLER_ABORT;
  }
  if (row != self->row_) {
    if (self->row_ >= 0) {
      self->filling_bytes_ += self->row_bytes_ + 12 * self->row_cells_.size();
      Record record;
      for (const std::string& cell : self->row_cells_) {
        record.Add(cell, static_cast<size_t>(self->row_) + 1);
      }
      self->filling_.push_back(std::move(record));
      if ((self->filling_.size() == kBatchRows || self->filling_bytes_ >= kBatchBytes) &&
          !self->Publish()) {
        return READSTAT_HANDLER_ABORT;
      }
    }
    if (row < 0 || self->TooManyCells(static_cast<uint64_t>(row) + 1, self->columns_.size())) {
      self->parse_error_ = InvalidArgument(
          self->path_ + ":row " + std::to_string(row + 1) + ": more rows than the file's " +
          GroupedCount(self->file_size_) + " bytes can hold: it is damaged, or a compression bomb");
      return READSTAT_HANDLER_ABORT;
    }
    self->row_ = row;
    self->row_bytes_ = 0;
    self->row_cells_.assign(self->columns_.size(), std::string());
  }
  std::string rule;
  std::string& cell = self->row_cells_[index];
  self->row_bytes_ -= cell.size();  // a variable given twice
  if (!self->CellText(static_cast<size_t>(index), variable, value, &cell, &rule)) {
    self->parse_error_ = InvalidArgument(self->path_ + ":row " + std::to_string(row + 1) + ": " +
                                         self->columns_[index].name + ": " + rule);
    return READSTAT_HANDLER_ABORT;
  }
  self->row_bytes_ += cell.size();
  if (self->row_bytes_ > kMaxRecordBytes) {
    self->parse_error_ = InvalidArgument(
        self->path_ + ":row " + std::to_string(row + 1) + ": the row holds more than " +
        GroupedCount(kMaxRecordBytes) + " bytes of text, the limit of a record");
    return READSTAT_HANDLER_ABORT;
  }
  return READSTAT_HANDLER_OK;
}

void StatisticsReader::Parse() {
  Status status;
  MemoryFile memory;
  readstat_parser_t* parser = NewParser(&memory);
  if (!parser) {
    status = Internal(path_ + ": ReadStat could not start");
  } else {
    // ReadStat expects a variable handler whenever it hands out values.
    readstat_set_variable_handler(parser, [](int, readstat_variable_t*, const char*, void*) -> int {
      return READSTAT_HANDLER_OK;
    });
    readstat_set_metadata_handler(parser, &StatisticsReader::OnDataMetadata);
    readstat_set_value_handler(parser, &StatisticsReader::OnValue);
    const readstat_error_t error = RunParser(parser);
    readstat_parser_free(parser);
    const long rows = row_ + 1;
    if (!parse_error_.ok()) {
      status = parse_error_;
    } else if (error == READSTAT_ERROR_USER_ABORT) {
      status = Unavailable(path_ + ": reading stopped");
    } else if (error != READSTAT_OK) {
      status = InvalidArgument(Failure(error));
    } else if (declared_rows_ >= 0 && rows < declared_rows_) {
      status = InvalidArgument(path_ + ": the file declares " +
                               GroupedCount(static_cast<uint64_t>(declared_rows_)) +
                               " rows and holds " + GroupedCount(static_cast<uint64_t>(rows)) +
                               ": it is truncated or damaged");
    } else if (row_ >= 0) {
      Record record;
      for (const std::string& cell : row_cells_) record.Add(cell, static_cast<size_t>(row_) + 1);
      filling_.push_back(std::move(record));
    }
  }
  // The rows read before a failure are handed over first: their problems are worth showing.
  if (!filling_.empty() && !Publish()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    final_status_ = status;
    finished_ = true;
  }
  changed_.notify_all();
}

Result<bool> StatisticsReader::Next(Record* record) {
  while (next_in_batch_ >= reading_.size()) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return !ready_.empty() || finished_; });
    if (ready_.empty()) {
      if (!final_status_.ok()) return final_status_;
      return false;
    }
    reading_ = std::move(ready_.front());
    ready_.pop_front();
    next_in_batch_ = 0;
    lock.unlock();
    changed_.notify_all();
  }
  std::swap(*record, reading_[next_in_batch_++]);
  return true;
}

Result<std::unique_ptr<RecordReader>> OpenStatistics(const std::string& path, std::string bytes,
                                                     bool in_memory, const RecordOptions& options,
                                                     const CellFormat& cells) {
  const std::string extension = AsciiLower(std::filesystem::path(path).extension().string());
  const auto kind = std::find_if(std::begin(kKinds), std::end(kKinds),
                                 [&](const FileKind& k) { return k.extension == extension; });
  if (kind == std::end(kKinds)) {
    return InvalidArgument(path + ": not a statistics file's extension");
  }
  if (options.separator != 0) {
    return InvalidArgument(path + ": a separator applies to CSV files, not " +
                           std::string(PackageName(kind->package)) + " files");
  }
  if (!options.sheet.empty()) {
    return InvalidArgument(path + ": a sheet is chosen in an Excel workbook (.xlsx), not a " +
                           std::string(PackageName(kind->package)) + " file");
  }
  std::string iconv_encoding;
  if (!options.encoding.empty() && options.encoding != "utf-8" && options.encoding != "utf8") {
    iconv_encoding = IconvEncodingName(options.encoding);
    if (iconv_encoding.empty()) {
      return InvalidArgument(path + ": encoding '" + options.encoding + "': use utf-8, " +
                             Join(CsvEncodings(), ", "));
    }
  } else if (options.encoding == "utf-8" || options.encoding == "utf8") {
    iconv_encoding = "UTF-8";
  }
  auto reader = std::make_unique<StatisticsReader>(path, std::move(bytes), in_memory, *kind,
                                                   iconv_encoding, cells);
  RETURN_IF_ERROR(reader->Start());
  return std::unique_ptr<RecordReader>(std::move(reader));
}

}  // namespace

Result<std::unique_ptr<RecordReader>> OpenStatisticsFile(const std::string& path,
                                                         const RecordOptions& options,
                                                         const CellFormat& cells) {
  return OpenStatistics(path, std::string(), false, options, cells);
}

Result<std::unique_ptr<RecordReader>> OpenStatisticsBytes(std::string bytes,
                                                          const std::string& label,
                                                          const RecordOptions& options,
                                                          const CellFormat& cells) {
  return OpenStatistics(label, std::move(bytes), true, options, cells);
}

}  // namespace passerelle::data
