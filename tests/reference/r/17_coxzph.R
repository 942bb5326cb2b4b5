# Writes expected/17_coxzph.json: R's cox.zph() proportional-hazards tests (per term and global,
# terms = TRUE) for Cox fits on data/veteran.csv (transforms km, rank, identity, log; Breslow;
# strata) and on data/colon_weighted.csv with strata(site) (written by r/make_issue15_data.R).
# Run from tests/reference/:  Rscript r/17_coxzph.R
source("ref_helpers.R")

data_prep <- paste0(
  'd <- read.csv("data/veteran.csv")\n',
  'd$celltype <- factor(d$celltype, levels = c("squamous", "smallcell", "adeno", "large"))\n',
  'dw <- read.csv("data/colon_weighted.csv")\n',
  'dw$rx <- factor(dw$rx, levels = c("Obs", "Lev", "Lev+5FU"))')
env <- new.env(parent = globalenv())
eval(parse(text = data_prep), envir = env)

zph <- function(name, data, data_file, formula, transform, ties = "efron", federated = FALSE) {
  call <- paste0('cox.zph(coxph(', formula, ', data = ', data,
                 if (ties != "efron") paste0(', ties = "', ties, '"'), '), transform = "', transform,
                 '", terms = TRUE)')
  r <- run_call(call, env)
  tab <- r$value$table
  list(name = name, type = "coxzph", r_call = call, data_file = data_file,
       request = list(`function` = "coxzph", formula = formula, ties = ties, transform = transform),
       federated = federated,
       results = list(transform = r$value$transform, rownames = arr(rownames(tab)),
                      chisq = arr(unname(tab[, "chisq"])), df = arr(unname(tab[, "df"])),
                      p = arr(unname(tab[, "p"]))),
       warnings = arr(r$warnings))
}

FV <- "Surv(time, status) ~ trt + karno + celltype"
FC <- "Surv(time, status) ~ rx + age + nodes + strata(site)"
vet <- "data/veteran.csv"; col <- "data/colon_weighted.csv"
fits <- list(
  zph("veteran_km", "d", vet, FV, "km"),
  zph("veteran_rank", "d", vet, FV, "rank"),
  zph("veteran_identity", "d", vet, FV, "identity"),
  zph("veteran_log", "d", vet, FV, "log"),
  zph("veteran_km_breslow", "d", vet, FV, "km", ties = "breslow"),
  zph("veteran_km_strata_prior", "d", vet, paste(FV, "+ strata(prior)"), "km"),
  zph("colon_strata_site_identity", "dw", col, FC, "identity", federated = TRUE),
  zph("colon_strata_site_log", "dw", col, FC, "log", federated = TRUE),
  zph("colon_strata_site_km", "dw", col, FC, "km"))  # across sites km is refused: it needs the pooled curve

obj <- list(
  case_id = "17_coxzph",
  description = paste("Proportional-hazards tests, R's cox.zph(fit, transform, terms = TRUE): per-term score",
                      "tests (a factor is one term with k - 1 df) and the GLOBAL test, for veteran",
                      "(Efron with transforms km, rank, identity, log; Breslow; strata(prior)) and for colon",
                      "deaths at two sites with strata(site)."),
  data_files = arr(c(vet, col)),
  data_frames = list(d = vet, dw = col),
  site_files = arr(c("data/colon_weighted_lyon.csv", "data/colon_weighted_wuhan.csv")),
  data_prep = data_prep,
  factor_levels = list(celltype = arr(c("squamous", "smallcell", "adeno", "large")),
                       rx = arr(c("Obs", "Lev", "Lev+5FU"))),
  notes = arr(c(
    "Two unrelated data sets: data_files are NOT to be stacked into one table (unlike case 12). data_frames maps the R names to files (d = veteran.csv, dw = colon_weighted.csv) and each fit's data_file says which one it uses; site_files apply to the dw fits (federated: true).",
    "results: the rows of cox.zph(...)$table: rownames = the model's terms (R's term labels, e.g. celltype, rx) then GLOBAL; chisq, df, p (chi-square upper tail).",
    "cox.zph (survival 3.x) is a score test at the fitted beta for adding beta_j * g(t) terms, g(t) = transformed time centred at its mean over the event rows; the test uses the full information matrix of (beta, the new terms) (not the older Grambsch-Therneau approximation), so its numbers differ from survival 2.x.",
    "Transforms of the time of each row: identity = t; log = log(t); rank = rank(t) over ALL rows of the fit (censored included, ties averaged); km = 1 - S(t-) with S the Kaplan-Meier of the whole fit's data, one curve ignoring strata and without case weights (survival:::survfitKM on y). Strata: risk sets within strata, the transform and its centring pooled over strata.",
    "ties: the Efron or Breslow method of the fit is also used for the zph score and information.",
    "colon_weighted fits: rows with NA nodes are dropped (na.omit) before everything, including the km / rank transform.")),
  generated_with = versions(),
  fits = fits)
write_json(obj, "expected/17_coxzph.json")
cat("17_coxzph:", length(fits), "fits\n")
