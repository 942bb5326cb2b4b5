// Infers a dictionary from a file (any RecordReader) when the custodian has none yet: each column
// becomes integer, number, date, category (with its levels) or a text identifier. The result is
// stored with the import and shown, so the custodian can review it and pin it.
#ifndef PASSERELLE_DATA_INFER_H_
#define PASSERELLE_DATA_INFER_H_

#include <string>
#include <string_view>

#include "passerelle/data/dictionary.h"
#include "passerelle/data/record_reader.h"
#include "passerelle/data/validator.h"

namespace passerelle::data {

// A text column with at most this many distinct values becomes a category.
inline constexpr size_t kMaxInferredLevels = 50;

// The name of a dictionary inferred for `base` (a file's name without its extension, or a
// dataset's): a valid name (a character that may not be in one becomes '_', a letter first:
// "d_" before a name that starts with none; 63 characters at most), never a built-in
// dictionary's ("_inferred" added to one).
std::string InferredDictionaryName(std::string_view base);
// True when `name` is a built-in dictionary's, or names one with its version (gu_cohort.v1).
bool IsBuiltinDictionaryName(std::string_view name);

// Reads every record of `reader` and returns a dictionary named `name` for its columns.
// Rules: all cells whole numbers → integer; numbers → number; written in `format`'s date
// layout (a real day or not) → date, some of them → text;
// few distinct values, or levels the file declares (value labels) → category; a column named id,
// *_id or *.id, or whose values are all distinct → identifier; otherwise text. A column with no
// value at all becomes number. A category's levels are in the order the file declares them,
// those it does not declare after them in byte order.
// Errors: those of RecordReader::Next.
Result<Dictionary> InferDictionary(RecordReader* reader, const CellFormat& format,
                                   const std::string& name);

}  // namespace passerelle::data

#endif  // PASSERELLE_DATA_INFER_H_
