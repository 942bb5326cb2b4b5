test_that("a federated logistic model is glm on the pooled data", {
  hub <- test_hub()
  fit <- ps_glm(hub, status ~ rx + age + sex + obstruct, family = binomial, dataset = "colon",
                quiet = TRUE)
  r <- stats::glm(status ~ rx + age + sex + obstruct, family = binomial, data = pooled())
  expect_s3_class(fit, c("ps_glm", "glm"))
  expect_identical(names(coef(fit)), names(coef(r)))
  expect_close(coef(fit), coef(r))
  expect_close(vcov(fit), vcov(r))
  expect_close(fit$deviance, r$deviance)
  expect_close(fit$null.deviance, r$null.deviance)
  expect_equal(fit$df.residual, r$df.residual)
  expect_close(AIC(fit), AIC(r))
  expect_close(logLik(fit), logLik(r))
  expect_equal(attr(logLik(fit), "df"), attr(logLik(r), "df"))
  expect_equal(nobs(fit), nobs(r))
  expect_close(summary(fit)$coefficients, summary(r)$coefficients)
  expect_close(suppressMessages(confint(fit)), confint.default(r))
  # print() as R's; summary() as R's but for the deviance residuals, which stay at the sites.
  expect_identical(printed(fit), printed(r))
  ours <- printed(summary(fit))
  theirs <- printed(summary(r))
  from <- function(lines) lines[grep("^Coefficients:", lines):length(lines)]
  expect_identical(from(ours), from(theirs))
  expect_match(ours, "not released", all = FALSE)
  expect_error(residuals(fit), "records stay at the sites")
})

test_that("a Poisson model with an offset is glm on the pooled data", {
  hub <- test_hub()
  fit <- ps_glm(hub, status ~ rx + sex + offset(log(time)), family = "poisson",
                dataset = "colon", quiet = TRUE)
  r <- stats::glm(status ~ rx + sex + offset(log(time)), family = poisson, data = pooled())
  expect_close(coef(fit), coef(r))
  expect_close(vcov(fit), vcov(r))
  expect_close(AIC(fit), AIC(r))
  expect_identical(printed(fit), printed(r))
})
