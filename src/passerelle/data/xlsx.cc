#include "passerelle/data/xlsx.h"

#include <expat.h>
#include <zip.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "passerelle/base/sha256.h"
#include "passerelle/base/text.h"

namespace passerelle::data {

CivilDate ExcelSerialDate(double serial, bool date1904) {
  const auto day = static_cast<int64_t>(std::floor(serial));
  if (date1904) return CivilFromDays(static_cast<int32_t>(DaysFromCivil(1904, 1, 1) + day));
  if (day == 60) return {1900, 2, 29};
  // Serials after the day that never was count from 1899-12-30, those before from 1899-12-31.
  const int32_t base = day > 60 ? DaysFromCivil(1899, 12, 30) : DaysFromCivil(1899, 12, 31);
  return CivilFromDays(static_cast<int32_t>(base + day));
}

bool IsDateNumberFormat(int id, std::string_view code) {
  if (code.empty()) {
    return (id >= 14 && id <= 17) || id == 22 || (id >= 27 && id <= 31) || id == 36 ||
           (id >= 50 && id <= 54) || id == 57 || id == 58;
  }
  bool day_or_year = false, month_or_minute = false, time = false;
  for (size_t i = 0; i < code.size(); ++i) {
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(code[i])));
    if (c == '"') {  // a literal
      const size_t close = code.find('"', i + 1);
      if (close == std::string_view::npos) break;
      i = close;
    } else if (c == '[') {  // a colour, a locale, a condition, or elapsed time: [h] [mm] [ss]
      const size_t close = code.find(']', i + 1);
      if (close == std::string_view::npos) break;
      const std::string_view inside = code.substr(i + 1, close - i - 1);
      if (!inside.empty() && inside.find_first_not_of("hHmMsS") == std::string_view::npos) {
        time = true;
      }
      i = close;
    } else if (c == '\\' || c == '_' || c == '*') {  // an escaped, padding or fill character
      ++i;
    } else if (c == 'd' || c == 'y') {
      day_or_year = true;
    } else if (c == 'm') {
      month_or_minute = true;
    } else if (c == 'h' || c == 's') {
      time = true;
    }
  }
  return day_or_year || (month_or_minute && !time);
}

std::string ColumnLetters(size_t column) {
  std::string letters;
  while (column > 0) {
    --column;
    letters.insert(letters.begin(), static_cast<char>('A' + column % 26));
    column /= 26;
  }
  return letters;
}

namespace {

// ---- XML through expat, names as "namespace|local" ----

std::string_view LocalName(const XML_Char* name) {
  const std::string_view n(name);
  const size_t bar = n.rfind('|');
  return bar == std::string_view::npos ? n : n.substr(bar + 1);
}

// The attribute of that local name, or nullptr.
const char* Attribute(const XML_Char** attributes, std::string_view local) {
  for (size_t i = 0; attributes[i]; i += 2) {
    if (LocalName(attributes[i]) == local) return attributes[i + 1];
  }
  return nullptr;
}

// A whole number attribute (a style's index, a format's id); `otherwise` when it is none.
int IntAttribute(const char* text, int otherwise) {
  if (!text) return otherwise;
  const std::string_view t(text);
  int value = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  return ec == std::errc() && end == t.data() + t.size() ? value : otherwise;
}

class XmlStream;

class XmlHandler {
 public:
  virtual ~XmlHandler() = default;
  virtual void Start(std::string_view name, const XML_Char** attributes) = 0;
  virtual void End(std::string_view name) = 0;
  virtual void Text(std::string_view /*text*/) {}

 protected:
  // Stops the parse: the part is refused for `why` (a limit it goes beyond).
  void Refuse(std::string why);
  // Suspends the parse after this element: XmlStream::Feed returns kPaused, Resume goes on.
  void Pause();

 private:
  friend class XmlStream;
  XmlStream* stream_ = nullptr;
};

// Streams a part through expat, with what OOXML never needs refused: a DOCTYPE (so no entity is
// ever declared, let alone expanded: no billion laughs, no external entity), elements nested
// deeper than XlsxLimits::kXmlDepth, a tag, comment or declaration longer than kXmlToken (expat
// holds each whole in memory).
class XmlStream {
 public:
  enum class Fed { kDone, kPaused, kFailed };

  explicit XmlStream(XmlHandler* handler)
      : handler_(handler), parser_(XML_ParserCreateNS(nullptr, '|')) {
    handler_->stream_ = this;
    if (!parser_) return;
    XML_SetUserData(parser_, this);
    XML_SetParamEntityParsing(parser_, XML_PARAM_ENTITY_PARSING_NEVER);
    XML_SetStartDoctypeDeclHandler(
        parser_, [](void* s, const XML_Char*, const XML_Char*, const XML_Char*, int) {
          static_cast<XmlStream*>(s)->Refuse(
              "a DOCTYPE declaration, which no workbook part has (entities are refused)");
        });
    XML_SetElementHandler(
        parser_,
        [](void* s, const XML_Char* name, const XML_Char** attributes) {
          auto* self = static_cast<XmlStream*>(s);
          self->Event();
          if (++self->depth_ > XlsxLimits::kXmlDepth) {
            self->Refuse("XML elements nested deeper than " +
                         std::to_string(XlsxLimits::kXmlDepth) + " levels, the limit");
          }
          if (self->refusal_.empty()) self->handler_->Start(LocalName(name), attributes);
        },
        [](void* s, const XML_Char* name) {
          auto* self = static_cast<XmlStream*>(s);
          self->Event();
          --self->depth_;
          if (self->refusal_.empty()) self->handler_->End(LocalName(name));
        });
    XML_SetCharacterDataHandler(parser_, [](void* s, const XML_Char* text, int length) {
      auto* self = static_cast<XmlStream*>(s);
      self->Event();
      if (self->refusal_.empty()) {
        self->handler_->Text(std::string_view(text, static_cast<size_t>(length)));
      }
    });
    // Everything else (the XML declaration, comments, white space outside the root) only
    // marks how far the parse went.
    XML_SetDefaultHandlerExpand(
        parser_, [](void* s, const XML_Char*, int) { static_cast<XmlStream*>(s)->Event(); });
    XML_SetCommentHandler(parser_,
                          [](void* s, const XML_Char*) { static_cast<XmlStream*>(s)->Event(); });
    XML_SetProcessingInstructionHandler(parser_, [](void* s, const XML_Char*, const XML_Char*) {
      static_cast<XmlStream*>(s)->Event();
    });
  }
  ~XmlStream() {
    if (parser_) XML_ParserFree(parser_);
  }
  XmlStream(const XmlStream&) = delete;
  XmlStream& operator=(const XmlStream&) = delete;

  // Parses the next bytes of the part.
  Fed Feed(const char* data, size_t size, bool last) {
    if (!parser_) return Fed::kFailed;
    fed_ += size;
    return Outcome(XML_Parse(parser_, data, static_cast<int>(size), last));
  }
  // Goes on after kPaused.
  Fed Resume() {
    if (!parser_) return Fed::kFailed;
    return Outcome(XML_ResumeParser(parser_));
  }
  // Why the part is refused: "label: what: the limit", or the workbook is damaged.
  Status Failure(const std::string& label, const std::string& what) const {
    if (!refusal_.empty()) return InvalidArgument(label + ": " + what + ": " + refusal_);
    if (!parser_) return Internal(label + ": out of memory parsing " + what);
    return InvalidArgument(label + ": the workbook is damaged (" + what + ": " +
                           XML_ErrorString(XML_GetErrorCode(parser_)) + " at line " +
                           std::to_string(XML_GetCurrentLineNumber(parser_)) + ")");
  }

 private:
  friend class XmlHandler;

  void Event() {
    const XML_Index at = XML_GetCurrentByteIndex(parser_);
    if (at >= 0) parsed_ = static_cast<uint64_t>(at) + XML_GetCurrentByteCount(parser_);
  }
  void Refuse(std::string why) {
    if (refusal_.empty()) refusal_ = why.empty() ? "refused" : std::move(why);
    XML_StopParser(parser_, XML_FALSE);
  }
  void Pause() { XML_StopParser(parser_, XML_TRUE); }
  Fed Outcome(XML_Status status) {
    if (status == XML_STATUS_ERROR || !refusal_.empty()) return Fed::kFailed;
    // What expat holds unparsed is one token it has not seen the end of.
    if (fed_ - std::min(fed_, parsed_) > XlsxLimits::kXmlToken + kBuffered) {
      refusal_ = "an XML tag, comment or declaration longer than " +
                 GroupedCount(XlsxLimits::kXmlToken) + " bytes, the limit";
      return Fed::kFailed;
    }
    return status == XML_STATUS_SUSPENDED ? Fed::kPaused : Fed::kDone;
  }

  // Bytes fed but not yet parsed because the parse was paused: at most a chunk.
  static constexpr uint64_t kBuffered = 1 << 16;

  XmlHandler* const handler_;
  XML_Parser parser_;
  int depth_ = 0;
  uint64_t fed_ = 0;     // bytes given to expat
  uint64_t parsed_ = 0;  // the end of the last thing expat reported
  std::string refusal_;
};

void XmlHandler::Refuse(std::string why) { stream_->Refuse(std::move(why)); }
void XmlHandler::Pause() { stream_->Pause(); }

// The UTF-16 unit of an escape _xHHHH_ at `at` in `text`, if one is there.
std::optional<unsigned> ExcelEscapeAt(const std::string& text, size_t at) {
  if (at + 7 > text.size() || text.compare(at, 2, "_x") != 0 || text[at + 6] != '_') {
    return std::nullopt;
  }
  unsigned code = 0;
  const auto [end, ec] = std::from_chars(text.data() + at + 2, text.data() + at + 6, code, 16);
  if (ec != std::errc() || end != text.data() + at + 6) return std::nullopt;
  return code;
}

// Excel writes characters XML cannot hold (a carriage return, say) as _xHHHH_, a UTF-16 unit
// each: a character beyond U+FFFF is a pair of them (_xD840__xDC00_ is U+20000). A surrogate
// that is not in a pair is no character: it becomes U+FFFD, as in any UTF-16 decoder.
std::string DecodeExcelEscapes(std::string text) {
  size_t at = text.find("_x");
  if (at == std::string::npos) return text;
  std::string out;
  size_t from = 0;
  for (; at != std::string::npos; at = text.find("_x", at + 1)) {
    if (at < from) continue;
    const std::optional<unsigned> unit = ExcelEscapeAt(text, at);
    if (!unit) continue;
    out.append(text, from, at - from);
    unsigned code = *unit;
    from = at + 7;
    if (code >= 0xD800 && code <= 0xDBFF) {
      const std::optional<unsigned> low = ExcelEscapeAt(text, from);
      if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
        code = 0x10000 + ((code - 0xD800) << 10) + (*low - 0xDC00);
        from += 7;
      } else {
        code = 0xFFFD;
      }
    } else if (code >= 0xDC00 && code <= 0xDFFF) {
      code = 0xFFFD;
    }
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }
  out.append(text, from, std::string::npos);
  return out;
}

// ---- Parts of the archive ----

constexpr size_t kChunk = 1 << 16;

// One part of the archive, decompressed as it is read: never beyond the size it declares,
// which OpenPart holds within the limits (a part that holds more than it says is refused at
// the first bytes over).
class ZipPart {
 public:
  ZipPart(zip_file_t* file, std::string where, uint64_t declared)
      : file_(file), where_(std::move(where)), declared_(declared) {}
  ~ZipPart() {
    if (file_) zip_fclose(file_);
  }
  ZipPart(const ZipPart&) = delete;
  ZipPart& operator=(const ZipPart&) = delete;
  // Bytes read into `buffer`; 0 at the end.
  Result<size_t> Read(char* buffer, size_t size) {
    const int64_t n = zip_fread(file_, buffer, size);
    if (n < 0) {
      return InvalidArgument(where_ + ": the workbook is damaged (" +
                             zip_error_strerror(zip_file_get_error(file_)) + ")");
    }
    read_ += static_cast<uint64_t>(n);
    if (read_ > declared_ || read_ > XlsxLimits::kPartBytes) {
      return InvalidArgument(where_ + ": decompresses to more than the " + GroupedCount(declared_) +
                             " bytes it declares: the workbook is damaged, or a zip bomb");
    }
    return static_cast<size_t>(n);
  }

 private:
  zip_file_t* file_;
  const std::string where_;
  const uint64_t declared_;
  uint64_t read_ = 0;
};

// Opens a part, after refusing what its declared sizes put beyond the limits: more than
// `limit` decompressed (kPartBytes for a sheet and the shared strings, kSmallPartBytes for the
// workbook, its relationships and the styles), or more than kRatio times its compressed size
// (from kRatioFrom up). A null part, and no error, when the archive has no part of that name.
Result<std::unique_ptr<ZipPart>> OpenPart(zip_t* zip, const std::string& label,
                                          const std::string& name,
                                          uint64_t limit = XlsxLimits::kPartBytes) {
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat(zip, name.c_str(), 0, &stat) != 0) return std::unique_ptr<ZipPart>();
  const std::string where = label + ": " + name;
  constexpr auto kNeeded =
      ZIP_STAT_INDEX | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
  if ((stat.valid & kNeeded) != kNeeded) {
    return InvalidArgument(where + ": the workbook is damaged (the part's sizes are unknown)");
  }
  if ((stat.valid & ZIP_STAT_ENCRYPTION_METHOD) && stat.encryption_method != ZIP_EM_NONE) {
    return InvalidArgument(where + ": the part is encrypted: save the workbook without a password");
  }
  if (stat.comp_method != ZIP_CM_STORE && stat.comp_method != ZIP_CM_DEFLATE) {
    return InvalidArgument(where + ": the part is compressed by method " +
                           std::to_string(stat.comp_method) +
                           ", which Excel does not write: save the workbook again from Excel");
  }
  if (stat.size > limit) {
    return InvalidArgument(where + ": the part declares " + GroupedCount(stat.size) +
                           " bytes decompressed, over the limit of " + GroupedCount(limit) +
                           (limit == XlsxLimits::kPartBytes ? " bytes (1 GiB) a part" : " bytes") +
                           ": a zip bomb, or a part too large to import");
  }
  if (stat.size > XlsxLimits::kRatioFrom &&
      stat.size / std::max<uint64_t>(stat.comp_size, 1) > XlsxLimits::kRatio) {
    return InvalidArgument(where + ": the part declares " + GroupedCount(stat.size) +
                           " bytes decompressed from " + GroupedCount(stat.comp_size) +
                           ", a ratio over the limit of " + GroupedCount(XlsxLimits::kRatio) +
                           " to 1: a zip bomb");
  }
  zip_file_t* file = zip_fopen_index(zip, stat.index, 0);
  if (!file) {
    return InvalidArgument(where + ": the workbook is damaged (" + zip_strerror(zip) + ")");
  }
  return std::make_unique<ZipPart>(file, where, stat.size);
}

// Parses a whole part with `handler`. An absent part is an error only when `required`.
Status ParsePart(zip_t* zip, const std::string& label, const std::string& name, XmlHandler* handler,
                 bool required, uint64_t limit = XlsxLimits::kPartBytes) {
  ASSIGN_OR_RETURN(auto part, OpenPart(zip, label, name, limit));
  if (!part) {
    if (!required) return Status::Ok();
    return InvalidArgument(label + ": not an Excel workbook (it has no " + name + ")");
  }
  XmlStream xml(handler);
  std::string buffer(kChunk, '\0');
  for (;;) {
    ASSIGN_OR_RETURN(const size_t n, part->Read(buffer.data(), buffer.size()));
    if (xml.Feed(buffer.data(), n, n == 0) == XmlStream::Fed::kFailed) {
      return xml.Failure(label, name);
    }
    if (n == 0) return Status::Ok();
  }
}

// The workbook's sheets, in order, and whether it counts dates from 1904.
struct WorkbookHandler : XmlHandler {
  struct Sheet {
    std::string name;
    std::string relationship;
  };
  std::vector<Sheet> sheets;
  bool date1904 = false;
  void Start(std::string_view name, const XML_Char** attributes) override {
    if (name == "workbookPr") {
      const char* d = Attribute(attributes, "date1904");
      date1904 = d && (std::string_view(d) == "1" || std::string_view(d) == "true");
    } else if (name == "sheet") {
      if (sheets.size() == XlsxLimits::kSheets) {
        Refuse("more than " + GroupedCount(XlsxLimits::kSheets) + " sheets, the limit");
        return;
      }
      const char* sheet_name = Attribute(attributes, "name");
      const char* id = Attribute(attributes, "id");  // r:id
      if (sheet_name && id) sheets.push_back({sheet_name, id});
    }
  }
  void End(std::string_view) override {}
};

// The workbook's relationships: id to part, and the parts of a type.
struct RelationshipsHandler : XmlHandler {
  std::map<std::string, std::string> target_of;  // id to part name in the archive
  std::map<std::string, std::string> by_type;    // last segment of the type to part name
  void Start(std::string_view name, const XML_Char** attributes) override {
    if (name != "Relationship") return;
    if (target_of.size() == XlsxLimits::kSheets) {
      Refuse("more than " + GroupedCount(XlsxLimits::kSheets) + " relationships, the limit");
      return;
    }
    const char* id = Attribute(attributes, "Id");
    const char* type = Attribute(attributes, "Type");
    const char* target = Attribute(attributes, "Target");
    if (!id || !target) return;
    // Targets are relative to xl/, or absolute in the archive.
    std::string part = target[0] == '/' ? std::string(target + 1) : "xl/" + std::string(target);
    target_of[id] = part;
    if (type) {
      const std::string_view t(type);
      by_type[std::string(t.substr(t.rfind('/') + 1))] = part;
    }
  }
  void End(std::string_view) override {}
};

// Which cell styles (the s attribute of a cell) show numbers as dates.
struct StylesHandler : XmlHandler {
  std::map<int, std::string> custom_formats;
  std::vector<int> style_formats;  // by style index: its number format id
  int depth_in_cell_xfs = 0;
  void Start(std::string_view name, const XML_Char** attributes) override {
    if (name == "numFmt") {
      const char* id = Attribute(attributes, "numFmtId");
      const char* code = Attribute(attributes, "formatCode");
      if (custom_formats.size() == XlsxLimits::kStyles) {
        Refuse("more than " + GroupedCount(XlsxLimits::kStyles) + " number formats, the limit");
      } else if (id && code) {
        custom_formats[IntAttribute(id, -1)] = code;
      }
    } else if (name == "cellXfs") {
      depth_in_cell_xfs = 1;
    } else if (depth_in_cell_xfs > 0) {
      if (name == "xf" && depth_in_cell_xfs == 1) {
        if (style_formats.size() == XlsxLimits::kStyles) {
          Refuse("more than " + GroupedCount(XlsxLimits::kStyles) + " cell formats, the limit");
        }
        style_formats.push_back(IntAttribute(Attribute(attributes, "numFmtId"), 0));
      }
      ++depth_in_cell_xfs;
    }
  }
  void End(std::string_view name) override {
    if (depth_in_cell_xfs > 0) --depth_in_cell_xfs;
    (void)name;
  }
  std::vector<bool> DateStyles() const {
    std::vector<bool> dates;
    for (int id : style_formats) {
      const auto custom = custom_formats.find(id);
      dates.push_back(IsDateNumberFormat(id, custom == custom_formats.end() ? "" : custom->second));
    }
    return dates;
  }
};

// A cell's text as the XML holds it, before Excel's _xHHHH_ escapes are decoded: at most this
// many bytes for kMaxCellCharacters characters (an escape is 7 bytes, a character at most 4).
constexpr size_t kMaxCellXmlBytes = 8 * kMaxCellCharacters;

std::string TooLongCell() {
  return "the cell holds more than " + GroupedCount(kMaxCellCharacters) +
         " characters, Excel's own limit for a cell";
}

// The shared strings, held one after another in one string: the text of each <si>, runs
// joined, phonetic guides (<rPh>) left out.
struct SharedStringsHandler : XmlHandler {
  std::string text;
  std::vector<uint64_t> ends;  // where each string ends in `text`
  std::string current;
  bool in_text = false;
  int in_phonetic = 0;
  void Start(std::string_view name, const XML_Char**) override {
    if (name == "si") {
      current.clear();
    } else if (name == "rPh") {
      ++in_phonetic;
    } else if (name == "t" && in_phonetic == 0) {
      in_text = true;
    }
  }
  void End(std::string_view name) override {
    if (name == "si") {
      const std::string where = "shared string " + GroupedCount(ends.size() + 1) + ": ";
      if (ends.size() == XlsxLimits::kSharedStrings) {
        Refuse("more than " + GroupedCount(XlsxLimits::kSharedStrings) +
               " shared strings, the limit");
        return;
      }
      const std::string decoded = DecodeExcelEscapes(std::move(current));
      current.clear();
      if (Utf8Length(decoded) > kMaxCellCharacters) {
        Refuse(where + TooLongCell());
        return;
      }
      if (text.size() + decoded.size() > XlsxLimits::kSharedStringBytes) {
        Refuse("the shared strings hold more than " + GroupedCount(XlsxLimits::kSharedStringBytes) +
               " bytes of text, the limit");
        return;
      }
      text += decoded;
      ends.push_back(text.size());
    } else if (name == "rPh") {
      --in_phonetic;
    } else if (name == "t") {
      in_text = false;
    }
  }
  void Text(std::string_view t) override {
    if (!in_text) return;
    if (current.size() + t.size() > kMaxCellXmlBytes) {
      Refuse("shared string " + GroupedCount(ends.size() + 1) + ": " + TooLongCell());
      return;
    }
    current.append(t);
  }
};

// What a cell reference ("C12") is.
enum class CellRef { kCell, kMalformed, kOutOfRange };

// "C12" into column 3 and row 12, within Excel's XFD and 1,048,576.
CellRef ParseCellReference(std::string_view ref, size_t* column, size_t* row) {
  size_t i = 0, c = 0;
  for (; i < ref.size() && std::isalpha(static_cast<unsigned char>(ref[i])); ++i) {
    if (i < 8) {
      c = c * 26 + static_cast<size_t>(std::toupper(static_cast<unsigned char>(ref[i])) - 'A' + 1);
    }
  }
  if (i == 0 || i == ref.size()) return CellRef::kMalformed;
  size_t r = 0;
  const auto [end, ec] = std::from_chars(ref.data() + i, ref.data() + ref.size(), r);
  if (end != ref.data() + ref.size() || ec == std::errc::invalid_argument) {
    return CellRef::kMalformed;
  }
  if (ec == std::errc::result_out_of_range || i > 3 || c > XlsxLimits::kColumns ||
      r > XlsxLimits::kRows) {
    return CellRef::kOutOfRange;
  }
  if (r == 0) return CellRef::kMalformed;
  *column = c;
  *row = r;
  return CellRef::kCell;
}

std::string CellRefProblem(std::string_view ref, CellRef kind) {
  if (kind == CellRef::kMalformed) return "cell reference " + QuoteCell(ref) + " is not one";
  return "cell reference " + QuoteCell(ref) + " is beyond Excel's last column, XFD (" +
         GroupedCount(XlsxLimits::kColumns) + "), or its last row, " +
         GroupedCount(XlsxLimits::kRows);
}

// A merged range: its first and last cells.
struct MergedRange {
  uint32_t column1, row1, column2, row2;
  std::string Text() const {
    return ColumnLetters(column1) + std::to_string(row1) + ":" + ColumnLetters(column2) +
           std::to_string(row2);
  }
};

// Only the merged ranges of a sheet (they come after its rows).
struct MergesHandler : XmlHandler {
  std::vector<MergedRange> ranges;
  void Start(std::string_view name, const XML_Char** attributes) override {
    if (name != "mergeCell") return;
    const char* ref = Attribute(attributes, "ref");
    if (!ref) return;
    if (ranges.size() == XlsxLimits::kMergedRanges) {
      Refuse("more than " + GroupedCount(XlsxLimits::kMergedRanges) + " merged ranges, the limit");
      return;
    }
    const std::string_view range(ref);
    const size_t colon = range.find(':');
    const std::string_view first = range.substr(0, colon);
    const std::string_view last = colon == std::string_view::npos ? first : range.substr(colon + 1);
    size_t c1 = 0, r1 = 0, c2 = 0, r2 = 0;
    for (const auto& [part, column, row] :
         {std::tuple{first, &c1, &r1}, std::tuple{last, &c2, &r2}}) {
      const CellRef kind = ParseCellReference(part, column, row);
      if (kind != CellRef::kCell) {
        Refuse("merged range " + QuoteCell(range) + ": " + CellRefProblem(part, kind));
        return;
      }
    }
    ranges.push_back({static_cast<uint32_t>(c1), static_cast<uint32_t>(r1),
                      static_cast<uint32_t>(c2), static_cast<uint32_t>(r2)});
  }
  void End(std::string_view) override {}
};

// One row of a sheet: its number and its cells with a value, by column.
struct SheetRow {
  size_t number = 0;
  std::vector<std::pair<size_t, std::string>> cells;
};

class XlsxReader final : public RecordReader, private XmlHandler {
 public:
  // Reads the file at `path`, or `bytes` when `in_memory`.
  XlsxReader(std::string path, std::string bytes, bool in_memory, CellFormat cells)
      : path_(std::move(path)),
        bytes_(std::move(bytes)),
        in_memory_(in_memory),
        cells_(std::move(cells)),
        xml_(this) {}
  ~XlsxReader() override {
    sheet_.reset();
    if (zip_) zip_discard(zip_);
  }

  const std::vector<std::string>& header() const override { return header_; }
  const std::string& label() const override { return path_; }
  std::string ChecksumHex() override {
    return in_memory_ ? Sha256Hex(bytes_) : FileSha256Hex(path_);
  }
  size_t header_line() const override { return header_row_; }
  std::string Where(size_t line, size_t column) const override {
    if (line == 0) return sheet_reference_;
    if (column == 0) return sheet_reference_ + " row " + std::to_string(line);
    return sheet_reference_ + "!" + ColumnLetters(first_column_ + column - 1) +
           std::to_string(line);
  }

  // Opens the archive: NotFound when the file cannot be read, InvalidArgument when it is no ZIP.
  Status OpenArchive();
  Status Open(const std::string& sheet);
  Result<bool> Next(Record* record) override;

 private:
  // Reads the sheet until a row with a value is there; false at its end.
  Result<bool> Fill();
  // The text of the cell being read, as Excel typed it; false (with *rule) when it cannot be.
  bool CellText(std::string* text, std::string* rule) const;
  // Refuses the sheet at `place` ("C12", or "row 12"), stopping the parse.
  void Stop(const std::string& place, const std::string& why);
  std::string CellPlace() const {
    return ColumnLetters(cell_column_) + std::to_string(row_.number);
  }
  std::string RowPlace() const { return "row " + std::to_string(row_.number); }

  void Start(std::string_view name, const XML_Char** attributes) override;
  void End(std::string_view name) override;
  void Text(std::string_view text) override;

  const std::string path_;
  const std::string bytes_;  // the workbook, when read from memory
  const bool in_memory_;
  zip_t* zip_ = nullptr;
  const CellFormat cells_;
  std::string sheet_reference_;  // Sheet1, or 'My sheet'
  std::string shared_text_;      // the shared strings, one after another
  std::vector<uint64_t> shared_ends_;
  std::vector<bool> date_styles_;
  bool date1904_ = false;
  std::vector<std::string> header_;
  size_t header_row_ = 0;
  size_t first_column_ = 1;

  // The sheet being streamed, a row at a time: the parse pauses after each row.
  std::unique_ptr<ZipPart> sheet_;
  XmlStream xml_;
  bool sheet_done_ = false;
  bool paused_ = false;
  bool last_fed_ = false;
  std::string chunk_;
  std::deque<SheetRow> rows_;  // read, not yet handed out
  Status sheet_error_;         // why the sheet was refused
  // Parser state inside <sheetData>.
  bool in_sheet_data_ = false;
  SheetRow row_;
  size_t row_bytes_ = 0;
  size_t last_row_ = 0;
  size_t cell_column_ = 0;
  std::string cell_type_;
  int cell_style_ = -1;
  std::string cell_value_;
  bool in_value_ = false;   // <v>
  bool in_inline_ = false;  // <is>
  int in_phonetic_ = 0;     // <rPh> inside <is>
  bool in_text_ = false;    // <t> inside <is>
};

void XlsxReader::Stop(const std::string& place, const std::string& why) {
  if (sheet_error_.ok()) {
    sheet_error_ = InvalidArgument(path_ + ":" + sheet_reference_ +
                                   (place.starts_with("row") ? " " : "!") + place + ": " + why);
  }
  Refuse(why);
}

void XlsxReader::Start(std::string_view name, const XML_Char** attributes) {
  if (name == "sheetData") {
    in_sheet_data_ = true;
  } else if (!in_sheet_data_) {
    return;
  } else if (name == "row") {
    row_ = SheetRow();
    row_bytes_ = 0;
    cell_column_ = 0;
    const char* r = Attribute(attributes, "r");
    size_t number = last_row_ + 1;
    if (r) {
      const std::string_view text(r);
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
      if (ec == std::errc::invalid_argument || end != text.data() + text.size() || number == 0) {
        row_.number = last_row_ + 1;
        Stop(RowPlace(), "row number " + QuoteCell(text) + " is not one");
        return;
      }
      if (ec == std::errc::result_out_of_range) number = XlsxLimits::kRows + 1;
    }
    row_.number = number;
    if (number > XlsxLimits::kRows) {
      Stop(RowPlace(), "beyond Excel's last row, " + GroupedCount(XlsxLimits::kRows));
    } else if (number <= last_row_) {
      Stop(RowPlace(), "it comes after row " + std::to_string(last_row_) +
                           ": the sheet's rows are out of order");
    }
    last_row_ = number;
  } else if (name == "c") {
    const char* r = Attribute(attributes, "r");
    size_t column = cell_column_ + 1, row = 0;
    if (r) {
      const CellRef kind = ParseCellReference(r, &column, &row);
      if (kind != CellRef::kCell) {
        Stop(RowPlace(), CellRefProblem(r, kind));
        return;
      }
      if (column <= cell_column_) {
        Stop(RowPlace(), "cell " + std::string(r) + " comes after column " +
                             ColumnLetters(cell_column_) + ": the row's cells are out of order");
        return;
      }
    } else if (column > XlsxLimits::kColumns) {
      Stop(RowPlace(),
           "more than " + GroupedCount(XlsxLimits::kColumns) + " columns, Excel's own limit");
      return;
    }
    cell_column_ = column;
    const char* t = Attribute(attributes, "t");
    cell_type_ = t ? t : "n";
    // No style is the default one, 0; a style that is no whole number, -1.
    cell_style_ = IntAttribute(Attribute(attributes, "s"), -1);
    if (!Attribute(attributes, "s")) cell_style_ = 0;
    cell_value_.clear();
  } else if (name == "v") {
    in_value_ = true;
  } else if (name == "is") {
    in_inline_ = true;
  } else if (name == "rPh") {
    ++in_phonetic_;
  } else if (name == "t" && in_inline_ && in_phonetic_ == 0) {
    in_text_ = true;
  }
}

void XlsxReader::End(std::string_view name) {
  if (!in_sheet_data_) return;
  if (name == "sheetData") {
    in_sheet_data_ = false;
  } else if (name == "v") {
    in_value_ = false;
  } else if (name == "t") {
    in_text_ = false;
  } else if (name == "rPh") {
    --in_phonetic_;
  } else if (name == "is") {
    in_inline_ = false;
  } else if (name == "c") {
    std::string text, rule;
    if (!CellText(&text, &rule)) {
      Stop(CellPlace(), rule);
    } else if (Utf8Length(text) > kMaxCellCharacters) {
      Stop(CellPlace(), TooLongCell());
    } else if (!text.empty()) {
      row_bytes_ += text.size();
      if (row_bytes_ > kMaxRecordBytes) {
        Stop(RowPlace(), "the row holds more than " + GroupedCount(kMaxRecordBytes) +
                             " bytes of text, the limit of a record");
        return;
      }
      row_.cells.emplace_back(cell_column_, std::move(text));
    }
  } else if (name == "row") {
    if (!row_.cells.empty()) {
      rows_.push_back(std::move(row_));
      Pause();  // the caller takes it before the next is read
    }
    row_ = SheetRow();
  }
}

void XlsxReader::Text(std::string_view text) {
  if (!in_value_ && !in_text_) return;
  if (cell_value_.size() + text.size() > kMaxCellXmlBytes) {
    Stop(CellPlace(), TooLongCell());
    return;
  }
  cell_value_.append(text);
}

bool XlsxReader::CellText(std::string* text, std::string* rule) const {
  const std::string& v = cell_value_;
  if (cell_type_ == "s") {
    size_t index = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), index);
    if (ec != std::errc() || end != v.data() + v.size() || index >= shared_ends_.size()) {
      *rule = "the cell refers to a shared string the workbook does not have";
      return false;
    }
    const uint64_t begin = index == 0 ? 0 : shared_ends_[index - 1];
    *text = shared_text_.substr(begin, shared_ends_[index] - begin);
  } else if (cell_type_ == "inlineStr" || cell_type_ == "str") {
    *text = DecodeExcelEscapes(v);
  } else if (cell_type_ == "b") {
    const std::string value = AsciiLower(v);
    if (value == "1" || value == "true") {
      *text = "TRUE";
    } else if (value == "0" || value == "false") {
      *text = "FALSE";
    } else if (!v.empty()) {
      *rule = "a TRUE/FALSE cell holds " + QuoteCell(v) + ", which is neither 1 nor 0";
      return false;
    }
  } else if (cell_type_ == "e") {
    *text = v;  // #N/A, #DIV/0!: kept, for the dictionary's type to refuse
  } else if (cell_type_ == "d") {
    // An ISO 8601 date (strict OOXML): the day, in the import's layout.
    const DateFormat iso;
    const auto days = iso.ParseDays(std::string_view(v).substr(0, 10));
    *text = days ? cells_.date_format.Format(CivilFromDays(*days)) : v;
  } else {
    if (v.empty()) return true;
    double x = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc() || end != v.data() + v.size() || !std::isfinite(x)) {
      *rule = "a number cell holds " + QuoteCell(v) + ", which is not a number";
      return false;
    }
    // Style 0 is the default, which a workbook without styles has too.
    if (cell_style_ < 0 ||
        (cell_style_ > 0 && static_cast<size_t>(cell_style_) >= date_styles_.size())) {
      *rule = cell_style_ < 0
                  ? "the cell's style is not a style's number"
                  : "the cell's style " + std::to_string(cell_style_) + " is not one of the " +
                        std::to_string(date_styles_.size()) + " styles the workbook has";
      return false;
    }
    const bool is_date = cell_style_ >= 0 &&
                         static_cast<size_t>(cell_style_) < date_styles_.size() &&
                         date_styles_[cell_style_];
    // Before the date system's first day (1900-01-01 is 1, 1904-01-01 is 0): no day at all.
    if (is_date && std::floor(x) < (date1904_ ? 0 : 1)) {
      *rule = "a date cell holds the day number " + QuoteCell(v) +
              ", which is before the first day of the workbook's calendar";
      return false;
    }
    // Beyond any calendar a dictionary accepts: left as the number, for the validator to refuse.
    if (is_date && std::abs(x) < 3e6) {
      *text = cells_.date_format.Format(ExcelSerialDate(x, date1904_));
    } else {
      *text = FormatTypedNumber(x, cells_);
    }
  }
  return true;
}

Result<bool> XlsxReader::Fill() {
  while (rows_.empty() && !sheet_done_) {
    RETURN_IF_ERROR(sheet_error_);
    XmlStream::Fed fed;
    if (paused_) {
      fed = xml_.Resume();
    } else {
      chunk_.resize(kChunk);
      ASSIGN_OR_RETURN(const size_t n, sheet_->Read(chunk_.data(), chunk_.size()));
      last_fed_ = n == 0;
      fed = xml_.Feed(chunk_.data(), n, last_fed_);
    }
    if (fed == XmlStream::Fed::kFailed) {
      RETURN_IF_ERROR(sheet_error_);
      sheet_error_ = xml_.Failure(path_, "sheet " + sheet_reference_);
      return sheet_error_;
    }
    paused_ = fed == XmlStream::Fed::kPaused;
    if (!paused_ && last_fed_) sheet_done_ = true;
  }
  return !rows_.empty();
}

// The merged range that touches `row`, or null.
const MergedRange* MergeTouchingRow(const std::vector<MergedRange>& ranges, size_t row) {
  for (const MergedRange& range : ranges) {
    if (std::min(range.row1, range.row2) <= row && row <= std::max(range.row1, range.row2)) {
      return &range;
    }
  }
  return nullptr;
}

Status XlsxReader::OpenArchive() {
  int error = 0;
  if (in_memory_) {
    zip_error_t source_error;
    zip_error_init(&source_error);
    zip_source_t* source = zip_source_buffer_create(bytes_.data(), bytes_.size(), 0, &source_error);
    zip_error_fini(&source_error);
    if (!source) return Internal(path_ + ": out of memory opening the workbook");
    zip_error_t open_error;
    zip_error_init(&open_error);
    zip_ = zip_open_from_source(source, ZIP_RDONLY, &open_error);
    error = zip_error_code_zip(&open_error);
    zip_error_fini(&open_error);
    if (!zip_) zip_source_free(source);
  } else {
    zip_ = zip_open(path_.c_str(), ZIP_RDONLY, &error);
  }
  if (zip_) return Status::Ok();
  if (error == ZIP_ER_NOENT || error == ZIP_ER_OPEN || error == ZIP_ER_READ) {
    return NotFound(path_ + ": cannot open the file for reading");
  }
  return InvalidArgument(path_ +
                         ": not an Excel workbook (.xlsx is a ZIP archive; this file is "
                         "not one: an .xls or a CSV file renamed?)");
}

Status XlsxReader::Open(const std::string& sheet) {
  RelationshipsHandler relationships;
  constexpr uint64_t kSmall = XlsxLimits::kSmallPartBytes;
  RETURN_IF_ERROR(
      ParsePart(zip_, path_, "xl/_rels/workbook.xml.rels", &relationships, true, kSmall));
  WorkbookHandler workbook;
  RETURN_IF_ERROR(ParsePart(zip_, path_, "xl/workbook.xml", &workbook, true, kSmall));
  date1904_ = workbook.date1904;
  if (workbook.sheets.empty()) return InvalidArgument(path_ + ": the workbook has no sheet");
  const WorkbookHandler::Sheet* chosen = &workbook.sheets[0];
  if (!sheet.empty()) {
    chosen = nullptr;
    std::vector<std::string> names;
    for (const auto& s : workbook.sheets) {
      if (s.name == sheet) chosen = &s;
      if (names.size() < 100) names.push_back(s.name);
    }
    if (names.size() < workbook.sheets.size()) names.push_back("...");
    if (!chosen) {
      return InvalidArgument(path_ + ": the workbook has no sheet " + QuoteCell(sheet) +
                             "; its sheets are " + Join(names, ", "));
    }
  }
  const bool plain = std::all_of(chosen->name.begin(), chosen->name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c >= 0x80;
  });
  if (plain && !chosen->name.empty() &&
      !std::isdigit(static_cast<unsigned char>(chosen->name[0]))) {
    sheet_reference_ = chosen->name;
  } else {
    sheet_reference_ = "'";
    for (char c : chosen->name)
      sheet_reference_ += c == '\'' ? std::string("''") : std::string(1, c);
    sheet_reference_ += "'";
  }
  const auto part = relationships.target_of.find(chosen->relationship);
  if (part == relationships.target_of.end()) {
    return InvalidArgument(path_ + ": the workbook is damaged (sheet " + sheet_reference_ +
                           " has no part)");
  }
  const auto styles = relationships.by_type.find("styles");
  if (styles != relationships.by_type.end()) {
    StylesHandler handler;
    RETURN_IF_ERROR(ParsePart(zip_, path_, styles->second, &handler, false, kSmall));
    date_styles_ = handler.DateStyles();
  }
  const auto strings = relationships.by_type.find("sharedStrings");
  if (strings != relationships.by_type.end()) {
    SharedStringsHandler handler;
    RETURN_IF_ERROR(ParsePart(zip_, path_, strings->second, &handler, false));
    shared_text_ = std::move(handler.text);
    shared_ends_ = std::move(handler.ends);
  }
  // Merged ranges come after the rows: a first pass finds them, so that a merged header is
  // refused before any row is read.
  MergesHandler merges;
  RETURN_IF_ERROR(ParsePart(zip_, path_, part->second, &merges, true));

  ASSIGN_OR_RETURN(sheet_, OpenPart(zip_, path_, part->second));
  if (!sheet_) return InvalidArgument(path_ + ": the workbook is damaged (" + part->second + ")");
  ASSIGN_OR_RETURN(bool has_header, Fill());
  if (!has_header) {
    return InvalidArgument(path_ + ": sheet " + sheet_reference_ + " is empty (no header row)");
  }
  SheetRow header = std::move(rows_.front());
  rows_.pop_front();
  header_row_ = header.number;
  if (const MergedRange* merged = MergeTouchingRow(merges.ranges, header_row_)) {
    const std::string range = merged->Text();
    return InvalidArgument(path_ + ":" + sheet_reference_ + "!" + range +
                           ": the header row has merged cells " + range +
                           ": one header cell per column; unmerge them and give each column its "
                           "own name");
  }
  first_column_ = header.cells.front().first;
  const size_t last_column = header.cells.back().first;
  size_t next = 0;
  for (size_t column = first_column_; column <= last_column; ++column) {
    std::string name;
    if (next < header.cells.size() && header.cells[next].first == column) {
      name = std::string(TrimSpaces(header.cells[next++].second));
    }
    const std::string problem = ColumnNameProblem(name, header_);
    if (!problem.empty()) {
      return InvalidArgument(path_ + ":" + sheet_reference_ + "!" + ColumnLetters(column) +
                             std::to_string(header_row_) + ": " + problem);
    }
    header_.push_back(std::move(name));
  }
  return Status::Ok();
}

Result<bool> XlsxReader::Next(Record* record) {
  record->Clear();
  ASSIGN_OR_RETURN(bool more, Fill());
  if (!more) return false;
  const SheetRow row = std::move(rows_.front());
  rows_.pop_front();
  size_t next = 0;
  for (size_t i = 0; i < header_.size(); ++i) {
    const size_t column = first_column_ + i;
    while (next < row.cells.size() && row.cells[next].first < column) {
      const auto& [c, text] = row.cells[next];
      return InvalidArgument(path_ + ":" + sheet_reference_ + "!" + ColumnLetters(c) +
                             std::to_string(row.number) +
                             ": a value outside the header's columns, cell " + QuoteCell(text));
    }
    if (next < row.cells.size() && row.cells[next].first == column) {
      record->Add(row.cells[next++].second, row.number);
    } else {
      record->Add("", row.number);
    }
  }
  if (next < row.cells.size()) {
    const auto& [c, text] = row.cells[next];
    return InvalidArgument(path_ + ":" + sheet_reference_ + "!" + ColumnLetters(c) +
                           std::to_string(row.number) +
                           ": a value outside the header's columns, cell " + QuoteCell(text));
  }
  return true;
}

Status CheckXlsxOptions(const std::string& label, const RecordOptions& options) {
  if (options.separator != 0) {
    return InvalidArgument(label + ": a separator applies to CSV files, not Excel workbooks");
  }
  if (!options.encoding.empty() && options.encoding != "utf-8" && options.encoding != "utf8") {
    return InvalidArgument(label + ": an Excel workbook holds Unicode text: it takes no encoding");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<RecordReader>> OpenXlsx(const std::string& path,
                                               const RecordOptions& options,
                                               const CellFormat& cells) {
  RETURN_IF_ERROR(CheckXlsxOptions(path, options));
  auto reader = std::make_unique<XlsxReader>(path, std::string(), false, cells);
  RETURN_IF_ERROR(reader->OpenArchive());
  RETURN_IF_ERROR(reader->Open(options.sheet));
  return std::unique_ptr<RecordReader>(std::move(reader));
}

Result<std::unique_ptr<RecordReader>> OpenXlsxBytes(std::string bytes, const std::string& label,
                                                    const RecordOptions& options,
                                                    const CellFormat& cells) {
  RETURN_IF_ERROR(CheckXlsxOptions(label, options));
  auto reader = std::make_unique<XlsxReader>(label, std::move(bytes), true, cells);
  RETURN_IF_ERROR(reader->OpenArchive());
  RETURN_IF_ERROR(reader->Open(options.sheet));
  return std::unique_ptr<RecordReader>(std::move(reader));
}

}  // namespace passerelle::data
