# Writes expected/16_finegray_mgus2.json: Fine-Gray subdistribution hazard models as survival
# fits them (finegray() expands the data with IPCW weights, then a weighted counting-process
# coxph), on data/mgus2_fg.csv (survival's mgus2, written by r/make_issue15_data.R).
# Run from tests/reference/:  Rscript r/16_finegray_mgus2.R
source("ref_helpers.R")

data_prep <- paste0('d <- read.csv("data/mgus2_fg.csv")\n',
                    'd$event <- factor(d$event, levels = c("censor", "pcm", "death"))\n',
                    'd$sex <- factor(d$sex, levels = c("F", "M"))')
env <- new.env(parent = globalenv())
eval(parse(text = data_prep), envir = env)

# vars: the columns the model uses (finegray's "~ ." takes all of them; its na.action is na.pass,
# so rows with a missing covariate count in the censoring distribution and coxph drops them)
fg_fit <- function(name, cause, covars, ties, fg_strata = NULL, federated = FALSE) {
  vars <- c("etime", "event", covars, fg_strata)
  rhs_fg <- if (is.null(fg_strata)) "." else paste0(". + strata(", fg_strata, ")")
  rhs <- paste(c(covars, if (!is.null(fg_strata)) paste0("strata(", fg_strata, ")")), collapse = " + ")
  call <- paste0('fg <- finegray(Surv(etime, event) ~ ', rhs_fg, ', data = d[, c(',
                 paste0('"', vars, '"', collapse = ", "), ')], etype = "', cause, '"); ',
                 'coxph(Surv(fgstart, fgstop, fgstatus) ~ ', rhs, ', weights = fgwt, data = fg, ties = "', ties, '")')
  f <- do_fit(name, "coxph", call, env)
  res <- f$results
  res <- c(res[c("n", "nevent")], list(n_subjects = nrow(env$d)), res[setdiff(names(res), c("n", "nevent"))])
  list(name = name, type = "coxph", r_call = call,
       request = list(`function` = "finegray", formula = paste("Surv(etime, event) ~", rhs),
                      cause = cause, ties = ties),
       federated = federated, results = res, warnings = f$warnings,
       convergence_check = f$convergence_check)
}

fits <- list(
  fg_fit("pcm_age_sex_efron", "pcm", c("age", "sex"), "efron"),
  fg_fit("pcm_age_sex_breslow", "pcm", c("age", "sex"), "breslow"),
  fg_fit("death_age_sex_hgb_efron", "death", c("age", "sex", "hgb"), "efron"),
  fg_fit("pcm_age_hgb_strata_sex_efron", "pcm", c("age", "hgb"), "efron", fg_strata = "sex"),
  fg_fit("pcm_age_sex_strata_site_efron", "pcm", c("age", "sex"), "efron", fg_strata = "site", federated = TRUE))

obj <- list(
  case_id = "16_finegray_mgus2",
  description = paste("mgus2 (survival): Fine-Gray models for progression to a plasma cell malignancy (pcm)",
                      "with death as competing risk, and for death with pcm competing: finegray() data",
                      "expansion with inverse-probability-of-censoring weights, then weighted counting-process",
                      "coxph (Efron, Breslow), censoring distribution per stratum with strata(sex) and",
                      "strata(site)."),
  data_files = arr("data/mgus2_fg.csv"),
  site_files = arr(c("data/mgus2_fg_lyon.csv", "data/mgus2_fg_wuhan.csv")),
  data_prep = data_prep,
  factor_levels = list(event = arr(c("censor", "pcm", "death")), sex = arr(c("F", "M"))),
  notes = arr(c(
    "mgus2_fg.csv (r/make_issue15_data.R): id, sex, age, hgb, creat, mspike from survival::mgus2 (hgb, creat, mspike have NAs), etime = ifelse(pstat == 1, ptime, futime), event = pcm if pstat == 1, else death if death == 1, else censor (identical to data/mgus2_competing.csv of case 13), site = lyon for odd id, wuhan for even id. Rows: lyon first, then wuhan.",
    "Each r_call keeps the model's columns (d[, vars]; finegray's na.action is na.pass, so a row with a missing covariate counts in the censoring distribution G and is dropped by coxph only), then finegray(Surv(etime, event) ~ ., etype = cause) on them: subjects with the cause, and censored subjects, are one row (0, etime] with fgwt 1 (fgstatus 1 for the cause); a subject with the competing event stays at risk past its event time: rows (0, c1], (c1, c2], ... split at censoring times c (only where an event of the cause follows, so the Cox model sees every step), fgwt = 1 on the first row and G(c_k) / G(etime) on the row starting at c_k, G the Kaplan-Meier of censoring (censor = event 'censor') in which events of either type at time t leave the risk set before censorings at t (finegray shifts event times by -0.2 on its grid of time ranks; checked: G(c)/G(etime) from survfit(Surv(etime - 0.2 * (event != 'censor'), event == 'censor') ~ 1) reproduces fgwt to 0).",
    "n = fit$n is the number of expanded rows coxph uses; nevent the number of events of the cause; n_subjects the rows of d given to finegray; n_omitted_na = expanded rows coxph dropped for an NA in a model variable.",
    "strata: finegray takes strata in its formula, Surv(etime, event) ~ . + strata(sex): G is then a Kaplan-Meier of censoring computed separately per stratum, and the expansion done per stratum (checked: identical to rbind of finegray run on each stratum's rows alone). The coxph then also has + strata(sex) (separate baseline subdistribution hazards). The strata(site) fit is exactly decomposable by site (G, risk sets and sums all within site).",
    "coxph's defaults with the non-integer weights fgwt: robust = TRUE with each EXPANDED ROW its own cluster (the finegray data has no id), so robust_se/robust_var is R's per-row sandwich (not clustered by subject); se/var are model-based (naive.var). z, p and wald_test use the robust variance, as R prints them.",
    NULL)),
  generated_with = versions(),
  fits = fits)
write_json(obj, "expected/16_finegray_mgus2.json")
cat("16_finegray_mgus2:", length(fits), "fits\n")
