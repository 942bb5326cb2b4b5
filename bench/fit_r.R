# Fit-only and whole-command timing in R, side by side with Passerelle (bench/run).
#   Rscript bench/fit_r.R FILE.csv fit      -> seconds of coxph (efron) and glm (binomial) on
#                                              a data frame already in memory, and coefficients
#   Rscript bench/fit_r.R FILE.csv command  -> fread + coxph, as one command
suppressMessages({ library(survival); library(data.table) })
args <- commandArgs(trailingOnly = TRUE)
d <- as.data.frame(fread(args[1]))
f_cox <- Surv(time, status) ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10
if (args[2] == "command") {
  fit <- coxph(f_cox, data = d, ties = "efron")
  invisible(fit)
} else {
  t_cox <- system.time(fit <- coxph(f_cox, data = d, ties = "efron"))[["elapsed"]]
  t_glm <- system.time(g <- glm(y ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10,
                                family = binomial, data = d))[["elapsed"]]
  cat(sprintf("coxph_seconds %.4f\nglm_seconds %.4f\n", t_cox, t_glm))
  cat("coxph_coef", sprintf("%.17g", coef(fit)), "\n")
  cat("glm_coef", sprintf("%.17g", coef(g)), "\n")
}
