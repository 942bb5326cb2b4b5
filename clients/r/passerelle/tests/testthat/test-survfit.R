on_grid <- function(d, bin = 30) transform(d, time = ceiling(time / bin) * bin)

# The rows of a survfit object's stratum `s` with times up to `to`, as a data frame.
rows_of <- function(fit, s, to = Inf) {
  first <- c(0, cumsum(fit$strata))[s] + 1
  rows <- first:(first + fit$strata[s] - 1)
  rows <- rows[fit$time[rows] <= to]
  data.frame(time = fit$time[rows], n.risk = fit$n.risk[rows], n.event = fit$n.event[rows],
             n.censor = fit$n.censor[rows], surv = fit$surv[rows],
             std.err = fit$std.err[rows], lower = fit$lower[rows], upper = fit$upper[rows],
             cumhaz = fit$cumhaz[rows], std.chaz = fit$std.chaz[rows])
}

test_that("a federated Kaplan-Meier curve is survfit on the pooled data on the time grid", {
  hub <- test_hub()
  km <- ps_survfit(hub, Surv(time, status) ~ rx, dataset = "colon", bin_days = 30, quiet = TRUE)
  r <- survival::survfit(Surv(time, status) ~ rx, data = on_grid(pooled()))
  expect_s3_class(km, "survfit")
  expect_identical(names(km$strata), names(r$strata))
  expect_close(km$n, r$n)
  for (s in seq_along(r$strata)) {
    # Each site releases its curve while k or more patients remain at risk: the pooled curve
    # is shown to the last day every site released, and equals R's to that day.
    to <- if (is.null(km$shown_to)) Inf else km$shown_to[[s]]
    if (is.na(to)) to <- Inf
    ours <- rows_of(km, s)
    expect_equal(nrow(ours), nrow(rows_of(r, s, max(ours$time))))
    expect_close(as.matrix(ours), as.matrix(rows_of(r, s, max(ours$time))))
  }
  expect_identical(printed(summary(km, times = c(365, 730, 1095))),
                   printed(summary(r, times = c(365, 730, 1095))))
  pdf(NULL)
  on.exit(dev.off())
  expect_silent(plot(km, col = 1:3, conf.int = FALSE))
})

test_that("a federated log-rank test is survdiff with the sites as strata", {
  hub <- test_hub()
  lr <- ps_survdiff(hub, Surv(time, status) ~ rx + strata(site), dataset = "colon", quiet = TRUE)
  r <- survival::survdiff(Surv(time, status) ~ rx + strata(site), data = pooled())
  expect_s3_class(lr, "survdiff")
  expect_close(lr$chisq, r$chisq)
  expect_close(lr$obs, r$obs)
  expect_close(lr$exp, r$exp)
  expect_close(lr$var, r$var)
  expect_close(lr$pvalue, r$pvalue)
  expect_identical(printed(lr), printed(r))
})

test_that("competing events give R's survfitms: probabilities in each state", {
  hub <- test_hub()
  # Two causes of death for the test: with (2) or without (1) an obstructed colon.
  ci <- ps_survfit(hub, Surv(time, factor(status * (1 + obstruct))) ~ 1, dataset = "colon",
                   quiet = TRUE)
  r <- survival::survfit(Surv(time, factor(status * (1 + obstruct))) ~ 1,
                         data = on_grid(pooled()))
  expect_s3_class(ci, c("survfitms", "survfit"))
  expect_identical(ci$states, r$states)
  shown <- seq_along(ci$time)
  expect_close(ci$time, r$time[shown])
  for (name in c("n.risk", "n.event", "pstate", "std.err", "lower", "upper", "cumhaz")) {
    expect_close(ci[[name]], r[[name]][shown, , drop = FALSE])
  }
  expect_identical(printed(summary(ci, times = c(365, 730, 1825))),
                   printed(summary(r, times = c(365, 730, 1825))))
})

test_that("a federated Fine-Gray model is finegray() and coxph with the sites as strata", {
  hub <- test_hub()
  fit <- ps_finegray(hub, Surv(time, factor(status * (1 + obstruct))) ~ age + sex +
                       strata(site), dataset = "colon", cause = "1", quiet = TRUE)
  d <- pooled()
  d$event <- factor(d$status * (1 + d$obstruct))
  # finegray's `.` keeps the columns, strata(site) among them, for coxph.
  fg <- survival::finegray(Surv(time, event) ~ . + strata(site),
                           data = d[, c("time", "event", "age", "sex", "site")], etype = "1")
  r <- survival::coxph(Surv(fgstart, fgstop, fgstatus) ~ age + sex + strata(site),
                       weights = fgwt, data = fg)
  expect_s3_class(fit, "coxph")
  expect_close(coef(fit), coef(r))
  expect_close(vcov(fit), vcov(r))
  expect_close(fit$loglik, r$loglik)
  expect_identical(printed(summary(fit))[-1], printed(summary(r))[-1])
})
