# The hub: a connection (its address, the consortium's CA, the researcher's token), the
# researcher API's requests, and the conditions its failures become.

#' @noRd
ps_connect <- function(url, ca, token_file = NULL, token = Sys.getenv("PASSERELLE_TOKEN"),
                       timeout = 3600) {
  if (!is.character(url) || length(url) != 1L || !grepl("^https://", url)) {
    stop("ps_connect: url must be the hub's https:// address", call. = FALSE)
  }
  if (!is.character(ca) || length(ca) != 1L || !file.exists(ca)) {
    stop("ps_connect: ca: no file '", ca, "' (the consortium's CA certificate)", call. = FALSE)
  }
  if (!is.null(token_file)) {
    if (!file.exists(token_file)) {
      stop("ps_connect: token_file: no file '", token_file, "'", call. = FALSE)
    }
    mode <- file.info(token_file)$mode
    if (.Platform$OS.type == "unix" && bitwAnd(as.integer(mode), strtoi("077", 8L)) != 0L) {
      warning("ps_connect: token_file '", token_file, "' is readable by other accounts: ",
              "chmod 600 it", call. = FALSE)
    }
    token <- trimws(readLines(token_file, n = 1L, warn = FALSE))
  }
  if (!is.character(token) || length(token) != 1L || !nzchar(token)) {
    stop("ps_connect: no token: give token_file, or set PASSERELLE_TOKEN", call. = FALSE)
  }
  hub <- structure(list(url = sub("/+$", "", url), ca = normalizePath(ca), timeout = timeout,
                        cache = new.env(parent = emptyenv())),
                   class = "ps_hub")
  # The token lives in the hub's environment: printing or str() of the object never shows it.
  assign("token", token, envir = hub$cache)
  ps_kinds(hub)  # the first request: the address, the certificate and the token are checked now
  hub
}

#' @export
print.ps_hub <- function(x, ...) {
  cat("Passerelle hub at ", x$url, " (CA ", x$ca, ")\n", sep = "")
  kinds <- get0("kinds", envir = x$cache)
  if (!is.null(kinds)) {
    cat("analyses: ", paste(vapply(kinds, `[[`, "", "name"), collapse = ", "), "\n", sep = "")
  }
  invisible(x)
}

# A condition of class `passerelle_<what>`, `passerelle_error`, error.
ps_condition <- function(what, message, ..., call = NULL) {
  structure(class = c(paste0("passerelle_", what), "passerelle_error", "error", "condition"),
            list(message = message, call = call, ...))
}

# One request to the researcher API: the parsed JSON answer (or the text, for HTML), or a
# condition naming what went wrong.
ps_request <- function(hub, method, path, body = NULL, as = c("json", "text"), timeout = 90) {
  as <- match.arg(as)
  req <- httr2::request(paste0(hub$url, path))
  req <- httr2::req_method(req, method)
  req <- httr2::req_headers(req, Authorization = paste("Bearer", get("token", envir = hub$cache)),
                            Accept = if (as == "json") "application/json" else "text/html")
  req <- httr2::req_options(req, cainfo = hub$ca, timeout = timeout, connecttimeout = 10)
  req <- httr2::req_user_agent(req, paste0("passerelle-r/", utils::packageVersion("passerelle")))
  if (!is.null(body)) req <- httr2::req_body_raw(req, body, type = "application/json")
  req <- httr2::req_error(req, is_error = function(resp) FALSE)
  resp <- tryCatch(httr2::req_perform(req), error = function(e) {
    stop(ps_connection_error(hub, conditionMessage(e)))
  })
  status <- httr2::resp_status(resp)
  text <- httr2::resp_body_string(resp, encoding = "UTF-8")
  if (status >= 400L) {
    answer <- tryCatch(jsonlite::fromJSON(text, simplifyVector = FALSE), error = function(e) NULL)
    code <- if (is.list(answer) && is.character(answer$code)) answer$code else "unavailable"
    message <- if (is.list(answer) && is.character(answer$error)) answer$error else
      paste("the hub answered HTTP", status)
    if (code == "permission_denied" && grepl("token", message)) {
      message <- paste0(message, " (the token given to ps_connect)")
    }
    stop(ps_condition(code, paste0("hub: ", message), status = status))
  }
  if (as == "text") return(text)
  ps_parse(text)
}

# JSON as R values: arrays of numbers as vectors (null as NA), of arrays as matrices, objects
# as lists.
ps_parse <- function(text) {
  jsonlite::fromJSON(text, simplifyVector = TRUE, simplifyDataFrame = FALSE,
                     simplifyMatrix = TRUE)
}

ps_connection_error <- function(hub, detail) {
  why <- if (grepl("certificate|SSL|TLS", detail, ignore.case = TRUE)) {
    paste0("the hub's certificate is not one the consortium's CA (", hub$ca, ") signed, ",
           "or not for this address")
  } else if (grepl("resolve|connect|refused|timed? ?out", detail, ignore.case = TRUE)) {
    "no hub answers at this address"
  } else {
    "the connection failed"
  }
  ps_condition("connection", paste0("hub ", hub$url, ": ", why, " (", detail, ")"))
}

# The analyses the hub runs (GET /v1/analyses), asked once per connection.
ps_kinds <- function(hub) {
  kinds <- get0("kinds", envir = hub$cache)
  if (is.null(kinds)) {
    kinds <- jsonlite::fromJSON(ps_request(hub, "GET", "/v1/analyses", as = "text"),
                                simplifyVector = FALSE)
    assign("kinds", kinds, envir = hub$cache)
  }
  kinds
}

#' @noRd
ps_analyses <- function(hub) {
  kinds <- ps_kinds(hub)
  data.frame(
    analysis = vapply(kinds, `[[`, "", "name"),
    summary = vapply(kinds, `[[`, "", "summary"),
    options = vapply(kinds, function(k) {
      paste(vapply(k$options, function(o) {
        paste0(o$name, if (isTRUE(o$required)) "*" else "")
      }, ""), collapse = ", ")
    }, ""),
    stringsAsFactors = FALSE)
}

#' @noRd
ps_sites <- function(hub) {
  sites <- jsonlite::fromJSON(ps_request(hub, "GET", "/v1/sites", as = "text"),
                              simplifyVector = FALSE)$sites
  column <- function(f) vapply(sites, f, "")
  data.frame(
    site = column(function(s) s$name),
    online = vapply(sites, function(s) isTRUE(s$online), TRUE),
    last_seen = column(function(s) if (is.null(s$last_seen)) NA_character_ else s$last_seen),
    datasets = column(function(s) paste(vapply(s$datasets, `[[`, "", "name"), collapse = ", ")),
    versions = column(function(s) {
      paste(vapply(s$datasets, function(d) as.character(d$version), ""), collapse = ", ")
    }),
    dictionaries = column(function(s) {
      paste(vapply(s$datasets, function(d) as.character(d$dictionary), ""), collapse = ", ")
    }),
    stringsAsFactors = FALSE)
}
