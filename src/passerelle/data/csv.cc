#include "passerelle/data/csv.h"

#include <errno.h>
#include <iconv.h>

#include <algorithm>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "passerelle/base/text.h"

namespace passerelle::data {
namespace {

// Appends the offsets of the separators in [begin, end), a line's content, to *out; false (and
// nothing said of what was appended) when the line holds a quote or a carriage return, which
// need the general way.
// Sixteen bytes at a time where SSE2 is there.
bool SplitPlainLine(const char* begin, const char* end, char sep, std::vector<uint32_t>* out) {
  const size_t n = static_cast<size_t>(end - begin);
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i sep16 = _mm_set1_epi8(sep), quote16 = _mm_set1_epi8('"'),
                cr16 = _mm_set1_epi8('\r');
  for (; i + 16 <= n; i += 16) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(begin + i));
    if (_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(block, quote16), _mm_cmpeq_epi8(block, cr16)))) {
      return false;
    }
    for (unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(block, sep16)));
         mask; mask &= mask - 1) {
      out->push_back(static_cast<uint32_t>(i + static_cast<size_t>(__builtin_ctz(mask))));
    }
  }
#endif
  for (; i < n; ++i) {
    if (begin[i] == '"' || begin[i] == '\r') return false;
    if (begin[i] == sep) out->push_back(static_cast<uint32_t>(i));
  }
  return true;
}

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

// How a refusal of a UTF-8 file given another encoding ends.
constexpr const char* kLeaveOut = "; leave --encoding out, or give --encoding utf-8";

// The names the command line takes, and iconv's for them.
constexpr std::pair<const char*, const char*> kEncodings[] = {{"gb18030", "GB18030"},
                                                              {"gbk", "GBK"},
                                                              {"latin1", "ISO-8859-1"},
                                                              {"windows-1252", "WINDOWS-1252"}};

// What text that is not UTF-8 most likely is, from its runs of bytes from 0x80 up. Chinese
// Windows text (GB18030/GBK) has two such bytes a character, and its words are runs of them,
// mostly of the common characters GB2312 holds (both bytes from 0xA1 up, the first to 0xF7);
// GB18030 writes the characters GBK lacks (U+20000, or "À") in four bytes, the second and the
// fourth an ASCII digit. Latin-1 and Windows-1252 have single accented letters among ASCII ones
// ("Hélène"), two inside a word ("Gößmann"), or a pair that is no common Chinese character
// ("«" and a no-break space). Windows-1252 leaves 0x81, 0x8D, 0x8F, 0x90 and 0x9D undefined:
// text with one is named Latin-1.
std::string LikelyEncoding(std::string_view bytes) {
  const auto byte = [&bytes](size_t i) {
    return i < bytes.size() ? static_cast<unsigned char>(bytes[i]) : 0;
  };
  const auto high = [&](size_t i) { return byte(i) >= 0x80; };
  const auto digit = [&](size_t i) { return byte(i) >= '0' && byte(i) <= '9'; };
  const auto letter = [&](size_t i) { return std::isalpha(byte(i)) != 0; };
  const auto common = [&](size_t i) {
    return byte(i) >= 0xA1 && byte(i) <= 0xF7 && byte(i + 1) >= 0xA1 && byte(i + 1) <= 0xFE;
  };
  size_t chinese = 0, latin = 0;
  bool undefined_in_1252 = false;
  for (size_t i = 0; i < bytes.size();) {
    if (!high(i)) {
      ++i;
      continue;
    }
    if (byte(i) <= 0xFE && digit(i + 1) && high(i + 2) && byte(i + 2) <= 0xFE && digit(i + 3)) {
      ++chinese;  // GB18030's four bytes
      i += 4;
      continue;
    }
    size_t end = i;
    while (end < bytes.size() && high(end)) {
      const auto b = byte(end);
      undefined_in_1252 |= b == 0x81 || b == 0x8D || b == 0x8F || b == 0x90 || b == 0x9D;
      ++end;
    }
    const size_t run = end - i;
    const bool in_a_word = i > 0 && letter(i - 1) && letter(end);
    size_t characters = 0;
    for (size_t k = i; k + 1 < end; k += 2) characters += common(k) ? 1 : 0;
    if (run == 1 || (run == 2 && in_a_word) || characters == 0) {
      ++latin;
    } else {
      chinese += characters;
    }
    i = end;
  }
  if (chinese > latin) return "gb18030";
  return undefined_in_1252 ? "latin1" : "windows-1252";
}

}  // namespace

const std::vector<std::string>& CsvEncodings() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& [name, _] : kEncodings) out.push_back(name);
    return out;
  }();
  return names;
}

std::string IconvEncodingName(std::string_view encoding) {
  for (const auto& [name, iconv_name] : kEncodings) {
    if (encoding == name) return iconv_name;
  }
  return "";
}

Result<std::unique_ptr<RecordReader>> OpenCsvRecords(const std::string& path,
                                                     const RecordOptions& options,
                                                     const CellFormat& cells) {
  if (!options.sheet.empty()) {
    return InvalidArgument(path +
                           ": a sheet is chosen in an Excel workbook (.xlsx), not a CSV file");
  }
  CsvOptions csv{options.separator, options.encoding};
  if (cells.decimal_comma) {
    if (csv.separator == ',') {
      return InvalidArgument("--decimal-comma needs a separator other than ',' (use --sep ';')");
    }
    if (csv.separator == 0) csv.separator = ';';
  }
  ASSIGN_OR_RETURN(auto reader, CsvReader::Open(path, csv));
  return std::unique_ptr<RecordReader>(std::move(reader));
}

struct CsvReader::Decoder {
  Decoder(iconv_t c, std::string n) : cd(c), name(std::move(n)) {}
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
  ~Decoder() { iconv_close(cd); }
  iconv_t cd;
  std::string name;
  // Whether the raw bytes read so far are UTF-8 too, and hold a byte from 0x80 up; the start of
  // a character a chunk's end split.
  bool utf8 = true, non_ascii = false;
  std::string utf8_tail;
  bool started = false;
};

void CsvReader::CheckNotUtf8(std::string_view raw, bool last) {
  Decoder& d = *decoder_;
  if (!d.started && raw.starts_with("\xEF\xBB\xBF")) {
    decode_error_ = InvalidArgument(label_ + ": the file starts with UTF-8's byte-order mark: it " +
                                    "is UTF-8, not " + d.name + kLeaveOut);
  }
  d.started = true;
  if (!d.utf8) return;
  std::string bytes = std::move(d.utf8_tail);
  d.utf8_tail.clear();
  bytes.append(raw);
  size_t whole = bytes.size();
  if (!last) {  // a character the chunk's end splits waits for the next chunk
    for (size_t back = 1; back <= 3 && back <= bytes.size(); ++back) {
      const auto c = static_cast<unsigned char>(bytes[bytes.size() - back]);
      if (c < 0x80) break;
      if (c < 0xC0) continue;
      const size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
      if (length > back) whole = bytes.size() - back;
      break;
    }
  }
  const std::string_view checked = std::string_view(bytes).substr(0, whole);
  d.non_ascii = d.non_ascii || !IsAscii(checked);
  d.utf8 = !FindInvalidUtf8(checked);
  d.utf8_tail = bytes.substr(whole);
  // Text read as another encoding than its own is stored as other characters ("中文" read as
  // GB18030 becomes "涓枃"); a file whose every byte reads as UTF-8 is UTF-8 (text in GBK or
  // Latin-1 with more than a few characters from 0x80 up almost never is).
  if (last && d.utf8 && d.non_ascii && decode_error_.ok()) {
    decode_error_ = InvalidArgument(label_ + ": the file is UTF-8 (all its text reads as UTF-8), " +
                                    "not " + d.name + kLeaveOut);
  }
}

CsvReader::CsvReader(std::FILE* file, std::string buffer, std::string label, CsvOptions options)
    : file_(file), buffer_(std::move(buffer)), label_(std::move(label)), options_(options) {
  if (!file_) {
    if (options_.checksum && !buffer_.empty()) {
      hasher_.Update(buffer_);
      hasher_.Wait(0);
    }
    bytes_read_ = buffer_.size();
  }
}

CsvReader::~CsvReader() {
  if (file_) std::fclose(file_);
}

Result<std::unique_ptr<CsvReader>> CsvReader::Open(const std::string& path, CsvOptions options) {
  std::unique_ptr<Decoder> decoder;
  RETURN_IF_ERROR(OpenDecoder(path, options.encoding, &decoder));
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) return NotFound(path + ": cannot open the file for reading");
  std::unique_ptr<CsvReader> reader(new CsvReader(file, std::string(), path, options));
  reader->decoder_ = std::move(decoder);
  RETURN_IF_ERROR(reader->ReadHeader());
  return reader;
}

Result<std::unique_ptr<CsvReader>> CsvReader::FromString(std::string contents, std::string label,
                                                         CsvOptions options) {
  std::unique_ptr<Decoder> decoder;
  RETURN_IF_ERROR(OpenDecoder(label, options.encoding, &decoder));
  std::unique_ptr<CsvReader> reader(
      new CsvReader(nullptr, std::string(), std::move(label), options));
  reader->decoder_ = std::move(decoder);
  if (reader->decoder_) {
    reader->CheckNotUtf8(contents, true);
    reader->Decode(std::move(contents), true, &reader->buffer_);
    RETURN_IF_ERROR(reader->decode_error_);
  } else {
    reader->buffer_ = std::move(contents);
  }
  reader->buffer_ascii_ = IsAscii(reader->buffer_);
  RETURN_IF_ERROR(reader->ReadHeader());
  return reader;
}

Status CsvReader::OpenDecoder(const std::string& label, const std::string& encoding,
                              std::unique_ptr<Decoder>* decoder) {
  if (encoding.empty() || encoding == "utf-8" || encoding == "utf8") return Status::Ok();
  for (const auto& [name, iconv_name] : kEncodings) {
    if (encoding != name) continue;
    const iconv_t cd = iconv_open("UTF-8", iconv_name);
    if (cd == reinterpret_cast<iconv_t>(-1)) {
      return Unavailable(label + ": this system cannot read " + name + " (iconv)");
    }
    *decoder = std::make_unique<Decoder>(cd, name);
    return Status::Ok();
  }
  return InvalidArgument(label + ": encoding '" + encoding + "': use utf-8, " +
                         Join(CsvEncodings(), ", "));
}

void CsvReader::Decode(std::string in, bool last, std::string* out) {
  out->resize(in.size() * 4 + 16);  // a byte becomes at most 4 of UTF-8
  char* src = in.data();
  size_t src_left = in.size();
  char* dst = out->data();
  size_t dst_left = out->size();
  while (src_left > 0) {
    if (iconv(decoder_->cd, &src, &src_left, &dst, &dst_left) != static_cast<size_t>(-1)) break;
    if (errno == EINVAL && !last) {  // a character split by the chunk's end: next time
      undecoded_.assign(src, src_left);
      break;
    }
    // Not of the encoding: the line is that of the first byte that is not.
    const size_t at = static_cast<size_t>(src - in.data());
    const size_t line = 1 + decoded_lines_ + static_cast<size_t>(std::count(in.data(), src, '\n'));
    char hex[8];
    std::snprintf(hex, sizeof(hex), "0x%02X", static_cast<unsigned char>(in[at]));
    if (decoder_->utf8 && decoder_->non_ascii) {
      decode_error_ = InvalidArgument(label_ + ":" + std::to_string(line) + ": the file is not " +
                                      decoder_->name + ": it reads as UTF-8" + kLeaveOut);
      break;
    }
    decode_error_ = InvalidArgument(
        label_ + ":" + std::to_string(line) + ": the file is not " + decoder_->name + " (byte " +
        hex + "); give its encoding with --encoding (utf-8, " + Join(CsvEncodings(), ", ") + ")" +
        (decoder_->name == "gbk" ? "; GB18030 holds every character of GBK, and more" : ""));
    break;
  }
  decoded_lines_ += static_cast<size_t>(std::count(in.data(), src, '\n'));
  out->resize(out->size() - dst_left);
}

bool CsvReader::Fill() {
  if (pos_ < buffer_.size()) return true;
  if (!file_ || !decode_error_.ok()) return false;
  pos_ = 0;
  if (!decoder_) {
    // The chunk is read into the buffer of the one before (once that one is hashed), then split
    // while the hashing thread hashes it.
    if (options_.checksum) hasher_.Wait(1);
    previous_.resize(kChunk);
    const size_t n = std::fread(previous_.data(), 1, kChunk, file_);
    previous_.resize(n);
    buffer_.swap(previous_);
    if (options_.checksum) hasher_.Update(buffer_);
    bytes_read_ += n;
  }
  // Decoded: the new bytes go after the start of a character the last chunk split, and a chunk
  // may end inside one: read on until some text comes out.
  while (decoder_) {
    std::string raw = std::move(undecoded_);
    undecoded_.clear();
    const size_t kept = raw.size();
    raw.resize(kept + kChunk);
    const size_t n = std::fread(raw.data() + kept, 1, kChunk, file_);
    raw.resize(kept + n);
    if (options_.checksum) {
      hasher_.Update(std::string_view(raw).substr(kept));
      hasher_.Wait(0);  // `raw` goes with the decoding
    }
    bytes_read_ += n;
    CheckNotUtf8(std::string_view(raw).substr(kept), n == 0);
    Decode(std::move(raw), n == 0, &buffer_);
    if (!decode_error_.ok()) buffer_.clear();  // nothing more is read
    if (!buffer_.empty() || n == 0 || !decode_error_.ok()) break;
  }
  buffer_ascii_ = IsAscii(buffer_);
  if (!buffer_ascii_) record_ascii_ = false;
  return !buffer_.empty();
}

Status CsvReader::Fail(size_t line, size_t column, std::string_view what) const {
  return InvalidArgument(label_ + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                         std::string(what));
}

Status CsvReader::ReadHeader() {
  if (!Fill()) {
    RETURN_IF_ERROR(decode_error_);
    return InvalidArgument(label_ + ": the file is empty (no header line)");
  }
  const std::string_view start(buffer_.data() + pos_, buffer_.size() - pos_);
  if (start.starts_with("\xEF\xBB\xBF")) {
    pos_ += 3;
  } else if (start.starts_with("\xFF\xFE") || start.starts_with("\xFE\xFF") ||
             // Without its byte-order mark: a header's ASCII letters as pairs with a zero byte,
             // after it (little-endian) or before it (big-endian), which iconv must be told.
             (start.size() >= 2 && (start[0] == '\0' || start[1] == '\0'))) {
    const bool marked = static_cast<unsigned char>(start[0]) >= 0xFE;
    const char* form = marked ? "UTF-16" : start[0] == '\0' ? "UTF-16BE" : "UTF-16LE";
    return InvalidArgument(label_ + ": the file is " + form +
                           "; export it as UTF-8, or convert it: iconv -f " + form + " -t UTF-8 '" +
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
  Record header;
  ASSIGN_OR_RETURN(bool has_header, Next(&header));
  if (!has_header) return InvalidArgument(label_ + ": the file is empty (no header line)");
  for (size_t i = 0; i < header.size(); ++i) {
    std::string name(TrimSpaces(header.field(i)));
    const std::string problem = ColumnNameProblem(name, header_);
    if (!problem.empty()) return Fail(header.line(i), i + 1, problem);
    header_.push_back(std::move(name));
  }
  return Status::Ok();
}

Result<bool> CsvReader::Next(Record* record) {
  Result<bool> next = NextRecord(record);
  // Bytes not of the file's encoding end the reading there: that is the error to tell.
  if (!decode_error_.ok()) return decode_error_;
  return next;
}

Status CsvReader::CheckUtf8(std::string_view field, size_t line, size_t column) const {
  const auto bad = FindInvalidUtf8(field);
  if (!bad) return Status::Ok();
  const std::string likely = LikelyEncoding(field);
  return Fail(line, column,
              "the file is not valid UTF-8 (byte " + std::to_string(*bad + 1) +
                  " of this field); it reads as " + likely +
                  (likely == "gb18030" ? " (Chinese Windows)" : "") + ": give --encoding " +
                  likely);
}

Result<bool> CsvReader::NextRecord(Record* record) {
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
  // Most records: a whole line in the chunk, without a quote or a lone carriage return. Its
  // fields are split at once; anything else takes the general way below.
  {
    const char* begin = buffer_.data() + pos_;
    const size_t left = buffer_.size() - pos_;
    const auto* newline = static_cast<const char*>(std::memchr(begin, '\n', left));
    const char* content_end =
        newline && newline > begin && newline[-1] == '\r' ? newline - 1 : newline;
    if (newline && SplitPlainLine(begin, content_end, sep, &record->ends_)) {
      // The line is copied once, separators and all; its fields end at the separators.
      record->data_.assign(begin, static_cast<size_t>(content_end - begin));
      record->ends_.push_back(static_cast<uint32_t>(content_end - begin));
      record->gap_ = 1;
      record->line_ = line_;
      if (!record_ascii_) {
        for (size_t i = 0; i < record->size(); ++i) {
          RETURN_IF_ERROR(CheckUtf8(record->field(i), line_, i + 1));
        }
      }
      pos_ = static_cast<size_t>(newline + 1 - buffer_.data());
      ++line_;
      return true;
    }
    record->ends_.clear();
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
        while (stop < end && *stop != '"' && *stop != '\n' && *stop != '\r') ++stop;
        record->data_.append(begin, static_cast<size_t>(stop - begin));
        pos_ += stop - begin;
        if (stop == end) continue;
        if (*stop == '\n' || *stop == '\r') {  // a line ends: LF, CRLF or CR alone
          const bool cr = *stop == '\r';
          record->data_.push_back(*stop);
          ++pos_;
          if (cr && Fill() && buffer_[pos_] == '\n') {
            record->data_.push_back('\n');
            ++pos_;
          }
          ++line_;
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
    if (!record_ascii_) RETURN_IF_ERROR(CheckUtf8(field, field_line, column));
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
