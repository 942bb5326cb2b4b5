# Writes expected/15_weighted_colon.json: case weights in Cox (Efron, Breslow, strata, robust
# variance) and in glm (binomial, poisson, gaussian), on data/colon_weighted.csv (colon deaths
# with sites lyon / wuhan and weight columns, written by r/make_issue15_data.R).
# Run from tests/reference/:  Rscript r/15_weighted_colon.R
source("ref_helpers.R")

# one fit: R's call evaluated in env, with the engine's request and the federated flag
fit_entry <- function(name, type, call, request, federated = FALSE, env) {
  f <- do_fit(name, type, call, env)
  list(name = f$name, type = f$type, r_call = f$r_call, request = request, federated = federated,
       results = f$results, warnings = f$warnings, convergence_check = f$convergence_check)
}

data_prep <- 'd <- read.csv("data/colon_weighted.csv")\nd$rx <- factor(d$rx, levels = c("Obs", "Lev", "Lev+5FU"))'
env <- new.env(parent = globalenv())
eval(parse(text = data_prep), envir = env)

cx <- function(name, call, formula, ties, weights, robust = NULL, federated = FALSE) {
  req <- list(`function` = "coxph", formula = formula, ties = ties, weights = weights)
  if (!is.null(robust)) req$robust <- robust
  fit_entry(name, "coxph", call, req, federated, env)
}
gl <- function(name, call, formula, family, weights)
  fit_entry(name, "glm", call, list(`function` = "glm", formula = formula, family = family, weights = weights),
            FALSE, env)

F0 <- "Surv(time, status) ~ rx + age + nodes"
fits <- list(
  cx("cox_w_efron", 'coxph(Surv(time, status) ~ rx + age + nodes, data = d, weights = w)', F0, "efron", "w"),
  cx("cox_w_breslow", 'coxph(Surv(time, status) ~ rx + age + nodes, data = d, weights = w, ties = "breslow")',
     F0, "breslow", "w"),
  cx("cox_w_strata_sex_not_robust",
     'coxph(Surv(time, status) ~ rx + age + nodes + strata(sex), data = d, weights = w, robust = FALSE)',
     "Surv(time, status) ~ rx + age + nodes + strata(sex)", "efron", "w", robust = FALSE),
  cx("cox_wi_efron", 'coxph(Surv(time, status) ~ rx + age + nodes, data = d, weights = wi)', F0, "efron", "wi"),
  cx("cox_wi_robust", 'coxph(Surv(time, status) ~ rx + age + nodes, data = d, weights = wi, robust = TRUE)',
     F0, "efron", "wi", robust = TRUE),
  cx("cox_w_strata_site", 'coxph(Surv(time, status) ~ rx + age + nodes + strata(site), data = d, weights = w)',
     "Surv(time, status) ~ rx + age + nodes + strata(site)", "efron", "w", federated = TRUE),
  gl("glm_binomial_wi", 'glm(status ~ rx + age + nodes, family = binomial, data = d, weights = wi)',
     "status ~ rx + age + nodes", "binomial", "wi"),
  gl("glm_poisson_w", 'glm(status ~ rx + age + nodes, family = poisson, data = d, weights = w)',
     "status ~ rx + age + nodes", "poisson", "w"),
  gl("glm_gaussian_w", 'glm(age ~ rx + nodes, family = gaussian, data = d, weights = w)',
     "age ~ rx + nodes", "gaussian", "w"))

# what R does with case weights and ties = "exact" (no fit entry)
exact_call <- 'coxph(Surv(time, status) ~ rx + age + nodes, data = d, weights = w, ties = "exact")'
exact <- tryCatch({ run_call(exact_call, env); "no error" }, error = function(e) conditionMessage(e))
exact_wi <- tryCatch({ run_call(sub("weights = w,", "weights = wi,", exact_call), env); "no error" },
                     error = function(e) conditionMessage(e))

obj <- list(
  case_id = "15_weighted_colon",
  description = paste("Colon cancer deaths (survival's colon, etype 2) at two sites, lyon and wuhan, with case",
                      "weights: Cox with non-integer weights w (Efron, Breslow, strata(sex) without robust",
                      "variance, strata(site)), with integer weights wi (model-based and robust variance), and",
                      "weighted glm (binomial with wi, poisson and gaussian with w). NA rows (nodes) dropped."),
  data_files = arr("data/colon_weighted.csv"),
  site_files = arr(c("data/colon_weighted_lyon.csv", "data/colon_weighted_wuhan.csv")),
  data_prep = data_prep,
  factor_levels = list(rx = arr(c("Obs", "Lev", "Lev+5FU"))),
  notes = arr(c(
    "colon_weighted.csv (r/make_issue15_data.R) = colon_death.csv without wuhan's Lev deaths, plus site ('lyon' when id %% 3 != 0, else 'wuhan'; at wuhan the Lev arm has no events), w = 0.5 + (id %% 7) / 4, wi = 1 + id %% 3, trt = (rx == 'Lev+5FU'). Rows: lyon first, then wuhan; the two site files hold the same rows.",
    "Case weights multiply each row's contribution to the log partial likelihood, its score and information, and the risk-set sums (and the Efron tie correction uses the weighted tied-event sums); nevent is the unweighted count of events.",
    "R's robust default: robust = TRUE when any weight is not an integer (w), FALSE for integer weights (wi) unless robust = TRUE is given. With robust, every row is its own cluster: robust_se/robust_var is the sandwich variance (R's var), se/var the model-based one (R's naive.var); z, p and wald_test use the robust variance; robust_score_test is R's rscore.",
    "Weighted Efron (R's coxfit6): for d tied event rows at a time, with weights w_i, risk scores r_i, risk-set sum S = sum w r and tied sum T = sum over the tied rows of w r, the log-likelihood term is sum_tied w_i x_i'b - (sum_tied w_i / d) * sum_{j=0}^{d-1} log(S - j/d * T): the j/d steps count tied ROWS, each with the mean tied weight. So integer weights wi are not the same as replicating rows under Efron (k replicated rows are k tied events); with ties = 'breslow' a weight-k row and k replicated rows give the same fit (checked: coef agree to 4e-15 relative).",
    "loglik_init/loglik/lr_test are weighted log partial likelihoods. concordance/concordance_se are R's fit$concordance, which equals concordance(Surv(time, status) ~ lp, weights = <the weights>, reverse = TRUE) on the complete rows: weighted pair counts (checked for cox_w_efron).",
    "glm: weights are prior weights. binomial with integer wi equals wi replicated Bernoulli rows; poisson with non-integer w gives no warning here (y is 0/1, aic = -2 sum w log dpois(y, mu)); gaussian: dispersion = weighted RSS / df_residual, aic = n (log(2 pi RSS_w / n) + 1) + 2 - sum(log w) + 2 p (R: gaussian()$aic + 2 rank; the + 2 counts the dispersion), RSS_w = sum w (y - mu)^2 = deviance.",
    paste0("ties = 'exact' with case weights: R stops with an error: '", exact, "' (", exact_call,
           "); integer weights wi give the same error ('", exact_wi, "'). R only accepts ties = 'exact' when every weight is 1."))),
  generated_with = versions(),
  fits = fits)
write_json(obj, "expected/15_weighted_colon.json")
cat("15_weighted_colon:", length(fits), "fits\n")
