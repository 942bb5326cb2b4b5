#include "passerelle/data/xlsx.h"

#include <expat.h>
#include <zip.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <map>
#include <set>

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

class XmlHandler {
 public:
  virtual ~XmlHandler() = default;
  virtual void Start(std::string_view name, const XML_Char** attributes) = 0;
  virtual void End(std::string_view name) = 0;
  virtual void Text(std::string_view /*text*/) {}
};

class XmlStream {
 public:
  explicit XmlStream(XmlHandler* handler) : parser_(XML_ParserCreateNS(nullptr, '|')) {
    if (!parser_) return;
    XML_SetUserData(parser_, handler);
    XML_SetElementHandler(
        parser_,
        [](void* h, const XML_Char* name, const XML_Char** attributes) {
          static_cast<XmlHandler*>(h)->Start(LocalName(name), attributes);
        },
        [](void* h, const XML_Char* name) { static_cast<XmlHandler*>(h)->End(LocalName(name)); });
    XML_SetCharacterDataHandler(parser_, [](void* h, const XML_Char* text, int length) {
      static_cast<XmlHandler*>(h)->Text(std::string_view(text, static_cast<size_t>(length)));
    });
  }
  ~XmlStream() {
    if (parser_) XML_ParserFree(parser_);
  }
  XmlStream(const XmlStream&) = delete;
  XmlStream& operator=(const XmlStream&) = delete;

  // Parses the next bytes of the part; false with Error() when it is not well-formed XML.
  bool Feed(const char* data, size_t size, bool last) {
    if (!parser_) return false;
    return XML_Parse(parser_, data, static_cast<int>(size), last) == XML_STATUS_OK;
  }
  std::string Error() const {
    if (!parser_) return "out of memory";
    return std::string(XML_ErrorString(XML_GetErrorCode(parser_))) + " at line " +
           std::to_string(XML_GetCurrentLineNumber(parser_));
  }

 private:
  XML_Parser parser_;
};

// Excel writes characters XML cannot hold (a carriage return, say) as _xHHHH_.
std::string DecodeExcelEscapes(std::string text) {
  size_t at = text.find("_x");
  if (at == std::string::npos) return text;
  std::string out;
  size_t from = 0;
  for (; at != std::string::npos; at = text.find("_x", at + 1)) {
    if (at < from || at + 7 > text.size() || text[at + 6] != '_') continue;
    unsigned code = 0;
    const auto [end, ec] = std::from_chars(text.data() + at + 2, text.data() + at + 6, code, 16);
    if (ec != std::errc() || end != text.data() + at + 6) continue;
    out.append(text, from, at - from);
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
    from = at + 7;
  }
  out.append(text, from, std::string::npos);
  return out;
}

// ---- Parts of the archive ----

constexpr size_t kChunk = 1 << 16;

// One part of the archive, decompressed as it is read.
class ZipPart {
 public:
  ZipPart(zip_file_t* file) : file_(file) {}  // NOLINT: takes ownership
  ~ZipPart() {
    if (file_) zip_fclose(file_);
  }
  ZipPart(const ZipPart&) = delete;
  ZipPart& operator=(const ZipPart&) = delete;
  // Bytes read into `buffer`; 0 at the end; -1 when the archive is damaged.
  int64_t Read(char* buffer, size_t size) { return zip_fread(file_, buffer, size); }

 private:
  zip_file_t* file_;
};

std::unique_ptr<ZipPart> OpenPart(zip_t* zip, const std::string& name) {
  zip_file_t* file = zip_fopen(zip, name.c_str(), 0);
  if (!file) return nullptr;
  return std::make_unique<ZipPart>(file);
}

// Parses a whole part with `handler`. An absent part is an error only when `required`.
Status ParsePart(zip_t* zip, const std::string& label, const std::string& name, XmlHandler* handler,
                 bool required) {
  auto part = OpenPart(zip, name);
  if (!part) {
    if (!required) return Status::Ok();
    return InvalidArgument(label + ": not an Excel workbook (it has no " + name + ")");
  }
  XmlStream xml(handler);
  std::string buffer(kChunk, '\0');
  for (;;) {
    const int64_t n = part->Read(buffer.data(), buffer.size());
    if (n < 0) return InvalidArgument(label + ": the workbook is damaged (" + name + ")");
    if (!xml.Feed(buffer.data(), static_cast<size_t>(n), n == 0)) {
      return InvalidArgument(label + ": the workbook is damaged (" + name + ": " + xml.Error() +
                             ")");
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
      if (id && code) custom_formats[std::atoi(id)] = code;
    } else if (name == "cellXfs") {
      depth_in_cell_xfs = 1;
    } else if (depth_in_cell_xfs > 0) {
      if (name == "xf" && depth_in_cell_xfs == 1) {
        const char* id = Attribute(attributes, "numFmtId");
        style_formats.push_back(id ? std::atoi(id) : 0);
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

// The shared strings: the text of each <si>, runs joined, phonetic guides (<rPh>) left out.
struct SharedStringsHandler : XmlHandler {
  std::vector<std::string> strings;
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
      strings.push_back(DecodeExcelEscapes(std::move(current)));
      current.clear();
    } else if (name == "rPh") {
      --in_phonetic;
    } else if (name == "t") {
      in_text = false;
    }
  }
  void Text(std::string_view text) override {
    if (in_text) current.append(text);
  }
};

// Only the merged ranges of a sheet (they come after its rows).
struct MergesHandler : XmlHandler {
  std::vector<std::string> ranges;
  void Start(std::string_view name, const XML_Char** attributes) override {
    if (name != "mergeCell") return;
    if (const char* ref = Attribute(attributes, "ref")) ranges.emplace_back(ref);
  }
  void End(std::string_view) override {}
};

// "C12" into column 3 and row 12; false when it is not a cell reference.
bool ParseCellReference(std::string_view ref, size_t* column, size_t* row) {
  size_t i = 0, c = 0;
  while (i < ref.size() && std::isalpha(static_cast<unsigned char>(ref[i]))) {
    c = c * 26 + static_cast<size_t>(std::toupper(static_cast<unsigned char>(ref[i])) - 'A' + 1);
    ++i;
  }
  size_t r = 0;
  const auto [end, ec] = std::from_chars(ref.data() + i, ref.data() + ref.size(), r);
  if (i == 0 || ec != std::errc() || end != ref.data() + ref.size() || r == 0) return false;
  *column = c;
  *row = r;
  return true;
}

// One row of a sheet: its number and its cells with a value, by column.
struct SheetRow {
  size_t number = 0;
  std::vector<std::pair<size_t, std::string>> cells;
};

class XlsxReader final : public RecordReader, private XmlHandler {
 public:
  XlsxReader(std::string path, zip_t* zip, CellFormat cells)
      : path_(std::move(path)), zip_(zip), cells_(std::move(cells)), xml_(this) {}
  ~XlsxReader() override {
    sheet_.reset();
    zip_discard(zip_);
  }

  const std::vector<std::string>& header() const override { return header_; }
  const std::string& label() const override { return path_; }
  std::string ChecksumHex() override { return FileSha256Hex(path_); }
  size_t header_line() const override { return header_row_; }
  std::string Where(size_t line, size_t column) const override {
    if (line == 0) return sheet_reference_;
    if (column == 0) return sheet_reference_ + " row " + std::to_string(line);
    return sheet_reference_ + "!" + ColumnLetters(first_column_ + column - 1) +
           std::to_string(line);
  }

  Status Open(const std::string& sheet);
  Result<bool> Next(Record* record) override;

 private:
  // Reads the sheet until a row with a value is there; false at its end.
  Result<bool> Fill();
  // The text of the cell being read, as Excel typed it; false (with *rule) when it cannot be.
  bool CellText(std::string* text, std::string* rule) const;

  void Start(std::string_view name, const XML_Char** attributes) override;
  void End(std::string_view name) override;
  void Text(std::string_view text) override;

  const std::string path_;
  zip_t* const zip_;
  const CellFormat cells_;
  std::string sheet_reference_;  // Sheet1, or 'My sheet'
  std::vector<std::string> shared_strings_;
  std::vector<bool> date_styles_;
  bool date1904_ = false;
  std::vector<std::string> header_;
  size_t header_row_ = 0;
  size_t first_column_ = 1;

  // The sheet being streamed.
  std::unique_ptr<ZipPart> sheet_;
  XmlStream xml_;
  bool sheet_done_ = false;
  std::string chunk_;
  std::deque<SheetRow> rows_;  // read, not yet handed out
  Status sheet_error_;         // the first cell that could not be read
  // Parser state inside <sheetData>.
  bool in_sheet_data_ = false;
  SheetRow row_;
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

void XlsxReader::Start(std::string_view name, const XML_Char** attributes) {
  if (name == "sheetData") {
    in_sheet_data_ = true;
  } else if (!in_sheet_data_) {
    return;
  } else if (name == "row") {
    row_ = SheetRow();
    const char* r = Attribute(attributes, "r");
    row_.number = r ? static_cast<size_t>(std::strtoull(r, nullptr, 10)) : last_row_ + 1;
    if (row_.number == 0) row_.number = last_row_ + 1;
    last_row_ = row_.number;
    cell_column_ = 0;
  } else if (name == "c") {
    const char* r = Attribute(attributes, "r");
    size_t column = 0, row = 0;
    cell_column_ = r && ParseCellReference(r, &column, &row) ? column : cell_column_ + 1;
    const char* t = Attribute(attributes, "t");
    cell_type_ = t ? t : "n";
    const char* s = Attribute(attributes, "s");
    cell_style_ = s ? std::atoi(s) : -1;
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
      if (sheet_error_.ok()) {
        sheet_error_ =
            InvalidArgument(path_ + ":" + sheet_reference_ + "!" + ColumnLetters(cell_column_) +
                            std::to_string(row_.number) + ": " + rule);
      }
    } else if (!text.empty()) {
      row_.cells.emplace_back(cell_column_, std::move(text));
    }
  } else if (name == "row") {
    // After a cell that could not be read, no row is handed out: the error is next.
    if (!row_.cells.empty() && sheet_error_.ok()) rows_.push_back(std::move(row_));
    row_ = SheetRow();
  }
}

void XlsxReader::Text(std::string_view text) {
  if (in_value_ || in_text_) cell_value_.append(text);
}

bool XlsxReader::CellText(std::string* text, std::string* rule) const {
  const std::string& v = cell_value_;
  if (cell_type_ == "s") {
    size_t index = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), index);
    if (ec != std::errc() || end != v.data() + v.size() || index >= shared_strings_.size()) {
      *rule = "the cell refers to a shared string the workbook does not have";
      return false;
    }
    *text = shared_strings_[index];
  } else if (cell_type_ == "inlineStr" || cell_type_ == "str") {
    *text = DecodeExcelEscapes(v);
  } else if (cell_type_ == "b") {
    *text = v.empty() ? "" : v == "1" || v == "true" ? "TRUE" : "FALSE";
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
    const bool is_date = cell_style_ >= 0 &&
                         static_cast<size_t>(cell_style_) < date_styles_.size() &&
                         date_styles_[cell_style_];
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
    chunk_.resize(kChunk);
    const int64_t n = sheet_->Read(chunk_.data(), chunk_.size());
    if (n < 0)
      return InvalidArgument(path_ + ": the workbook is damaged (" + sheet_reference_ + ")");
    if (!xml_.Feed(chunk_.data(), static_cast<size_t>(n), n == 0)) {
      return InvalidArgument(path_ + ": the workbook is damaged (sheet " + sheet_reference_ + ": " +
                             xml_.Error() + ")");
    }
    if (n == 0) sheet_done_ = true;
  }
  // Rows read before a bad cell are handed out first, as a CSV's rows before a bad line.
  if (rows_.empty()) RETURN_IF_ERROR(sheet_error_);
  return !rows_.empty();
}

// Where a merged range touches `row`, its "A1:C1"; else "".
std::string MergeTouchingRow(const std::vector<std::string>& ranges, size_t row) {
  for (const std::string& range : ranges) {
    const size_t colon = range.find(':');
    size_t c1 = 0, r1 = 0, c2 = 0, r2 = 0;
    const std::string_view ref(range);
    if (colon == std::string::npos || !ParseCellReference(ref.substr(0, colon), &c1, &r1) ||
        !ParseCellReference(ref.substr(colon + 1), &c2, &r2)) {
      continue;
    }
    if (std::min(r1, r2) <= row && row <= std::max(r1, r2)) return range;
  }
  return "";
}

Status XlsxReader::Open(const std::string& sheet) {
  RelationshipsHandler relationships;
  RETURN_IF_ERROR(ParsePart(zip_, path_, "xl/_rels/workbook.xml.rels", &relationships, true));
  WorkbookHandler workbook;
  RETURN_IF_ERROR(ParsePart(zip_, path_, "xl/workbook.xml", &workbook, true));
  date1904_ = workbook.date1904;
  if (workbook.sheets.empty()) return InvalidArgument(path_ + ": the workbook has no sheet");
  const WorkbookHandler::Sheet* chosen = &workbook.sheets[0];
  if (!sheet.empty()) {
    chosen = nullptr;
    std::vector<std::string> names;
    for (const auto& s : workbook.sheets) {
      if (s.name == sheet) chosen = &s;
      names.push_back(s.name);
    }
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
    RETURN_IF_ERROR(ParsePart(zip_, path_, styles->second, &handler, false));
    date_styles_ = handler.DateStyles();
  }
  const auto strings = relationships.by_type.find("sharedStrings");
  if (strings != relationships.by_type.end()) {
    SharedStringsHandler handler;
    RETURN_IF_ERROR(ParsePart(zip_, path_, strings->second, &handler, false));
    shared_strings_ = std::move(handler.strings);
  }
  // Merged ranges come after the rows: a first pass finds them, so that a merged header is
  // refused before any row is read.
  MergesHandler merges;
  RETURN_IF_ERROR(ParsePart(zip_, path_, part->second, &merges, true));

  sheet_ = OpenPart(zip_, part->second);
  if (!sheet_) return InvalidArgument(path_ + ": the workbook is damaged (" + part->second + ")");
  ASSIGN_OR_RETURN(bool has_header, Fill());
  if (!has_header) {
    return InvalidArgument(path_ + ": sheet " + sheet_reference_ + " is empty (no header row)");
  }
  SheetRow header = std::move(rows_.front());
  rows_.pop_front();
  header_row_ = header.number;
  const std::string merged = MergeTouchingRow(merges.ranges, header_row_);
  if (!merged.empty()) {
    return InvalidArgument(path_ + ":" + sheet_reference_ + "!" + merged +
                           ": the header row has merged cells " + merged +
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

}  // namespace

Result<std::unique_ptr<RecordReader>> OpenXlsx(const std::string& path,
                                               const RecordOptions& options,
                                               const CellFormat& cells) {
  if (options.separator != 0) {
    return InvalidArgument(path + ": a separator applies to CSV files, not Excel workbooks");
  }
  if (!options.encoding.empty() && options.encoding != "utf-8" && options.encoding != "utf8") {
    return InvalidArgument(path + ": an Excel workbook holds Unicode text: it takes no encoding");
  }
  int error = 0;
  zip_t* zip = zip_open(path.c_str(), ZIP_RDONLY, &error);
  if (!zip) {
    if (error == ZIP_ER_NOENT || error == ZIP_ER_OPEN || error == ZIP_ER_READ) {
      return NotFound(path + ": cannot open the file for reading");
    }
    return InvalidArgument(path +
                           ": not an Excel workbook (.xlsx is a ZIP archive; this file is "
                           "not one: an .xls or a CSV file renamed?)");
  }
  auto reader = std::make_unique<XlsxReader>(path, zip, cells);
  RETURN_IF_ERROR(reader->Open(options.sheet));
  return std::unique_ptr<RecordReader>(std::move(reader));
}

}  // namespace passerelle::data
