test_that("a federated Cox model is survival's coxph on the pooled data with strata(site)", {
  hub <- test_hub()
  fit <- ps_coxph(hub, Surv(time, status) ~ rx + age + sex + obstruct + strata(site),
                  dataset = "colon", subset = age >= 18, quiet = TRUE)
  r <- survival::coxph(Surv(time, status) ~ rx + age + sex + obstruct + strata(site),
                       data = pooled(), subset = age >= 18)
  expect_s3_class(fit, c("ps_coxph", "coxph"))
  expect_identical(names(coef(fit)), names(coef(r)))
  expect_close(coef(fit), coef(r))
  expect_close(vcov(fit), vcov(r))
  expect_close(fit$loglik, r$loglik)
  expect_close(fit$score, r$score)
  expect_close(fit$wald.test, r$wald.test)
  expect_close(fit$means, r$means)
  expect_equal(fit$n, r$n)
  expect_equal(fit$nevent, r$nevent)
  expect_close(fit$concordance[6:7], r$concordance[6:7])
  expect_close(confint(fit), confint(r))
  expect_close(AIC(fit), AIC(r))
  expect_close(summary(fit)$coefficients, summary(r)$coefficients)
  # R's printed digits, line for line (but for the call).
  expect_identical(printed(fit), printed(r))
  expect_identical(printed(summary(fit)), printed(summary(r)))
  expect_identical(attr(fit, "passerelle")$sites, c("lyon", "wuhan"))
})

test_that("ties, and case weights with the robust variance, are R's", {
  hub <- test_hub()
  d <- pooled()
  fit <- ps_coxph(hub, Surv(time, status) ~ rx + age + strata(site), dataset = "colon",
                  ties = "breslow", quiet = TRUE)
  r <- survival::coxph(Surv(time, status) ~ rx + age + strata(site), data = d,
                       ties = "breslow")
  expect_close(coef(fit), coef(r))
  expect_close(vcov(fit), vcov(r))
  expect_identical(printed(summary(fit)), printed(summary(r)))

  w <- ps_coxph(hub, Surv(time, status) ~ rx + age + strata(site), dataset = "colon",
                weights = w, quiet = TRUE)
  rw <- survival::coxph(Surv(time, status) ~ rx + age + strata(site), data = d, weights = w)
  expect_false(is.null(w$naive.var))
  expect_close(coef(w), coef(rw))
  expect_close(vcov(w), vcov(rw))
  expect_close(w$naive.var, rw$naive.var)
  expect_close(w$rscore, rw$rscore)
  expect_identical(printed(w), printed(rw))
  expect_identical(printed(summary(w)), printed(summary(rw)))
})

test_that("what needs the records says so", {
  hub <- test_hub()
  fit <- ps_coxph(hub, Surv(time, status) ~ rx + age + sex + strata(site), dataset = "colon",
                  quiet = TRUE)
  expect_error(residuals(fit), "records stay at the sites")
  expect_error(predict(fit), "records stay at the sites")
  expect_error(survival::survfit(fit), "ps_survfit")
  pdf(NULL)
  on.exit(dev.off())
  drawn <- plot(fit)
  expect_equal(drawn$estimate, unname(exp(coef(fit))), tolerance = 1e-12)
})

test_that("broom tidies a federated fit as it tidies the local one", {
  hub <- test_hub()
  d <- pooled()
  fit <- ps_coxph(hub, Surv(time, status) ~ rx + age + sex + strata(site), dataset = "colon",
                  quiet = TRUE)
  r <- survival::coxph(Surv(time, status) ~ rx + age + sex + strata(site), data = d)
  ours <- broom::tidy(fit, conf.int = TRUE, exponentiate = TRUE)
  theirs <- broom::tidy(r, conf.int = TRUE, exponentiate = TRUE)
  expect_identical(ours$term, theirs$term)
  expect_close(as.matrix(ours[, -1]), as.matrix(theirs[, -1]))
  expect_close(broom::glance(fit)[, c("n", "nevent", "statistic.log", "logLik", "AIC")],
               broom::glance(r)[, c("n", "nevent", "statistic.log", "logLik", "AIC")])
  g <- ps_glm(hub, status ~ rx + age + sex, family = binomial, dataset = "colon", quiet = TRUE)
  rg <- stats::glm(status ~ rx + age + sex, family = binomial, data = d)
  tidied <- suppressWarnings(broom::tidy(g))  # broom says its glm tidier serves ps_glm
  expect_close(as.matrix(tidied[, -1]), as.matrix(broom::tidy(rg)[, -1]))
})

test_that("progress is shown while a study runs, and not with quiet = TRUE", {
  hub <- test_hub()
  expect_message(ps_coxph(hub, Surv(time, status) ~ rx + age + sex + strata(site),
                          dataset = "colon"),
                 "study [0-9]+ submitted")
  expect_silent(ps_coxph(hub, Surv(time, status) ~ rx + age + sex + strata(site),
                         dataset = "colon", quiet = TRUE))
})
