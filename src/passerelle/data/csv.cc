#include "passerelle/data/csv.h"

#include <algorithm>
#include <cstring>

#include "passerelle/base/text.h"

namespace passerelle::data {
namespace {

constexpr size_t kChunk = 1 << 20;

bool IsAscii(std::string_view s) {
  uint64_t any = 0;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, s.data() + i, 8);
    any |= word;
  }
  for (; i < s.size(); ++i) any |= static_cast<unsigned char>(s[i]);
  return (any & 0x8080808080808080ULL) == 0;
}

}  // namespace

CsvReader::CsvReader(std::FILE* file, std::string buffer, std::string label, CsvOptions options)
    : file_(file), buffer_(std::move(buffer)), label_(std::move(label)), options_(options) {
  buffer_ascii_ = IsAscii(buffer_);
  if (!file_) {
    hasher_.Update(buffer_);
    bytes_read_ = buffer_.size();
  }
}

CsvReader::~CsvReader() {
  if (file_) std::fclose(file_);
}

Result<std::unique_ptr<CsvReader>> CsvReader::Open(const std::string& path, CsvOptions options) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) return NotFound(path + ": cannot open the file for reading");
  std::unique_ptr<CsvReader> reader(new CsvReader(file, std::string(), path, options));
  RETURN_IF_ERROR(reader->ReadHeader());
  return reader;
}

Result<std::unique_ptr<CsvReader>> CsvReader::FromString(std::string contents, std::string label,
                                                         CsvOptions options) {
  std::unique_ptr<CsvReader> reader(
      new CsvReader(nullptr, std::move(contents), std::move(label), options));
  RETURN_IF_ERROR(reader->ReadHeader());
  return reader;
}

bool CsvReader::Fill() {
  if (pos_ < buffer_.size()) return true;
  if (!file_) return false;
  buffer_.resize(kChunk);
  const size_t n = std::fread(buffer_.data(), 1, kChunk, file_);
  buffer_.resize(n);
  pos_ = 0;
  hasher_.Update(buffer_);
  buffer_ascii_ = IsAscii(buffer_);
  if (!buffer_ascii_) record_ascii_ = false;
  bytes_read_ += n;
  return n > 0;
}

Status CsvReader::Fail(size_t line, size_t column, std::string_view what) const {
  return InvalidArgument(label_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                         std::string(what));
}

Status CsvReader::ReadHeader() {
  if (!Fill()) return InvalidArgument(label_ + ": the file is empty (no header line)");
  const std::string_view start(buffer_.data() + pos_, buffer_.size() - pos_);
  if (start.starts_with("\xEF\xBB\xBF")) {
    pos_ += 3;
  } else if (start.starts_with("\xFF\xFE") || start.starts_with("\xFE\xFF")) {
    return InvalidArgument(label_ +
                           ": the file is UTF-16; export it as UTF-8, or convert it: iconv -f "
                           "UTF-16 -t UTF-8 '" +
                           label_ + "' > converted.csv");
  }
  separator_ = options_.separator;
  if (separator_ == 0) {
    // Count candidate separators on the header line, outside quotes.
    size_t counts[3] = {0, 0, 0};
    bool quoted = false;
    for (size_t i = pos_;
         i < buffer_.size() && (quoted || (buffer_[i] != '\n' && buffer_[i] != '\r')); ++i) {
      const char c = buffer_[i];
      if (c == '"') quoted = !quoted;
      if (quoted) continue;
      counts[0] += c == ',';
      counts[1] += c == ';';
      counts[2] += c == '\t';
    }
    const size_t best = std::max_element(counts, counts + 3) - counts;
    separator_ = counts[best] == 0 ? ',' : ",;\t"[best];
  }
  CsvRecord header;
  ASSIGN_OR_RETURN(bool has_header, Next(&header));
  if (!has_header) return InvalidArgument(label_ + ": the file is empty (no header line)");
  for (size_t i = 0; i < header.size(); ++i) {
    std::string name(TrimSpaces(header.field(i)));
    if (!IsValidName(name)) {
      return Fail(header.line(i), i + 1,
                  "column name " + QuoteCell(name) +
                      " is not a valid variable name (a letter, then letters, digits, '_' or '.')");
    }
    if (std::find(header_.begin(), header_.end(), name) != header_.end()) {
      return Fail(header.line(i), i + 1, "column name " + QuoteCell(name) + " appears twice");
    }
    header_.push_back(std::move(name));
  }
  return Status::Ok();
}

Result<bool> CsvReader::Next(CsvRecord* record) {
  record->Clear();
  // Fields of a record read from pure-ASCII chunks need no UTF-8 check of their own.
  record_ascii_ = buffer_ascii_;
  const char sep = separator_;
  for (;;) {
    // Skip blank lines between records.
    while (Fill() && (buffer_[pos_] == '\n' || buffer_[pos_] == '\r')) {
      if (buffer_[pos_] == '\n') ++line_;
      if (buffer_[pos_] == '\r') {
        ++pos_;
        if (Fill() && buffer_[pos_] == '\n') {
          ++pos_;
        }
        ++line_;
        continue;
      }
      ++pos_;
    }
    if (!Fill()) return false;
    break;
  }
  // One field per iteration; the record ends at a line break or at end of input.
  for (;;) {
    const size_t field_line = line_;
    const size_t column = record->ends_.size() + 1;
    const size_t field_begin = record->data_.size();
    bool end_of_record = false;
    if (Fill() && buffer_[pos_] == '"') {
      ++pos_;
      for (;;) {
        if (!Fill()) return Fail(field_line, column, "a quoted field is never closed");
        // Copy the run up to the next quote or newline in one go.
        const char* begin = buffer_.data() + pos_;
        const char* end = buffer_.data() + buffer_.size();
        const char* stop = begin;
        while (stop < end && *stop != '"' && *stop != '\n') ++stop;
        record->data_.append(begin, static_cast<size_t>(stop - begin));
        pos_ += stop - begin;
        if (stop == end) continue;
        if (*stop == '\n') {
          record->data_.push_back('\n');
          ++line_;
          ++pos_;
          continue;
        }
        ++pos_;  // the quote
        if (Fill() && buffer_[pos_] == '"') {
          record->data_.push_back('"');
          ++pos_;
          continue;
        }
        break;
      }
      if (!Fill()) {
        end_of_record = true;
      } else if (buffer_[pos_] == sep) {
        ++pos_;
      } else if (buffer_[pos_] == '\r' || buffer_[pos_] == '\n') {
        end_of_record = true;
      } else {
        return Fail(line_, column,
                    "unexpected character after a closing quote (a quote inside a quoted field "
                    "must be doubled: \"\")");
      }
    } else {
      for (;;) {
        if (!Fill()) {
          end_of_record = true;
          break;
        }
        const char* begin = buffer_.data() + pos_;
        const char* end = buffer_.data() + buffer_.size();
        const char* stop = begin;
        while (stop < end && *stop != sep && *stop != '\n' && *stop != '\r') ++stop;
        record->data_.append(begin, static_cast<size_t>(stop - begin));
        pos_ += stop - begin;
        if (stop == end) continue;
        if (*stop == sep) {
          ++pos_;
        } else {
          end_of_record = true;
        }
        break;
      }
    }
    // A record of text fields only needs its bytes checked once, here.
    const std::string_view field = std::string_view(record->data_).substr(field_begin);
    auto bad = record_ascii_ ? std::nullopt : FindInvalidUtf8(field);
    if (bad) {
      return Fail(field_line, column,
                  "the file is not valid UTF-8 (byte " + std::to_string(*bad + 1) +
                      " of this field). If it was exported as GBK or GB18030 (Chinese Windows) "
                      "or Latin-1, convert it first, e.g.: iconv -f GB18030 -t UTF-8 '" +
                      label_ + "' > converted.csv");
    }
    record->ends_.push_back(static_cast<uint32_t>(record->data_.size()));
    record->lines_.push_back(field_line);
    if (end_of_record) {
      if (Fill()) {
        if (buffer_[pos_] == '\r') {
          ++pos_;
          if (Fill() && buffer_[pos_] == '\n') ++pos_;
        } else {
          ++pos_;  // '\n'
        }
        ++line_;
      }
      return true;
    }
  }
}

}  // namespace passerelle::data
