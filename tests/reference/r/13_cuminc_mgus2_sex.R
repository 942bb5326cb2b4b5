# Writes data/mgus2_competing.csv and expected/13_cuminc_mgus2_sex.json: competing risks
# (progression to a plasma cell malignancy, or death first) in survival's mgus2, as R's
# multi-state survfit gives them. Run from tests/reference/: Rscript r/13_cuminc_mgus2_sex.R
library(survival)
d <- mgus2
d$etime <- ifelse(d$pstat == 0, d$futime, d$ptime)
d$event <- factor(ifelse(d$pstat == 0, 2 * d$death, 1), 0:2, c("censor", "pcm", "death"))
d <- d[, c("id", "sex", "age", "etime", "event")]
write.csv(d, "data/mgus2_competing.csv", row.names = FALSE, quote = FALSE)

num <- function(x) {
  if (length(x) == 0) return("[]")
  s <- ifelse(is.na(x), "null", sprintf("%.17g", x))
  paste0("[", paste(s, collapse = ", "), "]")
}
mat <- function(m) paste0("[", paste(apply(m, 2, num), collapse = ", "), "]")  # [state][time]
str <- function(x) paste0("[", paste0("\"", x, "\"", collapse = ", "), "]")

fit <- survfit(Surv(etime, event) ~ sex, data = d)
strata <- c()
ends <- cumsum(fit$strata)
starts <- c(1, head(ends, -1) + 1)
for (s in seq_along(fit$strata)) {
  i <- starts[s]:ends[s]
  n <- fit$n[s]
  strata <- c(strata, paste0(
    "{\"stratum\": \"", names(fit$strata)[s], "\", \"n\": ", n,
    ", \"table\": {\"time\": ", num(fit$time[i]),
    ", \"n.risk\": ", num(fit$n.risk[i, 1]),
    ", \"n.censor\": ", num(fit$n.censor[i]),
    ", \"n.event\": ", mat(fit$n.event[i, 2:3, drop = FALSE]),
    ", \"pstate\": ", mat(fit$pstate[i, , drop = FALSE]),
    ", \"std.err\": ", mat(fit$std.err[i, , drop = FALSE]),
    ", \"lower\": ", mat(fit$lower[i, , drop = FALSE]),
    ", \"upper\": ", mat(fit$upper[i, , drop = FALSE]), "}}"))
}
json <- paste0(
  "{\n  \"case_id\": \"13_cuminc_mgus2_sex\",\n",
  "  \"description\": \"mgus2 (survival): progression to a plasma cell malignancy (pcm) or death ",
  "first, competing; Aalen-Johansen cumulative incidence by sex, infinitesimal jackknife ",
  "standard errors, conf.type = 'log' (95%).\",\n",
  "  \"data_files\": [\"data/mgus2_competing.csv\"],\n",
  "  \"data_prep\": \"written by r/13_cuminc_mgus2_sex.R from survival::mgus2\",\n",
  "  \"factor_levels\": {\"event\": [\"censor\", \"pcm\", \"death\"]},\n",
  "  \"generated_with\": \"", R.version.string, ", survival ", packageVersion("survival"), "\",\n",
  "  \"fits\": [{\"name\": \"cuminc_by_sex\", \"type\": \"survfit\", ",
  "\"r_call\": \"survfit(Surv(etime, event) ~ sex, data = d)\",\n",
  "    \"results\": {\"conf_type\": \"log\", \"states\": ", str(fit$states), ",\n",
  "      \"strata\": [", paste(strata, collapse = ",\n        "), "]}}]\n}\n")
writeLines(json, "expected/13_cuminc_mgus2_sex.json")
