# Fit-only and whole-command timing in R, side by side with Passerelle (bench/run).
#   Rscript bench/fit_r.R FILE.csv fit      -> seconds of coxph (efron) and glm (binomial) on
#                                              a data frame already in memory (the median of
#                                              three fits each), and coefficients
#   Rscript bench/fit_r.R FILE.csv command  -> fread + coxph, as one command
#   Rscript bench/fit_r.R FILE.csv weighted -> seconds and coefficients of the weighted Cox
#                                              model (model-based variance) and of the Fine–Gray
#                                              model (finegray + coxph), on a data frame in memory
#   Rscript bench/fit_r.R FILE.csv robust   -> the weighted Cox model with R's default (robust)
#                                              variance
suppressMessages({ library(survival); library(data.table) })
args <- commandArgs(trailingOnly = TRUE)
d <- as.data.frame(fread(args[1]))
f_cox <- Surv(time, status) ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10
if (args[2] == "robust") {
  t_w <- system.time(fw <- coxph(f_cox, data = d, weights = w, ties = "efron"))[["elapsed"]]
  cat(sprintf("robust_seconds %.4f\n", t_w))
  cat("robust_coef", sprintf("%.17g", sqrt(diag(fw$var))), "\n")
} else if (args[2] == "weighted") {
  t_w <- system.time(fw <- coxph(f_cox, data = d, weights = w, ties = "efron",
                                 robust = FALSE))[["elapsed"]]
  d$cause <- factor(d$cause, c("censor", "a", "b"))
  vars <- c("month", "cause", paste0("x", 1:10))
  t_fg <- system.time({
    fg <- finegray(Surv(month, cause) ~ ., data = d[, vars], etype = "a")
    ff <- coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10,
                weights = fgwt, data = fg, ties = "efron")
  })[["elapsed"]]
  cat(sprintf("weighted_seconds %.4f\nfinegray_seconds %.4f\nfinegray_rows %d\n", t_w, t_fg,
              nrow(fg)))
  cat("weighted_coef", sprintf("%.17g", coef(fw)), "\n")
  cat("finegray_coef", sprintf("%.17g", coef(ff)), "\n")
} else if (args[2] == "command") {
  fit <- coxph(f_cox, data = d, ties = "efron")
  invisible(fit)
} else {
  # Each fit three times, the median (bench/fit_bench does the same).
  t_cox <- median(replicate(3, system.time(fit <<- coxph(f_cox, data = d,
                                                        ties = "efron"))[["elapsed"]]))
  t_glm <- median(replicate(3, system.time(g <<- glm(y ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 +
                                                      x9 + x10, family = binomial,
                                                    data = d))[["elapsed"]]))
  cat(sprintf("coxph_seconds %.4f\nglm_seconds %.4f\n", t_cox, t_glm))
  cat("coxph_coef", sprintf("%.17g", coef(fit)), "\n")
  cat("glm_coef", sprintf("%.17g", coef(g)), "\n")
}
