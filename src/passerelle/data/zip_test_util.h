// Test helpers: ZIP archives written byte by byte, as a hostile one can be (a part that lies
// about its size, a part deflated to a thousandth of itself), and minimal workbooks around
// given parts. Used by the Excel tests, the store's tests and the Excel fuzz target.
#ifndef PASSERELLE_DATA_ZIP_TEST_UTIL_H_
#define PASSERELLE_DATA_ZIP_TEST_UTIL_H_

#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

namespace passerelle::data::testing {

// One entry of an archive: its name and the bytes stored for it, the part itself or its
// deflate stream, with what its headers declare.
struct ZipEntry {
  std::string name;
  std::string stored;
  uint16_t method = 0;  // 0 stored, 8 deflated
  uint64_t size = 0;    // the part's size, as declared
  uint32_t crc = 0;     // the part's CRC-32, as declared
};

inline ZipEntry StoredEntry(std::string name, std::string data) {
  const auto crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
  const uint64_t size = data.size();
  return {std::move(name), std::move(data), 0, size, crc};
}

// `data` as raw deflate blocks that end byte-aligned and refer to nothing before them: such
// pieces, one after another, are one deflate stream (the last `last`).
inline std::string DeflatePiece(const std::string& data, bool last) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_RLE);
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, last ? Z_FINISH : Z_FULL_FLUSH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

inline uint32_t Crc32(uint32_t crc, const std::string& data) {
  return static_cast<uint32_t>(
      crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

// A part of `prefix`, then `count` times `byte`, then `suffix`, deflated: a zip bomb's part, made
// without holding it (a mebibyte of `byte` is deflated once and its blocks repeated).
inline ZipEntry DeflatedRun(std::string name, const std::string& prefix, char byte, uint64_t count,
                            const std::string& suffix) {
  const std::string run(1 << 20, byte);
  const std::string run_blocks = DeflatePiece(run, false);
  const uint32_t run_crc = Crc32(0, run);
  std::string out = DeflatePiece(prefix, false);
  uint32_t crc = Crc32(0, prefix);
  for (uint64_t left = count / run.size(); left > 0; --left) {
    out += run_blocks;
    crc = static_cast<uint32_t>(crc32_combine(crc, run_crc, static_cast<z_off_t>(run.size())));
  }
  const std::string rest = run.substr(0, count % run.size()) + suffix;
  out += DeflatePiece(rest, true);
  crc =
      static_cast<uint32_t>(crc32_combine(crc, Crc32(0, rest), static_cast<z_off_t>(rest.size())));
  return {std::move(name), std::move(out), 8, prefix.size() + count + suffix.size(), crc};
}

inline ZipEntry DeflatedEntry(std::string name, const std::string& data) {
  return DeflatedRun(std::move(name), data, ' ', 0, "");
}

inline void PutLittleEndian(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

// The archive of `entries`, as their headers say (sizes over 4 GiB are not written).
inline std::string ZipArchive(const std::vector<ZipEntry>& entries) {
  std::string out, directory;
  for (const ZipEntry& e : entries) {
    const uint64_t offset = out.size();
    for (std::string* header : {&out, &directory}) {
      const bool central = header == &directory;
      PutLittleEndian(header, central ? 0x02014b50 : 0x04034b50, 4);
      if (central) PutLittleEndian(header, 20, 2);  // made by
      PutLittleEndian(header, 20, 2);               // needed
      PutLittleEndian(header, 0, 2);                // flags
      PutLittleEndian(header, e.method, 2);
      PutLittleEndian(header, 0, 4);  // time and date
      PutLittleEndian(header, e.crc, 4);
      PutLittleEndian(header, e.stored.size(), 4);
      PutLittleEndian(header, e.size, 4);
      PutLittleEndian(header, e.name.size(), 2);
      PutLittleEndian(header, 0, 2);  // extra
      if (central) {
        PutLittleEndian(header, 0, 2);  // comment
        PutLittleEndian(header, 0, 2);  // disk
        PutLittleEndian(header, 0, 2);  // internal attributes
        PutLittleEndian(header, 0, 4);  // external attributes
        PutLittleEndian(header, offset, 4);
      }
      header->append(e.name);
    }
    out.append(e.stored);
  }
  const uint64_t directory_offset = out.size();
  out.append(directory);
  PutLittleEndian(&out, 0x06054b50, 4);
  PutLittleEndian(&out, 0, 4);  // disks
  PutLittleEndian(&out, entries.size(), 2);
  PutLittleEndian(&out, entries.size(), 2);
  PutLittleEndian(&out, directory.size(), 4);
  PutLittleEndian(&out, directory_offset, 4);
  PutLittleEndian(&out, 0, 2);  // comment
  return out;
}

inline constexpr char kSheetNamespace[] =
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main";

// A sheet's XML around its rows (<row> elements).
inline std::string SheetXml(const std::string& rows) {
  return std::string(
             "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<worksheet "
             "xmlns=\"") +
         kSheetNamespace + "\"><sheetData>" + rows + "</sheetData></worksheet>";
}

// The parts of a workbook of one sheet, "data", besides the sheet's own (xl/worksheets/sheet1.xml)
// and, when given, its shared strings (xl/sharedStrings.xml) and styles (xl/styles.xml).
inline std::vector<ZipEntry> WorkbookParts(bool shared_strings, bool styles) {
  const std::string relationships =
      "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
  std::string rels =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Relationships "
      "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
      "<Relationship Id=\"rId1\" Type=\"" +
      relationships + "/worksheet\" Target=\"worksheets/sheet1.xml\"/>";
  if (shared_strings) {
    rels += "<Relationship Id=\"rId2\" Type=\"" + relationships +
            "/sharedStrings\" Target=\"sharedStrings.xml\"/>";
  }
  if (styles) {
    rels +=
        "<Relationship Id=\"rId3\" Type=\"" + relationships + "/styles\" Target=\"styles.xml\"/>";
  }
  rels += "</Relationships>";
  const std::string workbook = std::string(
                                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<workbook "
                                   "xmlns=\"") +
                               kSheetNamespace + "\" xmlns:r=\"" + relationships +
                               "\"><sheets><sheet name=\"data\" sheetId=\"1\" "
                               "r:id=\"rId1\"/></sheets></workbook>";
  return {StoredEntry("xl/workbook.xml", workbook),
          StoredEntry("xl/_rels/workbook.xml.rels", rels)};
}

// A workbook of one sheet, "data": its XML, its shared strings' and its styles' ("" for none).
inline std::string Workbook(const std::string& sheet, const std::string& shared_strings = "",
                            const std::string& styles = "") {
  std::vector<ZipEntry> entries = WorkbookParts(!shared_strings.empty(), !styles.empty());
  entries.push_back(StoredEntry("xl/worksheets/sheet1.xml", sheet));
  if (!shared_strings.empty()) {
    entries.push_back(StoredEntry("xl/sharedStrings.xml", shared_strings));
  }
  if (!styles.empty()) entries.push_back(StoredEntry("xl/styles.xml", styles));
  return ZipArchive(entries);
}

// Shared strings whose one string is an entity that expands tenfold at each of nine levels, to
// a billion "lol"s: billion laughs.
inline std::string BillionLaughs() {
  std::string xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE sst [\n<!ENTITY lol0 \"lol\">\n";
  for (int i = 1; i < 10; ++i) {
    xml += "<!ENTITY lol" + std::to_string(i) + " \"";
    for (int k = 0; k < 10; ++k) xml += "&lol" + std::to_string(i - 1) + ";";
    xml += "\">\n";
  }
  return xml + "]>\n<sst xmlns=\"" + kSheetNamespace + "\"><si><t>&lol9;</t></si></sst>";
}

}  // namespace passerelle::data::testing

#endif  // PASSERELLE_DATA_ZIP_TEST_UTIL_H_
