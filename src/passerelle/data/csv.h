// A streaming CSV reader for files as hospitals really export them: UTF-8 with or without BOM,
// or GB18030/GBK (Chinese Windows), Latin-1 or Windows-1252 when told, CRLF or LF, quoted
// fields with embedded separators, quotes and newlines, ',' ';' or tab separators detected from
// the header. Every record remembers the line it started on, so problems can be reported as
// file:line:column.
#ifndef PASSERELLE_DATA_CSV_H_
#define PASSERELLE_DATA_CSV_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "passerelle/base/sha256.h"
#include "passerelle/base/status.h"
#include "passerelle/data/record_reader.h"

namespace passerelle::data {

struct CsvOptions {
  // ',' ';' or '\t'; 0 detects it from the header line (the most frequent of the three).
  char separator = 0;
  // The file's encoding: "" or "utf-8", else one of CsvEncodings(), read into UTF-8 (iconv).
  std::string encoding;
  // Whether ChecksumHex is wanted: the SHA-256 of every byte takes as long as splitting them.
  bool checksum = true;
};

// The encodings a CSV file may be read from besides UTF-8.
const std::vector<std::string>& CsvEncodings();
// iconv's name for one of CsvEncodings(), or "" for a name that is not one.
std::string IconvEncodingName(std::string_view encoding);

class CsvReader : public RecordReader {
 public:
  // Opens `path` and reads its header. `label` names the file in messages.
  // InvalidArgument for an unreadable header, a UTF-16 file, invalid UTF-8 or bad names;
  // NotFound when the file cannot be opened.
  static Result<std::unique_ptr<CsvReader>> Open(const std::string& path, CsvOptions options);
  // Reads from memory (tests, fuzzing). `label` stands for the file name in messages.
  static Result<std::unique_ptr<CsvReader>> FromString(std::string contents, std::string label,
                                                       CsvOptions options);
  ~CsvReader() override;
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  const std::vector<std::string>& header() const override { return header_; }
  char separator() const { return separator_; }
  const std::string& label() const override { return label_; }

  // Reads the next non-blank record into *record. Returns false at end of input.
  // InvalidArgument (with file:line:column) for an unterminated quote, a stray character after
  // a closing quote, or bytes that are not UTF-8 (the message names the likely encoding), or
  // (file:line) not of the encoding given.
  Result<bool> Next(Record* record) override;

  // SHA-256 of every byte of the file. Valid once Next has returned false.
  std::string ChecksumHex() override { return options_.checksum ? hasher_.FinishHex() : ""; }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  CsvReader(std::FILE* file, std::string buffer, std::string label, CsvOptions options);
  Status ReadHeader();
  Result<bool> NextRecord(Record* record);
  // Decodes raw bytes of the file (after undecoded_, which the caller puts first) into `out`
  // (UTF-8), keeping an incomplete last character in undecoded_ unless `last`. A byte sequence
  // not of the encoding sets decode_error_.
  void Decode(std::string in, bool last, std::string* out);
  // Refuses (decode_error_) a file given an encoding that is UTF-8 after all: one that starts
  // with UTF-8's byte-order mark, or whose raw bytes, `raw` the next of them, all read as UTF-8
  // with some from 0x80 up.
  void CheckNotUtf8(std::string_view raw, bool last);
  // Ensures buffer_[pos_] exists; false at end of input.
  bool Fill();
  Status Fail(size_t line, size_t column, std::string_view what) const;
  // A field's bytes as UTF-8, or the error naming the likely encoding.
  Status CheckUtf8(std::string_view field, size_t line, size_t column) const;

  std::FILE* file_;
  std::string buffer_;
  // The chunk before buffer_'s, kept while it is hashed; the next chunk is read into it.
  std::string previous_;
  size_t pos_ = 0;
  std::string label_;
  CsvOptions options_;
  char separator_ = ',';
  std::vector<std::string> header_;
  size_t line_ = 1;
  uint64_t bytes_read_ = 0;
  bool buffer_ascii_ = true;  // the current chunk has no byte >= 0x80
  bool record_ascii_ = true;  // every chunk the current record touched was ASCII
  Sha256Thread hasher_;       // after the buffers: stopped before they go
  struct Decoder;             // iconv, when the file is not UTF-8
  // The encoding's decoder (none for UTF-8), or an error naming the encodings there are.
  static Status OpenDecoder(const std::string& label, const std::string& encoding,
                            std::unique_ptr<Decoder>* decoder);
  std::unique_ptr<Decoder> decoder_;
  std::string undecoded_;     // the start of a character split by a chunk's end
  size_t decoded_lines_ = 0;  // line breaks in the bytes decoded so far
  Status decode_error_;
};

// The CSV kind of RecordFormats(): a CsvReader with `options`' separator and encoding. With a
// decimal comma the separator is ';' unless given (and may not be ',').
Result<std::unique_ptr<RecordReader>> OpenCsvRecords(const std::string& path,
                                                     const RecordOptions& options,
                                                     const CellFormat& cells);

}  // namespace passerelle::data

#endif  // PASSERELLE_DATA_CSV_H_
