# Writes expected/19_calibration_colon.json: a calibration table at time t for a linear
# predictor written out (a model fitted elsewhere), on data/colon_death.csv (survival's colon,
# deaths): per group of the predictor (R's cut at its quantiles), the mean predicted risk
# 1 - S0^exp(lp) and the Kaplan–Meier risk observed by t with its log-scale 95% interval.
# Run from tests/reference/:  Rscript r/19_calibration_colon.R
source("ref_helpers.R")
library(survival)
d <- read.csv("data/colon_death.csv")
calibration <- function(name, expr, t, s0, groups) {
  frame <- na.omit(data.frame(time = d$time, status = d$status, lp = eval(parse(text = expr), d)))
  g <- cut(frame$lp, unique(quantile(frame$lp, 0:groups / groups)), include.lowest = TRUE)
  rows <- lapply(seq_along(levels(g)), function(k) {
    s <- frame[as.integer(g) == k, ]
    at <- summary(survfit(Surv(time, status) ~ 1, data = s), times = t, extend = TRUE)
    list(group = k, n = nrow(s), events = sum(s$status == 1 & s$time <= t),
         predicted = mean(1 - s0^exp(s$lp)), observed = 1 - at$surv, lower = 1 - at$upper,
         upper = 1 - at$lower)
  })
  list(name = name, type = "calibration",
       r_call = sprintf("calibration(Surv(time, status) ~ I(%s), time = %g, baseline = %g, groups = %d)",
                        expr, t, s0, groups),
       request = list(`function` = "calibration", formula = paste0("Surv(time, status) ~ I(", expr, ")"),
                      time = t, baseline = s0, groups = groups),
       results = list(time = t, baseline = s0, groups = rows))
}
fits <- list(
  calibration("tenths", "0.02 * age + 0.1 * nodes + 0.5 * obstruct", 1826, 0.6, 10),
  calibration("fifths_year", "0.01 * age + 0.08 * nodes", 365, 0.9, 5))
obj <- list(
  case_id = "19_calibration_colon",
  description = paste0(
    "colon (survival), deaths: calibration of a linear predictor written out at a time, by its ",
    "tenths and fifths: mean predicted risk 1 - S0^exp(lp) against the Kaplan-Meier risk ",
    "observed by t; NA rows dropped."),
  data_files = arr("data/colon_death.csv"),
  data_prep = paste0(
    "d <- read.csv('data/colon_death.csv'); groups: cut(lp, unique(quantile(lp, 0:G/G)), ",
    "include.lowest = TRUE); observed: 1 - summary(survfit(Surv(time, status) ~ 1), times = t, ",
    "extend = TRUE)$surv"),
  generated_with = versions(),
  fits = fits)
write_json(obj, "expected/19_calibration_colon.json")
cat("19_calibration_colon:", length(fits), "fits\n")
