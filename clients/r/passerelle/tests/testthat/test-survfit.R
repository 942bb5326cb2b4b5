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
