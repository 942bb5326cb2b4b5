# Writes expected/20_glm_without_intercept.json: GLMs without an intercept (binomial, poisson,
# gaussian), pooled and across the two site files of data/colon_weighted.csv (written by
# r/make_issue15_data.R). Without an intercept R's null model has no column: its deviance is at
# the linear predictor 0 (plus the offset), its df.null is n.
# Run from tests/reference/:  Rscript r/20_glm_without_intercept.R
source("ref_helpers.R")

data_prep <- 'd <- read.csv("data/colon_weighted.csv")\nd$rx <- factor(d$rx, levels = c("Obs", "Lev", "Lev+5FU"))'
env <- new.env(parent = globalenv())
eval(parse(text = data_prep), envir = env)

gl <- function(name, call, formula, family) {
  f <- do_fit(name, "glm", call, env)
  list(name = f$name, type = f$type, r_call = f$r_call,
       request = list(`function` = "glm", formula = formula, family = family), federated = TRUE,
       results = f$results, warnings = f$warnings, convergence_check = f$convergence_check)
}

fits <- list(
  gl("glm_binomial_no_intercept", 'glm(status ~ rx + age - 1, family = binomial, data = d)',
     "status ~ rx + age - 1", "binomial"),
  gl("glm_poisson_no_intercept", 'glm(status ~ 0 + rx + nodes, family = poisson, data = d)',
     "status ~ 0 + rx + nodes", "poisson"),
  gl("glm_gaussian_no_intercept", 'glm(age ~ rx + nodes - 1, family = gaussian, data = d)',
     "age ~ rx + nodes - 1", "gaussian"))

obj <- list(
  case_id = "20_glm_without_intercept",
  description = paste("Colon cancer deaths at two sites (lyon, wuhan): logistic, Poisson and Gaussian",
                      "GLMs without an intercept (the first factor in full coding), pooled and federated.",
                      "NA rows (nodes) dropped."),
  data_files = arr("data/colon_weighted.csv"),
  site_files = arr(c("data/colon_weighted_lyon.csv", "data/colon_weighted_wuhan.csv")),
  data_prep = data_prep,
  factor_levels = list(rx = arr(c("Obs", "Lev", "Lev+5FU"))),
  notes = arr(c(
    "Without an intercept, R's null model is the empty model: null_deviance is the deviance at eta = 0 (mu = 1/2 binomial, 1 poisson, 0 gaussian) and df_null = n.",
    "rx enters in full coding (rxObs, rxLev, rxLev+5FU), as model.matrix() without an intercept.")),
  generated_with = versions(),
  fits = fits)
write_json(obj, "expected/20_glm_without_intercept.json")
cat("20_glm_without_intercept:", length(fits), "fits\n")
