# Analyses sent to the hub as studies, waited for with progress, and returned as objects.

# An option's value as the study file writes it: formulas and R expressions as text (R's own
# deparse), families by name, logicals as the hub's flags.
ps_option_value <- function(name, value, option) {
  if (inherits(value, "formula")) return(paste(deparse(value, width.cutoff = 500L), collapse = " "))
  if (is.language(value)) return(paste(deparse(value, width.cutoff = 500L), collapse = " "))
  if (is.function(value)) value <- value()
  if (inherits(value, "family")) return(value$family)
  if (is.logical(value) && length(value) == 1L && !identical(option$type, "flag")) {
    return(if (isTRUE(value)) "true" else "false")
  }
  if (identical(option$type, "variables")) return(I(as.character(value)))
  if (identical(option$type, "number") && is.character(value)) {
    number <- suppressWarnings(as.numeric(value))
    if (is.na(number)) stop(name, ": must be a number", call. = FALSE)
    return(number)
  }
  value
}

# The analysis' entry of a study file, checked against the hub's registry: every option a
# known one (R's `conf.type` for `conf_type`), every required one given, choices respected.
ps_analysis_entry <- function(hub, analysis, options) {
  kinds <- ps_kinds(hub)
  names(kinds) <- vapply(kinds, `[[`, "", "name")
  kind <- kinds[[analysis]]
  if (is.null(kind)) {
    stop("analysis '", analysis, "': this hub runs ", paste(names(kinds), collapse = ", "),
         call. = FALSE)
  }
  known <- kind$options
  names(known) <- vapply(known, `[[`, "", "name")
  options <- options[!vapply(options, is.null, TRUE)]
  names(options) <- gsub(".", "_", names(options), fixed = TRUE)
  entry <- list(id = "a1", `function` = analysis)
  for (name in names(options)) {
    option <- known[[name]]
    if (is.null(option)) {
      stop(analysis, ": no option '", name, "' (it takes ",
           paste(names(known), collapse = ", "), ")", call. = FALSE)
    }
    value <- ps_option_value(name, options[[name]], option)
    choices <- unlist(option$choices)
    if (length(choices) && !(as.character(value) %in% choices)) {
      stop(analysis, ": ", name, ": '", value, "' is not one of ",
           paste(choices, collapse = ", "), call. = FALSE)
    }
    if (identical(option$type, "flag") && isFALSE(value)) next
    entry[[name]] <- value
  }
  for (option in known) {
    if (isTRUE(option$required) && is.null(entry[[option$name]])) {
      stop(analysis, ": ", option$name, " is required (", option$help, ")", call. = FALSE)
    }
  }
  entry
}

#' @noRd
ps_analysis <- function(hub, analysis, ..., dataset, sites = NULL, protocol = NULL,
                        on_refusal = c("fail", "exclude"), title = NULL, quiet = FALSE) {
  # `subset` and `weights` as R writes them (evaluated at the sites), the rest evaluated here.
  dots <- as.list(substitute(list(...)))[-1L]
  env <- parent.frame()
  options <- lapply(names(dots), function(name) {
    if (name %in% c("subset", "weights")) ps_expr(dots[[name]]) else eval(dots[[name]], env)
  })
  names(options) <- names(dots)
  ps_send(hub, analysis, options, dataset, sites, protocol, match.arg(on_refusal), title,
          quiet, match.call())
}

# One analysis as a one-analysis study: sent, waited for, returned as its object.
ps_send <- function(hub, analysis, options, dataset, sites = NULL, protocol = NULL,
                    on_refusal = "fail", title = NULL, quiet = FALSE, call = NULL) {
  if (missing(dataset)) stop(analysis, ": dataset is required", call. = FALSE)
  on_refusal <- match.arg(on_refusal, c("fail", "exclude"))
  entry <- ps_analysis_entry(hub, analysis, options)
  study <- list(title = if (is.null(title)) paste(analysis, "from R") else title,
                dataset = dataset, analyses = list(entry))
  if (!is.null(sites)) study$sites <- I(as.character(sites))
  if (!is.null(protocol)) study$protocol <- protocol
  if (on_refusal != "fail") study$on_refusal <- on_refusal
  answer <- ps_run(hub, study, quiet = quiet)
  ps_object(answer$results[[1L]], answer, call = call)
}

`%||%` <- function(a, b) if (is.null(a)) b else a

# The text of an R expression given as a subset or a variable: a string as it is, else R's
# deparse of the expression as written (it is evaluated at each site, on its records).
ps_expr <- function(expr) {
  if (is.null(expr)) return(NULL)
  if (is.character(expr)) return(expr)
  paste(deparse(expr, width.cutoff = 500L), collapse = " ")
}

# A wrapper's subset or weights: its argument as written, or nothing when not given.
ps_arg <- function(missing, expr) if (missing) NULL else ps_expr(expr)

#' @noRd
ps_coxph <- function(hub, formula, dataset, subset, weights, ties = c("efron", "breslow", "exact"),
                     robust = NULL, propensity = NULL, estimand = NULL, stabilized = FALSE, ...) {
  ps_send(hub, "coxph", list(formula = formula, subset = ps_arg(missing(subset), substitute(subset)),
                             weights = ps_arg(missing(weights), substitute(weights)),
                             ties = match.arg(ties), robust = robust, propensity = propensity,
                             estimand = estimand, stabilized = stabilized),
          dataset, ..., call = match.call())
}

#' @noRd
ps_survfit <- function(hub, formula, dataset, subset, conf.type = "log", bin_days = 30, ...) {
  ps_send(hub, "survfit", list(formula = formula, conf.type = conf.type, bin_days = bin_days,
                               subset = ps_arg(missing(subset), substitute(subset))),
          dataset, ..., call = match.call())
}

#' @noRd
ps_survdiff <- function(hub, formula, dataset, subset, rho = 0, bin_days = 30, ...) {
  ps_send(hub, "survdiff", list(formula = formula, rho = rho, bin_days = bin_days,
                                subset = ps_arg(missing(subset), substitute(subset))),
          dataset, ..., call = match.call())
}

#' @noRd
ps_glm <- function(hub, formula, family = stats::gaussian, dataset, subset, weights, ...) {
  ps_send(hub, "glm", list(formula = formula, family = family,
                           subset = ps_arg(missing(subset), substitute(subset)),
                           weights = ps_arg(missing(weights), substitute(weights))),
          dataset, ..., call = match.call())
}

#' @noRd
ps_table <- function(hub, rows, cols = NULL, dataset, subset, ...) {
  ps_send(hub, "table", list(rows = rows, cols = cols,
                             subset = ps_arg(missing(subset), substitute(subset))),
          dataset, ..., call = match.call())
}

#' @noRd
ps_describe <- function(hub, variables = NULL, dataset, subset, ...) {
  ps_send(hub, "describe", list(variables = variables,
                                subset = ps_arg(missing(subset), substitute(subset))),
          dataset, ..., call = match.call())
}

#' @noRd
ps_concordance <- function(hub, formula, dataset, subset, reverse = FALSE, ...) {
  ps_send(hub, "concordance", list(formula = formula, reverse = reverse,
                                   subset = ps_arg(missing(subset), substitute(subset))),
          dataset, ..., call = match.call())
}

#' @noRd
ps_finegray <- function(hub, formula, dataset, cause, subset,
                        ties = c("efron", "breslow"), ...) {
  ps_send(hub, "finegray", list(formula = formula, cause = cause, ties = match.arg(ties),
                                subset = ps_arg(missing(subset), substitute(subset))),
          dataset, ..., call = match.call())
}

#' @noRd
ps_coxzph <- function(hub, formula, dataset, subset, transform = "km",
                      ties = c("efron", "breslow"), ...) {
  ps_send(hub, "coxzph", list(formula = formula, transform = transform, ties = match.arg(ties),
                              subset = ps_arg(missing(subset), substitute(subset))),
          dataset, ..., call = match.call())
}

#' @noRd
ps_calibration <- function(hub, formula, dataset, time, baseline, groups = 10, subset,
                           bin_days = 30, ...) {
  ps_send(hub, "calibration", list(formula = formula, time = time, baseline = baseline,
                                   groups = groups, bin_days = bin_days,
                                   subset = ps_arg(missing(subset), substitute(subset))),
          dataset, ..., call = match.call())
}

# A study submitted (a list, or a study file's text), waited for with progress messages, and
# its result: the hub's JSON as R values.
ps_run <- function(hub, study, quiet = FALSE) {
  body <- if (is.character(study)) study else
    jsonlite::toJSON(study, auto_unbox = TRUE, digits = NA, null = "null")
  ps_check_online(hub, ps_study_sites(hub, if (is.character(study)) ps_parse(study) else study))
  submitted <- ps_request(hub, "POST", "/v1/studies", body = as.character(body))
  id <- submitted$study
  if (!quiet) message("study ", id, " submitted to ", hub$url)
  deadline <- Sys.time() + hub$timeout
  said <- ""
  repeat {
    progress <- ps_request(hub, "GET", paste0("/v1/studies/", id, "/progress"))
    if (!identical(progress$status, "running")) break
    if (!quiet && !is.null(progress$analysis)) {
      rounds <- vapply(progress$sites, function(s) {
        paste0(s$site, " round ", s$round, " (", s$state, ")")
      }, "")
      line <- paste0("  ", progress$analysis, " [", progress$index, "/", progress$of, "]",
                     if (length(rounds)) paste0(": ", paste(rounds, collapse = ", ")) else "")
      if (line != said) message(line)
      said <- line
    }
    if (Sys.time() > deadline) {
      stop(ps_condition("timeout", paste0("study ", id, " did not finish within ", hub$timeout,
                                          " s; it goes on at the hub"), study = id))
    }
    Sys.sleep(0.2)
  }
  answer <- ps_request(hub, "GET", paste0("/v1/studies/", id))
  if (identical(answer$status, "failed")) {
    stop(ps_condition("failure", paste0("study ", id, " failed: ",
                                        answer$result$error %||% "see the hub's log"),
                      study = id))
  }
  answer$result
}

# The sites a study runs at: its own list, else its protocol's (the newest version's), else
# NULL for every registered site.
ps_study_sites <- function(hub, study) {
  if (length(study$sites)) return(unlist(study$sites))
  if (!is.null(study$protocol)) {
    versions <- ps_protocols(hub)
    versions <- versions[versions$name == study$protocol, , drop = FALSE]
    if (nrow(versions)) return(unique(versions$site[versions$version == max(versions$version)]))
  }
  NULL
}

# Every site the study names (or all) online, else an error naming the ones that are not.
ps_check_online <- function(hub, wanted = NULL) {
  sites <- ps_sites(hub)
  if (!is.null(wanted)) sites <- sites[sites$site %in% wanted, , drop = FALSE]
  offline <- sites$site[!sites$online]
  if (length(offline)) {
    stop(ps_condition("offline", paste0(
      "site", if (length(offline) > 1L) "s " else " ", paste(offline, collapse = ", "),
      if (length(offline) > 1L) " are" else " is", " offline: the hub has not heard from ",
      if (length(offline) > 1L) "their nodes" else "its node", " lately"), sites = offline))
  }
}

#' @noRd
ps_study <- function(hub, file, quiet = FALSE) {
  text <- if (is.list(file)) {
    as.character(jsonlite::toJSON(file, auto_unbox = TRUE, digits = NA, null = "null"))
  } else {
    paste(readLines(file, warn = FALSE, encoding = "UTF-8"), collapse = "\n")
  }
  answer <- ps_run(hub, text, quiet = quiet)
  objects <- lapply(names(answer$results), function(id) {
    tryCatch(ps_object(answer$results[[id]], answer, call = NULL),
             passerelle_refusal = function(e) e, passerelle_failure = function(e) e)
  })
  names(objects) <- names(answer$results)
  structure(objects, class = "ps_study", study = answer$study, title = answer$title,
            dataset = answer$dataset, sites = answer$sites, provenance = answer$provenance)
}

#' @export
print.ps_study <- function(x, ...) {
  cat("Study ", attr(x, "study"), ": ", attr(x, "title"), "\n", sep = "")
  cat("dataset ", attr(x, "dataset"), " at ", paste(attr(x, "sites"), collapse = ", "), "\n\n",
      sep = "")
  for (id in names(x)) {
    object <- x[[id]]
    what <- if (inherits(object, "condition")) {
      paste0(class(object)[1L], ": ", conditionMessage(object))
    } else {
      paste(class(object), collapse = "/")
    }
    cat("  $", id, "  ", what, "\n", sep = "")
  }
  invisible(x)
}

#' @noRd
ps_report <- function(hub, study, file) {
  id <- if (inherits(study, "ps_study")) attr(study, "study") else
    attr(study, "passerelle")$study %||% study
  if (!is.numeric(id) || length(id) != 1L) {
    stop("ps_report: study must be a result of ps_study() or a study's number", call. = FALSE)
  }
  html <- ps_request(hub, "GET", paste0("/v1/studies/", id, "/report"), as = "text")
  writeLines(html, file, useBytes = TRUE)
  invisible(file)
}

#' @noRd
ps_protocol_submit <- function(hub, file) {
  text <- if (is.list(file)) {
    as.character(jsonlite::toJSON(file, auto_unbox = TRUE, digits = NA, null = "null"))
  } else {
    paste(readLines(file, warn = FALSE, encoding = "UTF-8"), collapse = "\n")
  }
  answer <- ps_request(hub, "POST", "/v1/protocols", body = text)
  structure(answer[c("protocol", "name", "version", "sites")], class = c("ps_protocol", "list"))
}

#' @noRd
ps_protocols <- function(hub) {
  protocols <- jsonlite::fromJSON(ps_request(hub, "GET", "/v1/protocols", as = "text"),
                                  simplifyVector = FALSE)$protocols
  rows <- lapply(protocols, function(p) {
    if (!length(p$sites)) p$sites <- list(list(site = NA, status = NA, reason = NA))
    do.call(rbind, lapply(p$sites, function(s) {
      data.frame(protocol = p$protocol, name = p$name, version = p$version,
                 researcher = p$researcher, submitted_at = p$submitted_at,
                 site = s$site %||% NA, status = s$status %||% NA, reason = s$reason %||% NA,
                 stringsAsFactors = FALSE)
    }))
  })
  if (!length(rows)) {
    return(data.frame(protocol = integer(), name = character(), version = integer(),
                      researcher = character(), submitted_at = character(),
                      site = character(), status = character(), reason = character()))
  }
  do.call(rbind, rows)
}
