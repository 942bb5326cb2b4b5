#!/usr/bin/env Rscript
## make_reference.R -- regenerates tests/reference/data/*.csv and
## tests/reference/expected/*.json from the R 'survival' package.
##
##   cd tests/reference && Rscript make_reference.R
##
## Needs: r-base-core (R 4.2.2 on Debian 12) and r-cran-survival (3.5-3).
## Every reference result is computed from the CSV files as read back with
## read.csv(), never from the in-package objects, so the CSV files alone
## reproduce the numbers.  The script also checks that the CSV round trip
## gives the same fits as the package objects.

args <- commandArgs(trailingOnly = FALSE)
fa <- sub("^--file=", "", args[grep("^--file=", args)])
here <- if (length(fa)) dirname(normalizePath(fa)) else getwd()
setwd(here)
source(file.path(here, "ref_helpers.R"))

datadir <- file.path(here, "data")
expdir  <- file.path(here, "expected")
dir.create(datadir, showWarnings = FALSE)
dir.create(expdir, showWarnings = FALSE)
unlink(file.path(expdir, "*.json"))

cat("R:", R.version.string, " survival:", as.character(packageVersion("survival")), "\n")

## ------------------------------------------------------------ 1. data ----
## bladder1: rtumor / rsize are stored in the package as character with "."
## for "not measured" (SAS-style missing); exported as integers with NA.
b1 <- survival::bladder1
for (v in c("rtumor", "rsize")) b1[[v]] <- suppressWarnings(as.integer(ifelse(b1[[v]] == ".", NA, b1[[v]])))
stopifnot(all(is.na(b1$rtumor) == (survival::bladder1$rtumor == ".")))
write_ref_csv(b1, file.path(datadir, "bladder1.csv"))
write_ref_csv(survival::bladder,  file.path(datadir, "bladder.csv"))
write_ref_csv(survival::bladder2, file.path(datadir, "bladder2.csv"))
write_ref_csv(survival::lung,     file.path(datadir, "lung.csv"))
write_ref_csv(survival::veteran,  file.path(datadir, "veteran.csv"))
write_ref_csv(survival::colon,    file.path(datadir, "colon.csv"))

## derived, one row per patient, from bladder1 (118 patients)
first <- b1[b1$enum == 1, ]
b1_first <- data.frame(id = first$id, treatment = first$treatment,
                       number = first$number, size = first$size,
                       time = first$stop, status = as.integer(first$status == 1))
write_ref_csv(b1_first, file.path(datadir, "bladder1_first_recurrence.csv"))

fu <- aggregate(stop ~ id, data = b1, FUN = max)
pat <- unique(b1[, c("id", "treatment", "number", "size", "recur")])
stopifnot(nrow(pat) == 118, !anyDuplicated(pat$id))
pat <- merge(pat, setNames(fu, c("id", "futime")), by = "id")
pat$any_recur <- as.integer(pat$recur > 0)
pat <- pat[order(pat$id), ]
write_ref_csv(pat, file.path(datadir, "bladder1_patients.csv"))

## derived: colon, death records only (etype == 2), one row per patient
cd <- survival::colon[survival::colon$etype == 2, ]
rownames(cd) <- NULL
write_ref_csv(cd, file.path(datadir, "colon_death.csv"))

## federated split of colon_death into 3 sites (fixed seed, unequal sizes)
set.seed(20240601)
site <- sample(c("site1", "site2", "site3"), nrow(cd), replace = TRUE, prob = c(0.45, 0.35, 0.20))
for (s in c("site1", "site2", "site3")) {
  x <- cd[site == s, ]
  x <- data.frame(site = s, x)
  write_ref_csv(x, file.path(datadir, paste0("colon_death_", s, ".csv")))
}

## ------------------------------------- 1b. CSV round-trip sanity check ----
chk <- function(a, b, what) {
  if (!isTRUE(all.equal(coef(a), coef(b), tolerance = 0)) ||
      !identical(a$loglik, b$loglik)) stop("CSV round trip changed the fit: ", what)
}
lungcsv <- read.csv(file.path(datadir, "lung.csv"))
chk(coxph(Surv(time, status) ~ age + sex + ph.ecog + wt.loss, survival::lung),
    coxph(Surv(time, status) ~ age + sex + ph.ecog + wt.loss, lungcsv), "lung")
colcsv <- read.csv(file.path(datadir, "colon.csv"))
colcsv$rx <- factor(colcsv$rx, levels = c("Obs", "Lev", "Lev+5FU"))
chk(coxph(Surv(time, status) ~ rx + nodes + differ + strata(etype), survival::colon),
    coxph(Surv(time, status) ~ rx + nodes + differ + strata(etype), colcsv), "colon")
b1csv <- read.csv(file.path(datadir, "bladder1.csv"))
stopifnot(identical(b1csv$rtumor, b1$rtumor), identical(b1csv$stop, survival::bladder1$stop))
cat("CSV round trip: identical fits\n")

## ---------------------------------------------------------- 2. cases ----
cat("writing expected/*.json\n")
L <- function(...) list(...)
F <- function(name, type, call) list(name = name, type = type, call = call)

make_case("01_cox_lung_efron_breslow",
  "NCCTG lung cancer: Cox PH, Efron and Breslow ties, rows with NA covariates dropped (na.omit).",
  "data/lung.csv",
  'd <- read.csv("data/lung.csv")',
  NULL,
  list(
    F("efron", "coxph", 'coxph(Surv(time, status == 2) ~ age + sex + ph.ecog, data = d, ties = "efron")'),
    F("breslow", "coxph", 'coxph(Surv(time, status == 2) ~ age + sex + ph.ecog, data = d, ties = "breslow")'),
    F("efron_6cov_more_na", "coxph", 'coxph(Surv(time, status == 2) ~ age + sex + ph.ecog + ph.karno + pat.karno + wt.loss, data = d, ties = "efron")'),
    F("breslow_6cov_more_na", "coxph", 'coxph(Surv(time, status == 2) ~ age + sex + ph.ecog + ph.karno + pat.karno + wt.loss, data = d, ties = "breslow")')),
  notes = c("status is coded 1 = censored, 2 = dead; the event indicator is status == 2.",
            "Rows with NA in any model variable are dropped (n_omitted_na)."),
  outdir = expdir, basedir = here)

make_case("02_cox_lung_stratified",
  "NCCTG lung cancer: stratified Cox PH (separate baseline hazard per stratum): strata(sex) with 2 strata and strata(inst) with 18 institutions.",
  "data/lung.csv",
  'd <- read.csv("data/lung.csv")',
  NULL,
  list(
    F("strata_sex_efron", "coxph", 'coxph(Surv(time, status == 2) ~ age + ph.ecog + strata(sex), data = d, ties = "efron")'),
    F("strata_sex_breslow", "coxph", 'coxph(Surv(time, status == 2) ~ age + ph.ecog + strata(sex), data = d, ties = "breslow")'),
    F("strata_inst_efron", "coxph", 'coxph(Surv(time, status == 2) ~ age + sex + ph.ecog + strata(inst), data = d, ties = "efron")'),
    F("strata_inst_breslow", "coxph", 'coxph(Surv(time, status == 2) ~ age + sex + ph.ecog + strata(inst), data = d, ties = "breslow")')),
  notes = c("status is coded 1 = censored, 2 = dead; the event indicator is status == 2.",
            "inst has one NA: that row is dropped together with the NA in ph.ecog.",
            "Strata with no events contribute nothing to the partial likelihood."),
  outdir = expdir, basedir = here)

make_case("03_cox_veteran_celltype_factor",
  "VA lung cancer trial: Cox PH with a 4-level categorical covariate (treatment contrasts, reference level 'squamous', which is NOT the alphabetical first level).",
  "data/veteran.csv",
  'd <- read.csv("data/veteran.csv")\nd$celltype <- factor(d$celltype, levels = c("squamous", "smallcell", "adeno", "large"))',
  list(celltype = arr(c("squamous", "smallcell", "adeno", "large"))),
  list(
    F("efron", "coxph", 'coxph(Surv(time, status) ~ trt + celltype + karno + diagtime + age + prior, data = d, ties = "efron")'),
    F("breslow", "coxph", 'coxph(Surv(time, status) ~ trt + celltype + karno + diagtime + age + prior, data = d, ties = "breslow")'),
    F("celltype_only_efron", "coxph", 'coxph(Surv(time, status) ~ celltype, data = d, ties = "efron")')),
  notes = c("Dummy columns are named <variable><level> (celltypesmallcell, ...), as R names them.",
            "trt is numeric 1 = standard, 2 = test; prior is 0 / 10."),
  outdir = expdir, basedir = here)

make_case("04_cox_bladder1_first_recurrence_ties",
  "Bladder cancer (Byar, all 3 arms, 118 patients): time to first recurrence in months; heavily tied integer times, so Efron, Breslow and exact partial likelihoods differ visibly.",
  "data/bladder1_first_recurrence.csv",
  'd <- read.csv("data/bladder1_first_recurrence.csv")\nd$treatment <- factor(d$treatment, levels = c("placebo", "pyridoxine", "thiotepa"))',
  list(treatment = arr(c("placebo", "pyridoxine", "thiotepa"))),
  list(
    F("efron", "coxph", 'coxph(Surv(time, status) ~ treatment + number + size, data = d, ties = "efron")'),
    F("breslow", "coxph", 'coxph(Surv(time, status) ~ treatment + number + size, data = d, ties = "breslow")'),
    F("exact", "coxph", 'coxph(Surv(time, status) ~ treatment + number + size, data = d, ties = "exact")')),
  notes = c("Derived from bladder1: the enum == 1 row of each patient; time = stop, status = 1 if that interval ended in a recurrence, else 0 (censoring, death included).",
            "Two patients have time 0 (censored at 0); they are in no risk set that has an event, and R keeps them (n = 118).",
            "ties = 'exact' (discrete-time conditional likelihood) is optional for an engine; included because it is R's third option."),
  outdir = expdir, basedir = here)

make_case("05_cox_bladder_wlw_cluster",
  "Bladder cancer, WLW marginal model (Wei, Lin & Weissfeld 1989): strata(enum) for recurrence number 1-4, robust (sandwich) variance clustered on patient id.",
  "data/bladder.csv",
  'd <- read.csv("data/bladder.csv")',
  NULL,
  list(
    F("efron", "coxph", 'coxph(Surv(stop, event) ~ rx + size + number + strata(enum), cluster = id, data = d, ties = "efron")'),
    F("breslow", "coxph", 'coxph(Surv(stop, event) ~ rx + size + number + strata(enum), cluster = id, data = d, ties = "breslow")')),
  notes = c("se is the model-based SE (sqrt(diag(naive.var))); robust_se is the grouped-jackknife/sandwich SE (sqrt(diag(var))) that R prints as 'robust se'.",
            "z, p and wald_test use the robust variance, as R reports them; wald_test_model_based uses the model-based one; robust_score_test is R's 'Robust' score test.",
            "rx is numeric 1 = placebo, 2 = thiotepa."),
  outdir = expdir, basedir = here)

make_case("06_cox_bladder2_ag_cluster",
  "Bladder cancer, Andersen-Gill counting-process model: Surv(start, stop, event) intervals, robust variance clustered on id.",
  "data/bladder2.csv",
  'd <- read.csv("data/bladder2.csv")',
  NULL,
  list(
    F("efron", "coxph", 'coxph(Surv(start, stop, event) ~ rx + size + number, cluster = id, data = d, ties = "efron")'),
    F("breslow", "coxph", 'coxph(Surv(start, stop, event) ~ rx + size + number, cluster = id, data = d, ties = "breslow")')),
  notes = c("Needs (start, stop] risk sets: a row is at risk at time t when start < t <= stop.",
            "Optional for an engine that only does right-censored data; see case 05 for the same robust-SE fields."),
  outdir = expdir, basedir = here)

make_case("07_km_lung_overall",
  "NCCTG lung cancer: Kaplan-Meier estimate for all 228 patients, conf.type = 'log' (95%), with Nelson-Aalen cumulative hazard.",
  "data/lung.csv",
  'd <- read.csv("data/lung.csv")',
  NULL,
  list(F("km_overall", "survfit", 'survfit(Surv(time, status == 2) ~ 1, data = d, conf.type = "log")')),
  notes = c("The table has one row per distinct time, event or censoring (censor-only times have n.event = 0).",
            "std.err is R's survfit std.err: the SE of the cumulative hazard -log S (Greenwood), not of S; std.err.surv = surv * std.err is the SE of S that summary.survfit prints.",
            "lower/upper: exp(log(surv) -/+ 1.959964 * std.err), upper truncated at 1."),
  outdir = expdir, basedir = here)

make_case("08_km_logrank_veteran",
  "VA lung cancer trial: KM by treatment arm, 2-group log-rank (rho = 0) and Peto-Peto (rho = 1), plus a 4-group log-rank by celltype.",
  "data/veteran.csv",
  'd <- read.csv("data/veteran.csv")\nd$celltype <- factor(d$celltype, levels = c("squamous", "smallcell", "adeno", "large"))',
  list(celltype = arr(c("squamous", "smallcell", "adeno", "large"))),
  list(
    F("km_by_trt", "survfit", 'survfit(Surv(time, status) ~ trt, data = d, conf.type = "log")'),
    F("logrank_trt", "survdiff", 'survdiff(Surv(time, status) ~ trt, data = d)'),
    F("petopeto_trt", "survdiff", 'survdiff(Surv(time, status) ~ trt, data = d, rho = 1)'),
    F("logrank_celltype_4groups", "survdiff", 'survdiff(Surv(time, status) ~ celltype, data = d)'),
    F("km_by_celltype", "survfit", 'survfit(Surv(time, status) ~ celltype, data = d, conf.type = "log")')),
  notes = c("When surv reaches 0 the std.err is Inf in R and lower/upper are NA: written as null.",
            "survdiff: obs/exp per group, var is the (groups x groups) variance of O - E, chisq on df = groups - 1."),
  outdir = expdir, basedir = here)

make_case("09_km_logrank_colon_rx_3groups",
  "Colon cancer adjuvant trial (death records, 929 patients): KM by treatment (Obs, Lev, Lev+5FU) and 3-group log-rank test.",
  "data/colon_death.csv",
  'd <- read.csv("data/colon_death.csv")\nd$rx <- factor(d$rx, levels = c("Obs", "Lev", "Lev+5FU"))',
  list(rx = arr(c("Obs", "Lev", "Lev+5FU"))),
  list(
    F("km_by_rx", "survfit", 'survfit(Surv(time, status) ~ rx, data = d, conf.type = "log")'),
    F("logrank_rx", "survdiff", 'survdiff(Surv(time, status) ~ rx, data = d)'),
    F("logrank_rx_strata_sex", "survdiff", 'survdiff(Surv(time, status) ~ rx + strata(sex), data = d)')),
  notes = c("colon_death.csv = colon rows with etype == 2 (death); status 1 = dead.",
            "Stratified log-rank: obs_by_stratum/exp_by_stratum are (groups x strata) matrices; obs/exp are their row sums."),
  outdir = expdir, basedir = here)

make_case("10_glm_logistic_colon",
  "Colon cancer (death records): logistic regression (binomial, logit link) of death on treatment and baseline factors.",
  "data/colon_death.csv",
  'd <- read.csv("data/colon_death.csv")\nd$rx <- factor(d$rx, levels = c("Obs", "Lev", "Lev+5FU"))',
  list(rx = arr(c("Obs", "Lev", "Lev+5FU"))),
  list(
    F("logit", "glm", 'glm(status ~ rx + sex + age + obstruct + perfor + adhere + nodes + extent, family = binomial, data = d)'),
    F("logit_rx_only", "glm", 'glm(status ~ rx, family = binomial, data = d)')),
  notes = c("se/z/p from summary.glm (dispersion 1); var = vcov(fit); iter = IRLS (Fisher scoring) iterations; glm.control defaults epsilon = 1e-8, maxit = 25.",
            "nodes has NA for some patients: those rows are dropped."),
  outdir = expdir, basedir = here)

make_case("11_glm_bladder1_poisson_offset_logistic",
  "Bladder cancer (bladder1, one row per patient): Poisson rate model of the number of recurrences with offset log(follow-up months), and logistic model of any recurrence.",
  "data/bladder1_patients.csv",
  'd <- read.csv("data/bladder1_patients.csv")\nd$treatment <- factor(d$treatment, levels = c("placebo", "pyridoxine", "thiotepa"))',
  list(treatment = arr(c("placebo", "pyridoxine", "thiotepa"))),
  list(
    F("poisson_offset", "glm", 'glm(recur ~ treatment + number + size + offset(log(futime)), family = poisson, data = d, subset = futime > 0)'),
    F("logit_any_recur", "glm", 'glm(any_recur ~ treatment + number + size, family = binomial, data = d, subset = futime > 0)')),
  notes = c("bladder1_patients.csv: futime = max(stop) over the patient's rows (months), recur = number of recurrences, any_recur = recur > 0.",
            "The 2 patients with futime = 0 are excluded by subset = futime > 0 (log(0) offset); n = 116.",
            "The offset has coefficient fixed at 1; the Poisson AIC uses the Poisson log-likelihood including log(y!)."),
  outdir = expdir, basedir = here)

make_case("12_federated_colon_3sites",
  paste("Federated case: colon death records split into 3 sites (site1, site2, site3), one CSV per site.",
        "A federated engine that never pools rows must reproduce the pooled fits: Cox stratified by site",
        "(Efron and Breslow), pooled logistic regression with and without site effects, pooled KM and the",
        "site-stratified log-rank test. Per-site local Cox fits are given for meta-analysis comparisons."),
  c("data/colon_death_site1.csv", "data/colon_death_site2.csv", "data/colon_death_site3.csv"),
  paste0('d <- rbind(read.csv("data/colon_death_site1.csv"), read.csv("data/colon_death_site2.csv"), read.csv("data/colon_death_site3.csv"))\n',
         'd$rx <- factor(d$rx, levels = c("Obs", "Lev", "Lev+5FU"))\n',
         'd$site <- factor(d$site, levels = c("site1", "site2", "site3"))'),
  list(rx = arr(c("Obs", "Lev", "Lev+5FU")), site = arr(c("site1", "site2", "site3"))),
  list(
    F("cox_strata_site_efron", "coxph", 'coxph(Surv(time, status) ~ rx + sex + age + obstruct + nodes + strata(site), data = d, ties = "efron")'),
    F("cox_strata_site_breslow", "coxph", 'coxph(Surv(time, status) ~ rx + sex + age + obstruct + nodes + strata(site), data = d, ties = "breslow")'),
    F("cox_pooled_unstratified_efron", "coxph", 'coxph(Surv(time, status) ~ rx + sex + age + obstruct + nodes, data = d, ties = "efron")'),
    F("cox_site1_only_efron", "coxph", 'coxph(Surv(time, status) ~ rx + sex + age + obstruct + nodes, data = d, subset = site == "site1", ties = "efron")'),
    F("cox_site2_only_efron", "coxph", 'coxph(Surv(time, status) ~ rx + sex + age + obstruct + nodes, data = d, subset = site == "site2", ties = "efron")'),
    F("cox_site3_only_efron", "coxph", 'coxph(Surv(time, status) ~ rx + sex + age + obstruct + nodes, data = d, subset = site == "site3", ties = "efron")'),
    F("glm_logit_pooled", "glm", 'glm(status ~ rx + sex + age + obstruct + nodes, family = binomial, data = d)'),
    F("glm_logit_site_fixed_effect", "glm", 'glm(status ~ rx + sex + age + obstruct + nodes + site, family = binomial, data = d)'),
    F("km_pooled_by_rx", "survfit", 'survfit(Surv(time, status) ~ rx, data = d, conf.type = "log")'),
    F("logrank_rx_strata_site", "survdiff", 'survdiff(Surv(time, status) ~ rx + strata(site), data = d)')),
  notes = c("Sites were drawn with set.seed(20240601); sample(c('site1','site2','site3'), replace = TRUE, prob = c(.45, .35, .20)).",
            "Stratified-by-site Cox: each site keeps its own baseline hazard and risk sets, so the partial log-likelihood, score and information are sums of per-site terms: exact federation by summing site gradients/Hessians at each Newton step.",
            "Unstratified pooled Cox needs risk sets across sites (all event times): included to show how much it differs from the site-stratified fit.",
            "Pooled glm: per-site X'WX and X'Wz summed at each IRLS step reproduce the pooled fit; rows with NA nodes are dropped locally.",
            "Pooled KM: per-time n.risk/n.event/n.censor summed over sites reproduce km_pooled_by_rx exactly."),
  outdir = expdir, basedir = here)

cat("done\n")
