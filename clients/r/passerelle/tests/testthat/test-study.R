# A custodian's decision at a site, with the node's own command (as the demo does).
approve <- function(site, protocol) {
  dir <- test_file_of(site)
  for (i in 1:100) {
    status <- system2(Sys.getenv("PASSERELLE_TEST_BIN"),
                      c("node", "protocol", "approve", dir, protocol, "--reason",
                        shQuote("approved for the R client's tests")),
                      stdout = FALSE, stderr = FALSE)
    if (status == 0) return(invisible(TRUE))
    Sys.sleep(0.1)  # the node has not received it yet
  }
  stop("site ", site, " did not receive protocol ", protocol)
}

test_that("a study under a protocol its custodians approved runs every analysis as objects", {
  hub <- test_hub()
  cox <- "Surv(time, status) ~ rx + age + sex + strata(site)"
  protocol <- list(
    protocol = "colon-r-client", title = "colon, from R", dataset = "colon",
    researchers = list("researcher"), expires = "2099-12-31",
    analyses = list(
      list(id = "cox", `function` = "coxph", formula = cox),
      list(id = "km", `function` = "survfit", formula = "Surv(time, status) ~ rx",
           bin_days = 30),
      list(id = "zph", `function` = "coxzph", formula = cox, transform = "identity"),
      list(id = "logit", `function` = "glm", family = "binomial",
           formula = "status ~ rx + age + sex")))
  submitted <- ps_protocol_submit(hub, protocol)
  expect_identical(submitted$name, "colon-r-client")
  for (site in c("lyon", "wuhan")) approve(site, submitted$protocol)
  for (i in 1:100) {  # each node tells the hub its custodian's decision with its next poll
    listed <- ps_protocols(hub)
    if (all(listed$status[listed$protocol == submitted$protocol] == "approved")) break
    Sys.sleep(0.1)
  }
  expect_setequal(listed$status[listed$protocol == submitted$protocol], "approved")

  path <- tempfile(fileext = ".json")
  writeLines(jsonlite::toJSON(list(title = "colon, from R", dataset = "colon",
                                   protocol = "colon-r-client"), auto_unbox = TRUE), path)
  res <- ps_study(hub, path, quiet = TRUE)
  expect_s3_class(res, "ps_study")
  expect_identical(names(res), c("cox", "km", "zph", "logit"))
  d <- pooled()
  r <- survival::coxph(stats::as.formula(cox), data = d)
  expect_close(coef(res$cox), coef(r))
  expect_identical(printed(summary(res$cox)), printed(summary(r)))
  expect_s3_class(res$km, "survfit")
  zph <- survival::cox.zph(r, transform = "identity")
  expect_s3_class(res$zph, "cox.zph")
  expect_close(res$zph$table, zph$table)
  expect_identical(printed(res$zph), printed(zph))
  expect_close(coef(res$logit),
               coef(stats::glm(status ~ rx + age + sex, family = binomial, data = d)))
  expect_output(print(res), "\\$cox  ps_coxph/coxph")

  report <- tempfile(fileext = ".html")
  ps_report(hub, res, report)
  html <- paste(readLines(report, warn = FALSE), collapse = "\n")
  expect_match(html, "<html", fixed = TRUE)
  expect_match(html, "colon, from R", fixed = TRUE)
})

test_that("concordance, Fine-Gray and calibration come back as R's objects and tables", {
  hub <- test_hub()
  d <- pooled()
  c1 <- ps_concordance(hub, Surv(time, status) ~ age + strata(site), dataset = "colon",
                       reverse = TRUE, quiet = TRUE)
  rc <- survival::concordance(Surv(time, status) ~ age + strata(site), data = d,
                              reverse = TRUE)
  expect_s3_class(c1, "concordance")
  expect_close(c1$concordance, rc$concordance)
  expect_close(c1$count[1:3], colSums(rc$count)[1:3])
  # Pairs tied in time are released by a site when none or at least k: else NA.
  ties <- colSums(rc$count)[4:5]
  expect_true(all(is.na(c1$count[4:5]) | c1$count[4:5] == ties))
  expect_close(sqrt(c1$var), sqrt(rc$var))

  cal <- ps_calibration(hub, Surv(time, status) ~ age, dataset = "colon", time = 1825,
                        baseline = 0.6, groups = 4, quiet = TRUE)
  expect_s3_class(cal, "data.frame")
  expect_true(all(c("group", "n", "predicted", "observed", "lower", "upper") %in% names(cal)))
  expect_equal(attr(cal, "time"), 1825)
})
