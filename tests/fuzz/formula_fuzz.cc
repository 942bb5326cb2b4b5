// Fuzz target: model formulas and R expressions (subsets, terms), as researchers send them to
// the hub and the hub to every node. Whatever the input: no crash, no stack overflow, every
// message UTF-8 text, and an expression that parses deparses (names that need backticks aside).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "passerelle/base/text.h"
#include "passerelle/formula/expr.h"
#include "passerelle/formula/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace passerelle;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto f = formula::ParseFormula(text);
  if (!f.ok() && FindInvalidUtf8(f.status().message())) std::abort();
  auto e = formula::ParseExpr(text, "subset");
  if (!e.ok()) {
    if (FindInvalidUtf8(e.status().message())) std::abort();
    return 0;
  }
  const std::string again = formula::Deparse(*e);
  if (FindInvalidUtf8(again)) std::abort();
  return 0;
}
