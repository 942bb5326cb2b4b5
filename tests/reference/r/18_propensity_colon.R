# Writes expected/18_propensity_colon.json: inverse-probability-of-treatment weighted Cox models
# (ATE, ATT, stabilized ATE, ATE with strata(site)) with a logistic propensity score, covariate
# balance (standardized mean differences) and effective sample sizes, on data/colon_weighted.csv
# (written by r/make_issue15_data.R). Base R + survival only (no WeightIt / cobalt).
# Run from tests/reference/:  Rscript r/18_propensity_colon.R
source("ref_helpers.R")

data_prep <- 'd <- read.csv("data/colon_weighted.csv")\nd$rx <- factor(d$rx, levels = c("Obs", "Lev", "Lev+5FU"))'
env <- new.env(parent = globalenv())
eval(parse(text = data_prep), envir = env)

PS <- "trt ~ age + sex + nodes + obstruct"
q <- function(v) paste0('"', v, '"', collapse = ", ")

ipw_fit <- function(name, estimand, stabilized, outcome, federated = FALSE) {
  vars <- unique(c(all.vars(as.formula(outcome)), all.vars(as.formula(PS))))
  wexpr <- if (estimand == "ate") "ifelse(dp$trt == 1, 1 / ps, 1 / (1 - ps))" else "ifelse(dp$trt == 1, 1, ps / (1 - ps))"
  if (stabilized) wexpr <- paste0(wexpr, " * ifelse(dp$trt == 1, mean(dp$trt == 1), 1 - mean(dp$trt == 1))")
  call <- paste0('dp <- d[complete.cases(d[, c(', q(vars), ')]), ]; ',
                 'ps <- fitted(glm(', PS, ', family = binomial, data = dp)); ',
                 'dp$ipw <- ', wexpr, '; ',
                 'coxph(', outcome, ', data = dp, weights = ipw, robust = TRUE)')
  f <- do_fit(name, "coxph", call, env)
  dp <- env$dp                        # as left by the call
  g <- run_call(paste0('glm(', PS, ', family = binomial, data = dp)'), env)
  stopifnot(identical(unname(fitted(g$value)), unname(env$ps)))
  res <- f$results
  res$n_omitted_na <- nrow(env$d) - nrow(dp)
  model <- glm_results(g$value)
  model$n_omitted_na <- res$n_omitted_na
  X <- model.matrix(g$value)[, -1, drop = FALSE]
  w <- dp$ipw
  a1 <- dp$trt == 1; a0 <- dp$trt == 0
  ess <- function(x) sum(x)^2 / sum(x^2)
  den <- apply(X, 2, function(x) sqrt((var(x[a1]) + var(x[a0])) / 2))
  wm <- function(x, k) sum(w[k] * x[k]) / sum(w[k])
  before <- apply(X, 2, function(x) mean(x[a1]) - mean(x[a0])) / den
  after <- apply(X, 2, function(x) wm(x, a1) - wm(x, a0)) / den
  res$propensity <- list(
    model = model, warnings = arr(g$warnings),
    arms = arr(c("0", "1")), n = arr(c(sum(a0), sum(a1))), ess = arr(c(ess(w[a0]), ess(w[a1]))),
    weight_sum = arr(c(sum(w[a0]), sum(w[a1]))),
    balance = list(covariates = arr(colnames(X)), smd_before = arr(unname(before)),
                   smd_after = arr(unname(after))))
  list(name = name, type = "coxph", r_call = call,
       request = list(`function` = "coxph", formula = outcome, propensity = PS,
                      estimand = estimand, stabilized = stabilized),
       federated = federated, results = res, warnings = f$warnings,
       convergence_check = f$convergence_check)
}

fits <- list(
  ipw_fit("ate", "ate", FALSE, "Surv(time, status) ~ trt"),
  ipw_fit("att", "att", FALSE, "Surv(time, status) ~ trt"),
  ipw_fit("ate_stabilized", "ate", TRUE, "Surv(time, status) ~ trt"),
  ipw_fit("ate_strata_site", "ate", FALSE, "Surv(time, status) ~ trt + strata(site)", federated = TRUE))

obj <- list(
  case_id = "18_propensity_colon",
  description = paste("Colon cancer deaths at two sites: treatment Lev+5FU (trt = 1) against Obs and Lev",
                      "(trt = 0); logistic propensity score on age, sex, nodes, obstruct; inverse probability",
                      "of treatment weighted Cox models with robust variance: ATE, ATT, stabilized ATE, and",
                      "ATE within sites (strata(site)); covariate balance before / after weighting and",
                      "effective sample sizes."),
  data_files = arr("data/colon_weighted.csv"),
  site_files = arr(c("data/colon_weighted_lyon.csv", "data/colon_weighted_wuhan.csv")),
  data_prep = data_prep,
  factor_levels = list(rx = arr(c("Obs", "Lev", "Lev+5FU"))),
  notes = arr(c(
    "Rows: complete cases over the variables of both the outcome formula and the propensity formula (here nodes has NAs); results n_omitted_na and propensity.model.n_omitted_na count the rows of d dropped so.",
    "ps = fitted(glm(trt ~ age + sex + nodes + obstruct, family = binomial)) on those rows (sex, obstruct are 0/1 numeric columns). ATE weights: 1 / ps for trt = 1, 1 / (1 - ps) for trt = 0. ATT: 1 for trt = 1, ps / (1 - ps) for trt = 0. Stabilized (ATE only): the ATE weight times mean(trt == 1) for trt = 1 and 1 - mean(trt == 1) for trt = 0 (proportions over the complete rows).",
    "The Cox model: coxph(Surv(time, status) ~ trt [+ strata(site)], weights = ipw, robust = TRUE): robust_se/robust_var = sandwich with each row its own cluster (R's var), se/var model-based (naive.var); z, p, wald_test use the robust variance. The propensity score's own uncertainty is not propagated (as coxph with fixed weights). Efron ties with case weights (see case 15's notes).",
    "ate_strata_site: the score model is the pooled glm without site (federated: per-site IRLS sums), the weights are per row, the Cox model is stratified by site.",
    "propensity: model = the score glm (glm layout); arms = trt levels 0, 1; n = rows per arm; ess = (sum w)^2 / sum(w^2) per arm; weight_sum = sum w per arm; balance: covariates = model.matrix columns without the intercept; smd_before = (mean1 - mean0) / sqrt((var1 + var0) / 2), unweighted means and var() with n - 1; smd_after = (weighted mean1 - weighted mean0) / the same unweighted denominator, weighted mean = sum(w x) / sum(w) within the arm.")),
  generated_with = versions(),
  fits = fits)
write_json(obj, "expected/18_propensity_colon.json")
cat("18_propensity_colon:", length(fits), "fits\n")
