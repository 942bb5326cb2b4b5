# Writes expected/14_concordance_colon.json: R's concordance() of a predictor with survival on
# data/colon_death.csv (survival's colon, deaths), unstratified and within strata, with reverse
# and with a model's linear predictor written out. Run from tests/reference/:
#   Rscript r/14_concordance_colon.R
library(survival)
d <- read.csv("data/colon_death.csv")
d$rx <- factor(d$rx, c("Obs", "Lev", "Lev+5FU"))
num <- function(x) ifelse(is.na(x), "null", sprintf("%.17g", x))
fit <- function(name, call) {
  r <- eval(parse(text = call))
  count <- if (is.matrix(r$count)) colSums(r$count) else r$count
  paste0("{\"name\": \"", name, "\", \"type\": \"concordance\", \"r_call\": \"",
         gsub("\"", "\\\\\"", call), "\",\n    \"results\": {\"concordance\": ", num(r$concordance),
         ", \"concordance_se\": ", num(sqrt(r$var)), ", \"n\": ", r$n,
         ", \"count\": {\"concordant\": ", num(count[["concordant"]]),
         ", \"discordant\": ", num(count[["discordant"]]), ", \"tied.x\": ", num(count[["tied.x"]]),
         ", \"tied.y\": ", num(count[["tied.y"]]), ", \"tied.xy\": ", num(count[["tied.xy"]]), "}}}")
}
fits <- c(
  fit("age", "concordance(Surv(time, status) ~ age, data = d)"),
  fit("nodes_reverse", "concordance(Surv(time, status) ~ nodes, data = d, reverse = TRUE)"),
  fit("age_within_rx", "concordance(Surv(time, status) ~ age + strata(rx), data = d, reverse = TRUE)"),
  fit("linear_predictor",
      "concordance(Surv(time, status) ~ I(0.02 * age + 0.1 * nodes + 0.5 * obstruct), data = d, reverse = TRUE)"))
json <- paste0(
  "{\n  \"case_id\": \"14_concordance_colon\",\n",
  "  \"description\": \"colon (survival), deaths: concordance of a predictor with survival, ",
  "unstratified, reverse, within strata, and of a linear predictor written out; NA rows dropped.\",\n",
  "  \"data_files\": [\"data/colon_death.csv\"],\n",
  "  \"data_prep\": \"d <- read.csv('data/colon_death.csv'); rx a factor Obs, Lev, Lev+5FU\",\n",
  "  \"factor_levels\": {\"rx\": [\"Obs\", \"Lev\", \"Lev+5FU\"]},\n",
  "  \"generated_with\": \"", R.version.string, ", survival ", packageVersion("survival"), "\",\n",
  "  \"fits\": [", paste(fits, collapse = ",\n    "), "]\n}\n")
writeLines(json, "expected/14_concordance_colon.json")
