# Writes expected/19_calibration_colon.json: a calibration table at time t for a linear
# predictor written out (a model fitted elsewhere), on data/colon_death.csv (survival's colon,
# deaths): per group of the predictor (R's cut at its quantiles), the mean predicted risk
# 1 - S0^exp(lp) and the Kaplan–Meier risk observed by t with its log-scale 95% interval.
# Run from tests/reference/:  Rscript r/19_calibration_colon.R
library(survival)
d <- read.csv("data/colon_death.csv")
num <- function(x) ifelse(is.na(x), "null", sprintf("%.17g", x))
calibration <- function(name, expr, t, s0, groups) {
  frame <- na.omit(data.frame(time = d$time, status = d$status, lp = eval(parse(text = expr), d)))
  g <- cut(frame$lp, unique(quantile(frame$lp, 0:groups / groups)), include.lowest = TRUE)
  rows <- character(0)
  for (k in seq_along(levels(g))) {
    s <- frame[as.integer(g) == k, ]
    fit <- survfit(Surv(time, status) ~ 1, data = s)
    at <- summary(fit, times = t, extend = TRUE)
    rows <- c(rows, sprintf(paste0("{\"group\": %d, \"n\": %d, \"events\": %d, \"predicted\": %s, ",
                                   "\"observed\": %s, \"lower\": %s, \"upper\": %s}"),
                            k, nrow(s), sum(s$status == 1 & s$time <= t),
                            num(mean(1 - s0^exp(s$lp))), num(1 - at$surv), num(1 - at$upper),
                            num(1 - at$lower)))
  }
  call <- sprintf("calibration(Surv(time, status) ~ I(%s), time = %g, baseline = %g, groups = %d)",
                  expr, t, s0, groups)
  paste0("{\"name\": \"", name, "\", \"type\": \"calibration\", \"r_call\": \"", call, "\",\n",
         "    \"request\": {\"function\": \"calibration\", \"formula\": \"Surv(time, status) ~ I(",
         expr, ")\", \"time\": ", t, ", \"baseline\": ", s0, ", \"groups\": ", groups, "},\n",
         "    \"results\": {\"time\": ", t, ", \"baseline\": ", s0, ", \"groups\": [\n      ",
         paste(rows, collapse = ",\n      "), "]}}")
}
fits <- c(
  calibration("tenths", "0.02 * age + 0.1 * nodes + 0.5 * obstruct", 1826, 0.6, 10),
  calibration("fifths_year", "0.01 * age + 0.08 * nodes", 365, 0.9, 5))
json <- paste0(
  "{\n  \"case_id\": \"19_calibration_colon\",\n",
  "  \"description\": \"colon (survival), deaths: calibration of a linear predictor written out ",
  "at a time, by its tenths and fifths: mean predicted risk 1 - S0^exp(lp) against the ",
  "Kaplan-Meier risk observed by t; NA rows dropped.\",\n",
  "  \"data_files\": [\"data/colon_death.csv\"],\n",
  "  \"data_prep\": \"d <- read.csv('data/colon_death.csv'); groups: cut(lp, unique(quantile(lp, 0:G/G)), include.lowest = TRUE); observed: 1 - summary(survfit(Surv(time, status) ~ 1), times = t, extend = TRUE)$surv\",\n",
  "  \"generated_with\": \"", R.version.string, ", survival ", packageVersion("survival"), "\",\n",
  "  \"fits\": [", paste(fits, collapse = ",\n    "), "]\n}\n")
writeLines(json, "expected/19_calibration_colon.json")
