#include "passerelle/report/study_html.h"

#include <nlohmann/json.hpp>

#include "passerelle/analysis/registry.h"
#include "passerelle/report/markup.h"

namespace passerelle::report {
namespace {

using nlohmann::ordered_json;

std::string Field(const ordered_json& j, const char* key) {
  return j.contains(key) && j.at(key).is_string() ? j.at(key).get<std::string>() : "";
}

constexpr char kStyle[] = R"css(
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em auto; max-width: 60em;
       color: #111; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
.meta { color: #444; }
.status { font-size: 0.8em; padding: 0.1em 0.5em; border-radius: 0.3em; margin-left: 0.5em; }
.ok { background: #d9f0e3; } .refused, .failed { background: #fbe3d6; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
.plot svg { max-width: 100%; height: auto; }
.notes li { color: #6a3d00; }
table.cells { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
table.cells caption { text-align: left; font-weight: bold; padding-bottom: 0.3em; }
table.cells th, table.cells td { padding: 0.15em 0.7em; text-align: right; }
table.cells th:first-child, table.cells td:first-child { text-align: left; }
table.cells thead th { border-bottom: 1px solid #444; }
table.cells td.level { padding-left: 1.8em; }
@media print {
  body { margin: 0; max-width: none; }
  section.analysis { break-inside: avoid-page; }
  pre { white-space: pre-wrap; }
}
)css";

// One sentence on how an analysis was computed across the sites.
std::string Method(const std::string& function, const ordered_json& request,
                   const ordered_json& results) {
  const analysis::AnalysisKind* kind = analysis::FindAnalysisKind(function);
  std::string m = kind ? kind->method(request, results) : "";
  const std::string subset = Field(request, "subset");
  if (!subset.empty()) m += " Records: " + subset + ".";
  return m;
}

// A table of cells (the first row is the header), as the describe analysis lays it out.
std::string CellsHtml(const ordered_json& cells, const std::string& caption) {
  std::string html =
      "<table class=\"cells\">\n<caption>" + EscapeMarkup(caption) + "</caption>\n<thead><tr>";
  for (const auto& c : cells.at(0)) html += "<th>" + EscapeMarkup(c.get<std::string>()) + "</th>";
  html += "</tr></thead>\n<tbody>\n";
  for (size_t r = 1; r < cells.size(); ++r) {
    html += "<tr>";
    bool first = true;
    for (const auto& c : cells.at(r)) {
      std::string text = c.get<std::string>();
      const bool level = first && text.rfind("  ", 0) == 0;
      if (level) text = text.substr(2);
      html += std::string(level ? "<td class=\"level\">" : "<td>") + EscapeMarkup(text) + "</td>";
      first = false;
    }
    html += "</tr>\n";
  }
  return html + "</tbody>\n</table>\n";
}

// "wuhan (gu_cohort version 2, imported 2026-11-20T08:00:00Z)" for each site of the study.
std::string SitesLine(const ordered_json& doc) {
  const ordered_json datasets =
      doc.value("provenance", ordered_json::object()).value("datasets", ordered_json::object());
  std::string line;
  for (const auto& s : doc.value("sites", ordered_json::array())) {
    const std::string site = s.get<std::string>();
    line += (line.empty() ? "" : ", ") + EscapeMarkup(site);
    if (datasets.contains(site)) {
      const ordered_json& d = datasets.at(site);
      line +=
          " (" + EscapeMarkup(Field(d, "name")) + " version " +
          std::to_string(d.value("version", int64_t{0})) +
          (d.contains("imported_at") ? ", imported " + EscapeMarkup(Field(d, "imported_at")) : "") +
          ")";
    }
  }
  return line;
}

}  // namespace

Result<std::string> StudyHtml(const std::string& study_json) {
  ordered_json doc;
  doc = ordered_json::parse(study_json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("results") || !doc.at("results").is_object()) {
    return InvalidArgument("report: not a study document");
  }
  const std::string title = Field(doc, "title");
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>" +
      EscapeMarkup(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  html += "<h1>" + EscapeMarkup(title) + "</h1>\n<p class=\"meta\">Study " +
          std::to_string(doc.value("study", int64_t{0})) + " · dataset <b>" +
          EscapeMarkup(Field(doc, "dataset")) + "</b> · researcher " +
          EscapeMarkup(Field(doc, "researcher")) +
          "</p>\n<p class=\"meta\">Sites: " + SitesLine(doc) + "</p>\n";
  // Descriptive tables first (Table 1), then the analyses in the study's order.
  std::string table1, analyses, methods, withheld;
  for (const auto& [id, r] : doc.at("results").items()) {
    const std::string function = Field(r, "function");
    const std::string status = Field(r, "status");
    std::string& out = r.contains("cells") ? table1 : analyses;
    out += "<section class=\"analysis\" id=\"" + EscapeMarkup(id) + "\">\n<h2>" + EscapeMarkup(id) +
           " — " + EscapeMarkup(function) + "<span class=\"status " + EscapeMarkup(status) + "\">" +
           EscapeMarkup(status) + "</span></h2>\n";
    const ordered_json request = r.value("request", ordered_json::object());
    if (status == "ok") {
      if (r.contains("svg")) out += "<div class=\"plot\">" + Field(r, "svg") + "</div>\n";
      if (r.contains("cells") && r.at("cells").is_array() && !r.at("cells").empty()) {
        out += CellsHtml(r.at("cells"),
                         "Characteristics of the records, by site (Table 1); "
                         "*: withheld by a site");
      } else {
        out += "<pre>" + EscapeMarkup(Field(r, "text")) + "</pre>\n";
      }
    }
    const ordered_json notes = r.value("notes", ordered_json::array());
    if (!notes.empty()) {
      out += "<ul class=\"notes\">\n";
      for (const auto& n : notes) {
        const std::string note = n.get<std::string>();
        out += "<li>" + EscapeMarkup(note) + "</li>\n";
        if (note.find("rule ") != std::string::npos) {
          withheld += "<li><b>" + EscapeMarkup(id) + "</b>: " + EscapeMarkup(note) + "</li>\n";
        }
      }
      out += "</ul>\n";
    }
    out += "</section>\n";
    methods += "<li><b>" + EscapeMarkup(id) + "</b>: " +
               EscapeMarkup(Method(function, request, r.value("results", ordered_json()))) +
               "</li>\n";
  }
  html += table1.empty() ? "<p class=\"meta\">Table 1: this study has no descriptive analysis "
                           "(add one with <code>\"function\": \"describe\"</code>).</p>\n"
                         : table1;
  html += analyses;
  html += "<h2>What the sites withheld or refused</h2>\n";
  html += withheld.empty() ? "<p>Nothing: every site released every figure shown.</p>\n"
                           : "<ul class=\"notes\">\n" + withheld + "</ul>\n";
  html +=
      "<h2>Methods</h2>\n<p>Each site ran every analysis on its own records and released "
      "only aggregates that passed its disclosure rules, applied to its own contribution: no "
      "count of 1 to k − 1 (k = 5 by default, with complementary suppression so that no "
      "total rebuilds one), no cohort under 10 records, at most 0.33 model parameters per "
      "record and at least 5 events, no label naming fewer than k records, survival times "
      "on a grid of at least 30 days, and no release whose cohort differs from an earlier "
      "one by 1 to 4 records. A site may only tighten these defaults. The hub combined the "
      "aggregates into the pooled results.</p>\n<ul>\n" +
      methods + "</ul>\n";
  const ordered_json provenance = doc.value("provenance", ordered_json::object());
  html += "<h2>Provenance</h2>\n<p>Passerelle " + EscapeMarkup(Field(provenance, "passerelle")) +
          ", finished " + EscapeMarkup(Field(provenance, "finished_at")) +
          ". Each site's releases in this study came from one version of its dataset: " +
          SitesLine(doc) + ".</p>\n";
  const ordered_json heads = provenance.value("audit_heads", ordered_json::object());
  if (!heads.empty()) {
    html +=
        "<p>The head of each site's audit chain after its last answer (its custodian can "
        "check it with <code>passerelle audit verify --expect</code>):</p>\n<ul>\n";
    for (const auto& [site, head] : heads.items()) {
      html += "<li>" + EscapeMarkup(site) + ": <code>" + EscapeMarkup(head.get<std::string>()) +
              "</code></li>\n";
    }
    html += "</ul>\n";
  }
  return html + "</body>\n</html>\n";
}

}  // namespace passerelle::report
