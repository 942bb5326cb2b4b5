# R's side of bench/postgres: the CSV read with fread, the endpoints derived as the import
# derives them (docs/dictionaries.md), then one analysis, as one command; its estimates written
# to OUT, one line each (a model's coefficients; a curve's n, events and median by group), for
# the benchmark to compare with the node's. The curve's times are on the node's 30-day grid.
#   Rscript bench/postgres_r.R FILE.csv coxph|glm|survfit OUT
suppressMessages({ library(survival); library(data.table) })
args <- commandArgs(trailingOnly = TRUE)
d <- fread(args[1])
dx <- as.IDate(d$diagnosis_date)
dead <- !is.na(d$death_date)
end <- as.IDate(ifelse(dead, d$death_date, d$last_followup_date))
d[, `:=`(age_dx = year(dx) - birth_year,
         os_days = as.integer(end - dx),
         os_event = as.integer(dead),
         n_stage = fifelse(is.na(pn_stage) | pn_stage == "", cn_stage, pn_stage),
         m_stage = cm_stage)]
d[os_days < 0, `:=`(os_days = NA, os_event = NA)]
d <- as.data.frame(d)
d$organ <- factor(d$organ, c("prostate", "bladder", "kidney", "upper_tract", "testis", "penis"))
fit <- switch(args[2],
  coxph = coxph(Surv(os_days, os_event) ~ age_dx + organ + I(m_stage != "M0"), data = d,
                ties = "efron"),
  glm = glm(I(n_stage == "N1") ~ age_dx + organ, family = binomial, data = d),
  survfit = survfit(Surv(ceiling(os_days / 30) * 30, os_event) ~ organ, data = d))
estimates <- if (args[2] == "survfit") {
  t <- summary(fit)$table
  sprintf("%d %d %s", as.integer(t[, "n.max"]), as.integer(t[, "events"]),
          ifelse(is.na(t[, "median"]), "NA", format(t[, "median"])))
} else {
  sprintf("%.17g", coef(fit))
}
writeLines(estimates, args[3])
