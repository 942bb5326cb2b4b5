// A study's report as one self-contained HTML file (`passerelle study run ... --report
// study.html`): no request leaves the file (styles inline, plots as inline SVG, no script), and a
// print stylesheet so it prints to PDF. Title, sites, every analysis with its plot and R-style
// table, what was withheld or refused and why, a methods paragraph generated from the requests
// and the disclosure rules, and provenance (Passerelle's version, the audit heads of the sites).
#ifndef PASSERELLE_REPORT_STUDY_HTML_H_
#define PASSERELLE_REPORT_STUDY_HTML_H_

#include <string>

#include "passerelle/base/status.h"

namespace passerelle::report {

// `study_json`: the study's document as the hub records it (results with "text", "svg",
// "request", "notes", "status"; "provenance"). InvalidArgument when it is not one.
Result<std::string> StudyHtml(const std::string& study_json);

}  // namespace passerelle::report

#endif  // PASSERELLE_REPORT_STUDY_HTML_H_
