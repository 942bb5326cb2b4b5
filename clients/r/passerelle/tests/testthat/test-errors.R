test_that("a bad token, a hub from another CA and no hub at all are each a clear error", {
  hub <- test_hub()
  token <- tempfile()
  writeLines("not-a-token", token)
  Sys.chmod(token, "600")
  expect_error(ps_connect(hub$url, ca = hub$ca, token_file = token),
               class = "passerelle_permission_denied", regexp = "token")

  other <- tempfile()
  system2(Sys.getenv("PASSERELLE_TEST_BIN"), c("pki", "init", other), stdout = FALSE)
  expect_error(ps_connect(hub$url, ca = file.path(other, "ca.crt"),
                          token_file = Sys.getenv("PASSERELLE_TEST_TOKEN_FILE")),
               class = "passerelle_connection", regexp = "certificate")

  closed <- sub(":[0-9]+$", ":1", hub$url)
  expect_error(ps_connect(closed, ca = hub$ca,
                          token_file = Sys.getenv("PASSERELLE_TEST_TOKEN_FILE")),
               class = "passerelle_connection", regexp = "no hub answers")
  expect_error(ps_connect(hub$url, ca = "nowhere.crt", token = "x"), "no file 'nowhere.crt'")
  expect_warning(ps_connect(hub$url, ca = hub$ca,
                            token_file = local({
                              f <- tempfile()
                              file.copy(Sys.getenv("PASSERELLE_TEST_TOKEN_FILE"), f)
                              Sys.chmod(f, "644")
                              f
                            })),
                 "readable by other accounts")
  expect_false(any(grepl(readLines(Sys.getenv("PASSERELLE_TEST_TOKEN_FILE")),
                         utils::capture.output(print(hub), str(hub)), fixed = TRUE)))
})

test_that("options are checked against the hub's registry before anything is sent", {
  hub <- test_hub()
  expect_error(ps_analysis(hub, "coxph", formula = Surv(time, status) ~ rx, dataset = "colon",
                           tiez = "efron"),
               "no option 'tiez'")
  expect_error(ps_coxph(hub, Surv(time, status) ~ rx, dataset = "colon", tiez = "efron"),
               "unused argument")
  expect_error(ps_analysis(hub, "glm", formula = status ~ rx, dataset = "colon"),
               "family is required")
  expect_error(ps_analysis(hub, "kaplan", formula = status ~ rx, dataset = "colon"),
               "this hub runs coxph, survfit")
  expect_error(ps_survdiff(hub, Surv(time, status) ~ rx, dataset = "colon", bin_days = "x"),
               "bin_days: must be a number")
  expect_setequal(ps_analyses(hub)$analysis,
                  c("coxph", "survfit", "survdiff", "glm", "table", "describe",
                    "concordance", "finegray", "coxzph", "calibration"))
  sites <- ps_sites(hub)
  expect_identical(sites$site, c("lyon", "wuhan"))
  expect_true(all(sites$online))
  expect_identical(sites$datasets, c("colon", "colon"))
  expect_identical(sites$versions, c("1", "1"))
})

test_that("a refusal is a passerelle_refusal condition with the site and the rule", {
  hub <- test_hub()
  # A grid finer than the sites' min_time_bin_days: refused on the request alone, the rule named.
  e <- tryCatch(ps_survfit(hub, Surv(time, status) ~ rx, dataset = "colon", bin_days = 1,
                           quiet = TRUE),
                passerelle_refusal = function(e) e)
  expect_s3_class(e, "passerelle_refusal")
  expect_true(e$site %in% c("lyon", "wuhan"))
  expect_identical(e$rule, "min_time_bin_days")
  # A model over all records but the few without `nodes`, after models over all of them: the
  # differencing rule. The site is named; the rule is not (it would tell on which side of a
  # threshold the records lie), and no number is.
  e <- tryCatch(ps_coxph(hub, Surv(time, status) ~ rx + nodes + strata(site),
                         dataset = "colon", quiet = TRUE),
                passerelle_refusal = function(e) e)
  expect_s3_class(e, "passerelle_refusal")
  expect_identical(e$site, "lyon")
  expect_true(is.na(e$rule))
  expect_false(grepl("[0-9]", conditionMessage(e)))
})

test_that("a site that is offline is named before the study is sent", {
  hub <- test_hub()
  fed <- Sys.getenv("PASSERELLE_TEST_FEDERATION")
  bin <- Sys.getenv("PASSERELLE_TEST_BIN")
  system2(bin, c("pki", "issue", file.path(fed, "ca"), "--name", "shanghai", "--out",
                 file.path(fed, "shanghai-certs")), stdout = FALSE)
  system2(bin, c("hub", "site", "add", file.path(fed, "hub"), "--name", "shanghai", "--cert",
                 file.path(fed, "shanghai-certs", "shanghai.crt"), "--ca",
                 file.path(fed, "ca", "ca.crt")), stdout = FALSE)
  on.exit(system2(bin, c("hub", "site", "remove", file.path(fed, "hub"), "--name", "shanghai"),
                  stdout = FALSE))
  expect_error(ps_coxph(hub, Surv(time, status) ~ rx + strata(site), dataset = "colon"),
               class = "passerelle_offline", regexp = "site shanghai is offline")
  fit <- ps_coxph(hub, Surv(time, status) ~ rx + strata(site), dataset = "colon",
                  sites = c("lyon", "wuhan"), quiet = TRUE)
  expect_identical(attr(fit, "passerelle")$sites, c("lyon", "wuhan"))
  # A study file that names its sites is checked for those only.
  path <- tempfile(fileext = ".json")
  writeLines(jsonlite::toJSON(list(title = "two sites", dataset = "colon", sites = c("lyon", "wuhan"),
                                   analyses = list(list(id = "km", `function` = "survfit",
                                                        formula = "Surv(time, status) ~ rx"))),
                              auto_unbox = TRUE), path)
  expect_s3_class(ps_study(hub, path, quiet = TRUE)$km, "survfit")
})

test_that("ps_analysis takes a subset as R writes it, and any option of the hub's registry", {
  hub <- test_hub()
  fit <- ps_analysis(hub, "coxph", formula = Surv(time, status) ~ rx + age + sex + strata(site),
                     subset = age >= 18, ties = "efron", dataset = "colon", quiet = TRUE)
  r <- survival::coxph(Surv(time, status) ~ rx + age + sex + strata(site), data = pooled(),
                       subset = age >= 18)
  expect_close(coef(fit), coef(r))
  expect_identical(attr(fit, "passerelle")$request$subset, "age >= 18")
  # A subset built in code: a string (or an expression) through do.call, as with R's own.
  cut <- 18
  fit <- do.call(ps_coxph, list(hub, Surv(time, status) ~ rx + age + sex + strata(site),
                                subset = paste("age >=", cut), dataset = "colon", quiet = TRUE))
  expect_close(coef(fit), coef(r))
  # As written, an expression is the sites' to evaluate: paste() is not one they know.
  expect_error(ps_analysis(hub, "coxph", formula = Surv(time, status) ~ rx + strata(site),
                           subset = paste("age >=", cut), dataset = "colon", quiet = TRUE),
               "unknown function paste")
})
