// The hub's web UI in a real browser: a hub and two site nodes as real processes on 127.0.0.1,
// and tests/browser/hub_ui.mjs driving Debian's Chromium through playwright-core (installed by
// `make test`: `npm ci` from the committed lockfile). The script signs in, runs a study, checks
// the plots, the languages and the report, and that no request leaves the hub's origin.
#include <gtest/gtest.h>

#include "tests/integration/process_fixture.h"

namespace {

using passerelle::testing::ReadAll;

class BrowserTest : public passerelle::testing::ProcessTest {};

TEST_F(BrowserTest, AResearcherRunsAStudyInTheHubsWebUi) {
  for (const char* s : {"wuhan", "lyon"}) {
    const std::string csv = dir_ + "/" + s + ".csv";
    Ok(std::string("synth --site ") + s + " --patients 800 --seed " +
       (s == std::string("wuhan") ? "31" : "32") + " --out " + csv);
    AddSite(s, "gu_cohort", csv, "gu_cohort.v1");
  }
  StartAll();
  ASSERT_TRUE(WaitForLog(dir_ + "/wuhan.log", "connected to the hub"));
  ASSERT_TRUE(WaitForLog(dir_ + "/lyon.log", "connected to the hub"));
  const std::string command = "cd " + std::string(PASSERELLE_SOURCE_DIR) +
                              " && node tests/browser/hub_ui.mjs " + hub_url_ + " " + dir_ +
                              "/token " + dir_ + " > " + dir_ + "/browser.log 2>&1";
  const int status = std::system(command.c_str());
  EXPECT_EQ(status, 0) << ReadAll(dir_ + "/browser.log") << hub_->Log();
  EXPECT_EQ(ReadAll(dir_ + "/browser.ok"), "ok\n");
  StopAll();
}

}  // namespace
