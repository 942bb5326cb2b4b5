// Text placed in HTML or SVG markup: & < > " escaped.
#ifndef PASSERELLE_REPORT_MARKUP_H_
#define PASSERELLE_REPORT_MARKUP_H_

#include <string>
#include <string_view>

namespace passerelle::report {

inline std::string EscapeMarkup(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace passerelle::report

#endif  // PASSERELLE_REPORT_MARKUP_H_
