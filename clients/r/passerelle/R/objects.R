# The hub's results as the objects of survival and stats, with the numbers the hub returned.
# Each object carries, as attribute "passerelle", the study's number, the sites, the hub's
# notes and text, and the provenance (each site's dataset version, its audit log's head).

# One analysis' entry of a study's result: its object, or the refusal or failure as a
# condition (signalled).
ps_object <- function(entry, answer, call = NULL) {
  notes <- unlist(entry$notes)
  if (identical(entry$status, "refused")) stop(ps_refusal(entry, notes, answer$study))
  if (!identical(entry$status, "ok")) {
    why <- if (length(notes)) paste(notes, collapse = "; ") else "failed"
    stop(ps_condition("failure", paste0(entry$`function`, ": ", why),
                      study = answer$study, notes = notes))
  }
  r <- entry$results
  request <- entry$request
  object <- switch(entry$`function`,
    coxph = ps_as_coxph(r, request, call),
    finegray = ps_as_coxph(r, request, call),
    survfit = ps_as_survfit(r, call),
    survdiff = ps_as_survdiff(r, call),
    glm = ps_as_glm(r, request, call),
    table = ps_as_table(r),
    describe = ps_as_describe(entry),
    concordance = ps_as_concordance(r, call),
    coxzph = ps_as_coxzph(r, call),
    calibration = ps_as_calibration(r),
    structure(r, class = "ps_result"))  # an analysis newer than this package: as the hub sent it
  attr(object, "passerelle") <- list(
    study = answer$study, analysis = entry$`function`, request = request,
    sites = unlist(answer$sites), notes = notes, text = entry$text,
    excluded = entry$excluded, tasks = entry$tasks, provenance = answer$provenance)
  object
}

# A site's refusal: the site and the rule, as the hub's note says them; never a number.
ps_refusal <- function(entry, notes, study) {
  text <- paste(notes, collapse = "; ")
  site <- regmatches(text, regexpr("(?<=site )[A-Za-z0-9_.-]+", text, perl = TRUE))
  rule <- regmatches(text, regexpr("(?<=rule )[a-z_]+", text, perl = TRUE))
  structure(class = c("passerelle_refusal", "passerelle_error", "error", "condition"),
            list(message = paste0(entry$`function`, " refused: ", text), call = NULL,
                 site = if (length(site)) site else NA_character_,
                 rule = if (length(rule)) rule else NA_character_,
                 notes = notes, study = study))
}

ps_names <- function(values, names) stats::setNames(as.numeric(values), unlist(names))

ps_matrix <- function(m, names) {
  m <- matrix(as.numeric(m), length(names), length(names))
  dimnames(m) <- list(unlist(names), unlist(names))
  m
}

# R's na.action for the rows a model dropped: only their number is known at the hub (and none
# when a site withheld a small one), so the rows are numbered 1..k; naprint() says "k
# observations deleted due to missingness".
ps_omitted <- function(k) {
  if (is.null(k) || is.na(k) || k == 0) return(NULL)
  structure(seq_len(k), class = "omit")
}

ps_as_coxph <- function(r, request, call) {
  names <- unlist(r$coef_names)
  robust <- !is.null(r$robust_var)
  fit <- list(coefficients = ps_names(r$coef, names),
              var = ps_matrix(if (robust) r$robust_var else r$var, names),
              loglik = c(r$loglik_init, r$loglik),
              score = r$score_test$statistic,
              iter = r$iter,
              means = ps_names(r$means, names),
              method = r$ties,
              n = r$n,
              nevent = r$nevent,
              wald.test = r$wald_test$statistic,
              concordance = c(concordant = NA, discordant = NA, tied.x = NA, tied.y = NA,
                              tied.xy = NA, concordance = r$concordance %||% NA,
                              std = r$concordance_se %||% NA),
              na.action = ps_omitted(r$n_omitted_na),
              formula = stats::as.formula(request$formula),
              call = call)
  if (robust) {
    fit$naive.var <- ps_matrix(r$var, names)
    fit$rscore <- r$robust_score_test$statistic
  }
  if (!is.null(r$propensity)) fit$propensity <- r$propensity
  structure(fit, class = c("ps_coxph", "coxph"))
}

ps_as_survfit <- function(r, call) {
  curves <- r$strata
  column <- function(name) unlist(lapply(curves, function(s) s$table[[name]]))
  n <- vapply(curves, function(s) as.numeric(s$n), 0)
  labels <- vapply(curves, `[[`, "", "stratum")
  sizes <- vapply(curves, function(s) length(s$table$time), 0L)
  if (!is.null(r$states)) return(ps_as_survfitms(r, curves, n, labels, sizes, call))
  fit <- list(n = n, time = column("time"), n.risk = column("n.risk"),
              n.event = column("n.event"), n.censor = column("n.censor"),
              surv = column("surv"), std.err = column("std.err"),
              cumhaz = column("cumhaz"), std.chaz = column("std.chaz"),
              type = "right", logse = TRUE, conf.int = r$conf_int, conf.type = r$conf_type,
              lower = column("lower"), upper = column("upper"), call = call)
  if (length(curves) > 1L || !identical(labels, "all")) fit$strata <- stats::setNames(sizes, labels)
  shown <- vapply(curves, function(s) as.numeric(s$events_to_day %||% NA), 0)
  if (any(!is.na(shown))) fit$shown_to <- stats::setNames(shown, labels)
  structure(fit, class = "survfit")
}

# Competing events: R's survfitms layout, a column per state (the first, "(s0)", the state
# every record starts in; the hub sends the events of the others).
ps_as_survfitms <- function(r, curves, n, labels, sizes, call) {
  states <- unlist(r$states)
  k <- length(states)
  # A [state][time] array of the hub as R's [time, state] matrix.
  by_time <- function(m, columns) matrix(as.numeric(t(m)), ncol = columns)
  stack <- function(f) do.call(rbind, lapply(curves, f))
  n.risk <- stack(function(s) cbind(s$table$n.risk, matrix(0, length(s$table$time), k - 1L)))
  n.event <- stack(function(s) {
    cbind(0, by_time(s$table$n.event, k - 1L))
  })
  state_matrix <- function(name) {
    m <- stack(function(s) by_time(s$table[[name]], k))
    colnames(m) <- NULL
    m
  }
  # The cumulative hazard of each transition from the first state (R's cumhaz, "1.2", ...).
  cumhaz <- stack(function(s) {
    events <- by_time(s$table$n.event, k - 1L)
    apply(events / s$table$n.risk, 2L, cumsum)
  })
  colnames(cumhaz) <- paste0("1.", seq_len(k)[-1L])
  n.censor <- unlist(lapply(curves, function(s) s$table$n.censor))
  transitions <- as.table(matrix(
    c(colSums(n.event)[-1L], sum(n.censor), rep(0L, (k - 1L) * k)), nrow = k, byrow = TRUE,
    dimnames = list(from = states, to = c(states[-1L], "(censored)"))))
  storage.mode(transitions) <- "integer"
  fit <- list(n = n, time = unlist(lapply(curves, function(s) s$table$time)),
              n.risk = n.risk, n.event = n.event, n.censor = n.censor,
              pstate = state_matrix("pstate"), p0 = stats::setNames(c(1, rep(0, k - 1L)), states),
              cumhaz = cumhaz, std.err = state_matrix("std.err"), sp0 = rep(0, k),
              logse = FALSE, transitions = transitions,
              lower = state_matrix("lower"), upper = state_matrix("upper"),
              conf.type = r$conf_type, conf.int = r$conf_int, states = states, type = "mright",
              call = call)
  if (length(curves) > 1L || !identical(labels, "all")) fit$strata <- stats::setNames(sizes, labels)
  structure(fit, class = c("survfitms", "survfit"))
}

ps_as_survdiff <- function(r, call) {
  groups <- unlist(r$groups)
  fit <- list(n = structure(as.integer(r$n), dim = length(groups),
                            dimnames = structure(list(groups), names = "groups"),
                            class = "table"),
              obs = as.numeric(r$obs), exp = as.numeric(r$exp),
              var = matrix(as.numeric(r$var), length(groups), length(groups)),
              chisq = r$chisq, pvalue = r$p, call = call)
  if (!is.null(r$obs_by_stratum)) {
    fit$obs <- matrix(as.numeric(r$obs_by_stratum), nrow = length(groups))
    fit$exp <- matrix(as.numeric(r$exp_by_stratum), nrow = length(groups))
  }
  structure(fit, class = "survdiff")
}

ps_as_glm <- function(r, request, call) {
  names <- unlist(r$coef_names)
  family <- switch(r$family, binomial = stats::binomial(r$link),
                   poisson = stats::poisson(r$link), gaussian = stats::gaussian(r$link))
  coefficients <- ps_names(r$coef, names)
  fit <- list(coefficients = coefficients, var = ps_matrix(r$var, names),
              se = ps_names(r$se, names), family = family,
              deviance = r$deviance, null.deviance = r$null_deviance, aic = r$aic,
              loglik = r$loglik, df.residual = r$df_residual, df.null = r$df_null,
              rank = sum(!is.na(coefficients)), dispersion = r$dispersion, iter = r$iter,
              converged = r$converged, n = r$n, na.action = ps_omitted(r$n_omitted_na),
              formula = stats::as.formula(request$formula), call = call,
              t_statistics = !is.null(r$t), warnings = unlist(r$warnings))
  structure(fit, class = c("ps_glm", "glm", "lm"))
}

# R's table, a suppressed cell NA; the chi-square test as the attribute "chisq" (an htest).
ps_as_table <- function(r) {
  rows <- unlist(r$row_levels)
  if (is.null(r$cols)) {
    counts <- array(as.numeric(r$counts), length(rows),
                    structure(list(rows), names = r$rows))
  } else {
    cols <- unlist(r$col_levels)
    counts <- array(as.numeric(r$counts), c(length(rows), length(cols)),
                    structure(list(rows, cols), names = c(r$rows, r$cols)))
  }
  counts <- structure(counts, class = "table")
  if (!is.null(r$chisq)) {
    attr(counts, "chisq") <- structure(list(
      statistic = c(`X-squared` = r$chisq$statistic), parameter = c(df = r$chisq$df),
      p.value = r$chisq$p, method = paste0("Pearson's Chi-squared test",
                                           if (isTRUE(r$chisq$continuity_correction))
                                             " with Yates' continuity correction" else ""),
      data.name = paste(r$rows, "and", r$cols)), class = "htest")
  }
  counts
}

# Table 1: the hub's cells as a data frame, and the figures by variable.
ps_as_describe <- function(entry) {
  cells <- entry$cells
  frame <- as.data.frame(cells[-1L, , drop = FALSE], stringsAsFactors = FALSE)
  names(frame) <- cells[1L, ]
  structure(frame, class = c("ps_describe", "data.frame"), figures = entry$results)
}

#' @export
print.ps_describe <- function(x, ...) {
  frame <- x
  attr(frame, "figures") <- NULL
  attr(frame, "passerelle") <- NULL
  class(frame) <- "data.frame"
  print(frame, row.names = FALSE, right = FALSE)
  notes <- attr(x, "passerelle")$notes
  if (length(notes)) cat(paste0("(", notes, ")"), sep = "\n")
  invisible(x)
}

ps_as_concordance <- function(r, call) {
  # A count a site withheld (1 to k-1 pairs) is null, and NA here.
  count <- vapply(r$count, function(v) if (is.null(v)) NA_real_ else as.numeric(v), 0)
  structure(list(concordance = r$concordance, count = count,
                 n = r$n, var = r$concordance_se^2, cvar = r$concordance_se^2, call = call),
            class = "concordance")
}

ps_as_coxzph <- function(r, call) {
  table <- cbind(chisq = as.numeric(r$chisq), df = as.numeric(r$df), p = as.numeric(r$p))
  rownames(table) <- unlist(r$rownames)
  structure(list(table = table, transform = r$transform, call = call), class = "cox.zph")
}

ps_as_calibration <- function(r) {
  groups <- r$groups
  frame <- do.call(rbind, lapply(groups, function(g) {
    as.data.frame(lapply(g, function(v) if (is.null(v)) NA else v), stringsAsFactors = FALSE)
  }))
  structure(frame, time = r$time, baseline = r$baseline)
}

#' @export
print.ps_result <- function(x, ...) {
  text <- attr(x, "passerelle")$text
  if (!is.null(text)) cat(text) else utils::str(unclass(x))
  invisible(x)
}

# What needs the records stops and says why.
ps_no_records <- function(what, instead = NULL) {
  stop(what, " of a federated fit: the records stay at the sites, only aggregates reached ",
       "the hub", if (!is.null(instead)) paste0("; ", instead) else "", call. = FALSE)
}

#' @export
residuals.ps_coxph <- function(object, ...) {
  ps_no_records("residuals", "for the test of proportional hazards use ps_coxzph()")
}
#' @export
predict.ps_coxph <- function(object, ...) ps_no_records("predict()")
#' @export
model.frame.ps_coxph <- function(formula, ...) ps_no_records("model.frame()")
#' @export
model.matrix.ps_coxph <- function(object, ...) ps_no_records("model.matrix()")
#' @export
survfit.ps_coxph <- function(formula, ...) {
  ps_no_records("survfit() of a Cox model (its baseline hazard)",
                "for curves use ps_survfit()")
}

# A forest plot of the hazard ratios with their confidence intervals.
#' @export
plot.ps_coxph <- function(x, conf.int = 0.95, xlab = "Hazard ratio", main = NULL, ...) {
  ps_forest(stats::coef(x), sqrt(diag(x$var)), conf.int, xlab,
            main %||% paste(deparse(x$formula, width.cutoff = 500L), collapse = " "), ...)
}

ps_forest <- function(beta, se, conf.int, xlab, main, ...) {
  keep <- !is.na(beta)
  beta <- beta[keep]
  se <- se[keep]
  z <- stats::qnorm((1 + conf.int) / 2)
  lower <- exp(beta - z * se)
  upper <- exp(beta + z * se)
  k <- length(beta)
  old <- graphics::par(mar = c(4, max(4, max(nchar(names(beta))) * 0.6), 3, 1))
  on.exit(graphics::par(old))
  graphics::plot(exp(beta), rev(seq_len(k)), log = "x", xlim = range(lower, upper, 1),
                 ylim = c(0.5, k + 0.5), yaxt = "n", pch = 15, xlab = xlab, ylab = "",
                 main = main, ...)
  graphics::segments(lower, rev(seq_len(k)), upper, rev(seq_len(k)))
  graphics::abline(v = 1, lty = 2)
  graphics::axis(2, at = rev(seq_len(k)), labels = names(beta), las = 1)
  invisible(data.frame(term = names(beta), estimate = exp(beta), lower = lower, upper = upper))
}

# glm: summary, vcov, Wald intervals and the log-likelihood from the hub's figures.
#' @export
summary.ps_glm <- function(object, ...) {
  se <- object$se
  beta <- object$coefficients
  keep <- !is.na(beta)
  statistic <- beta[keep] / se[keep]
  p <- if (object$t_statistics) 2 * stats::pt(-abs(statistic), object$df.residual) else
    2 * stats::pnorm(-abs(statistic))
  coefficients <- cbind(Estimate = beta[keep], `Std. Error` = se[keep], statistic, p)
  colnames(coefficients)[3:4] <- if (object$t_statistics) c("t value", "Pr(>|t|)") else
    c("z value", "Pr(>|z|)")
  structure(list(call = object$call, family = object$family, deviance = object$deviance,
                 aic = object$aic, df.residual = object$df.residual,
                 null.deviance = object$null.deviance, df.null = object$df.null,
                 iter = object$iter, coefficients = coefficients, aliased = !keep,
                 dispersion = object$dispersion, df = c(object$rank, object$df.residual,
                                                        length(beta)),
                 cov.scaled = object$var, na.action = object$na.action),
            class = c("summary.ps_glm", "summary.glm"))
}

# R's print.summary.glm, but for the deviance residuals: they stay at the sites.
#' @export
print.summary.ps_glm <- function(x, digits = max(3L, getOption("digits") - 3L),
                                 signif.stars = getOption("show.signif.stars"), ...) {
  cat("\nCall:\n", paste(deparse(x$call), sep = "\n", collapse = "\n"), "\n\n", sep = "")
  cat("Deviance Residuals: not released (the records stay at the sites)\n")
  nsingular <- x$df[3L] - x$df[1L]
  if (nsingular) {
    cat("\nCoefficients: (", nsingular, " not defined because of singularities)\n", sep = "")
  } else {
    cat("\nCoefficients:\n")
  }
  coefs <- x$coefficients
  if (any(x$aliased)) {
    coefs <- matrix(NA, length(x$aliased), 4L,
                    dimnames = list(names(x$aliased), colnames(x$coefficients)))
    coefs[!x$aliased, ] <- x$coefficients
  }
  printCoefmat(coefs, digits = digits, signif.stars = signif.stars, na.print = "NA", ...)
  cat("\n(Dispersion parameter for ", x$family$family, " family taken to be ",
      format(x$dispersion), ")\n\n",
      apply(cbind(paste(format(c("Null", "Residual"), justify = "right"), "deviance:"),
                  format(unlist(x[c("null.deviance", "deviance")]),
                         digits = max(5L, digits + 1L)), " on",
                  format(unlist(x[c("df.null", "df.residual")])), " degrees of freedom\n"),
            1L, paste, collapse = " "), sep = "")
  if (nzchar(mess <- stats::naprint(x$na.action))) cat("  (", mess, ")\n", sep = "")
  cat("AIC: ", format(x$aic, digits = max(4L, digits + 1L)), "\n\n",
      "Number of Fisher Scoring iterations: ", x$iter, "\n\n", sep = "")
  invisible(x)
}

#' @export
vcov.ps_glm <- function(object, ...) object$var

# Wald intervals (R's confint.default): profile-likelihood intervals need the records.
#' @export
confint.ps_glm <- function(object, parm, level = 0.95, ...) {
  message("Wald intervals: profiling the likelihood needs the records, which stay at the sites")
  stats::confint.default(object, parm, level, ...)
}

#' @export
logLik.ps_glm <- function(object, ...) {
  df <- object$rank + if (object$family$family == "gaussian") 1L else 0L
  structure(object$loglik, df = df, nobs = object$n, class = "logLik")
}

#' @export
nobs.ps_glm <- function(object, ...) object$n

#' @export
residuals.ps_glm <- function(object, ...) ps_no_records("residuals")
#' @export
predict.ps_glm <- function(object, ...) ps_no_records("predict()")
#' @export
model.frame.ps_glm <- function(formula, ...) ps_no_records("model.frame()")
#' @export
model.matrix.ps_glm <- function(object, ...) ps_no_records("model.matrix()")

# A forest plot of the coefficients (odds or rate ratios for the log and logit links).
#' @export
plot.ps_glm <- function(x, conf.int = 0.95, main = NULL, ...) {
  link <- x$family$link
  exponentiate <- link %in% c("logit", "log")
  beta <- stats::coef(x)
  if (!exponentiate) {
    stop("plot() of a glm with the ", link, " link: no ratio to draw; see summary()",
         call. = FALSE)
  }
  ps_forest(beta, x$se, conf.int,
            if (link == "logit") "Odds ratio" else "Rate ratio",
            main %||% paste(deparse(x$formula, width.cutoff = 500L), collapse = " "), ...)
}
