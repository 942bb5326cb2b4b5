# docs/openapi.yaml against the running hub: every operation called, every answer (its status,
# its content type, its body) checked against what the description says of that status.
spec_keywords <- c("type", "properties", "required", "items", "enum", "nullable",
                   "additionalProperties", "$ref", "description", "example", "format")

resolve <- function(spec, schema) {
  while (!is.null(schema$`$ref`)) {
    schema <- spec$components$schemas[[sub("^#/components/schemas/", "", schema$`$ref`)]]
  }
  schema
}

# The body's mismatches with the schema, as "path: what" lines (none when it conforms).
mismatches <- function(spec, schema, value, at = "$") {
  schema <- resolve(spec, schema)
  unknown <- setdiff(names(schema), spec_keywords)
  if (length(unknown)) return(paste0(at, ": schema keyword this check cannot judge: ", unknown))
  if (is.null(value)) {
    return(if (isTRUE(schema$nullable) || is.null(schema$type)) character() else
      paste0(at, ": null"))
  }
  type <- schema$type %||% "any"
  named <- !is.null(names(value))
  ok <- switch(type,
    object = is.list(value) && (named || length(value) == 0L),
    array = is.list(value) && !named,
    string = is.character(value) && length(value) == 1L,
    integer = is.numeric(value) && length(value) == 1L && value == round(value),
    number = is.numeric(value) && length(value) == 1L,
    boolean = is.logical(value) && length(value) == 1L,
    any = TRUE)
  if (!ok) return(paste0(at, ": not ", type))
  if (!is.null(schema$enum) && !(value %in% unlist(schema$enum))) {
    return(paste0(at, ": '", value, "' not in the enum"))
  }
  out <- character()
  if (type == "object") {
    missing <- setdiff(unlist(schema$required), names(value))
    if (length(missing)) out <- c(out, paste0(at, ": no ", missing))
    for (key in names(value)) {
      property <- schema$properties[[key]]
      extra <- schema$additionalProperties
      if (!is.null(property)) {
        out <- c(out, mismatches(spec, property, value[[key]], paste0(at, ".", key)))
      } else if (isFALSE(extra)) {
        out <- c(out, paste0(at, ": unexpected ", key))
      } else if (is.list(extra)) {
        out <- c(out, mismatches(spec, extra, value[[key]], paste0(at, ".", key)))
      }
    }
  }
  if (type == "array" && !is.null(schema$items)) {
    for (i in seq_along(value)) {
      out <- c(out, mismatches(spec, schema$items, value[[i]], paste0(at, "[", i, "]")))
    }
  }
  out
}

test_that("docs/openapi.yaml describes what the hub answers", {
  hub <- test_hub()
  spec <- yaml::read_yaml(Sys.getenv("PASSERELLE_TEST_OPENAPI"))
  token <- readLines(Sys.getenv("PASSERELLE_TEST_TOKEN_FILE"), warn = FALSE)
  called <- character()
  call <- function(method, template, path = template, body = NULL, bearer = token) {
    req <- httr2::request(paste0(hub$url, path))
    req <- httr2::req_method(req, method)
    req <- httr2::req_headers(req, Authorization = paste("Bearer", bearer))
    req <- httr2::req_options(req, cainfo = hub$ca)
    if (!is.null(body)) req <- httr2::req_body_raw(req, body, type = "application/json")
    req <- httr2::req_error(req, is_error = function(resp) FALSE)
    resp <- httr2::req_perform(req)
    status <- as.character(httr2::resp_status(resp))
    operation <- spec$paths[[template]][[tolower(method)]]
    label <- paste(method, template, status)
    expect_false(is.null(operation), label = paste(method, template, "in the description"))
    response <- operation$responses[[status]]
    if (!is.null(response$`$ref`)) {
      response <- spec$components$responses[[sub("^#/components/responses/", "", response$`$ref`)]]
    }
    expect_false(is.null(response), label = paste(label, "in the description"))
    type <- sub(";.*", "", httr2::resp_content_type(resp))
    expect_true(type %in% names(response$content), label = paste(label, "answers", type))
    text <- httr2::resp_body_string(resp)
    if (type == "application/json") {
      value <- jsonlite::fromJSON(text, simplifyVector = FALSE)
      problems <- mismatches(spec, response$content[[type]]$schema, value)
      expect_identical(problems, character(), label = label)
    }
    if (startsWith(status, "2")) called <<- c(called, paste(tolower(method), template))
    invisible(if (type == "application/json") jsonlite::fromJSON(text, simplifyVector = FALSE))
  }

  call("GET", "/v1/sites")
  call("GET", "/v1/analyses")
  study <- jsonlite::toJSON(list(title = "openapi", dataset = "colon", analyses = list(
    list(id = "t1", `function` = "describe", variables = list("age", "rx")))), auto_unbox = TRUE)
  id <- call("POST", "/v1/studies", body = study)$study
  call("GET", "/v1/studies/{id}/progress", paste0("/v1/studies/", id, "/progress"))
  repeat {
    if (call("GET", "/v1/studies/{id}", paste0("/v1/studies/", id))$status != "running") break
  }
  call("GET", "/v1/studies")
  call("GET", "/v1/studies/{id}/report", paste0("/v1/studies/", id, "/report"))
  protocol <- jsonlite::toJSON(list(
    protocol = paste0("openapi-", as.integer(Sys.time())), title = "openapi", dataset = "colon",
    researchers = list("researcher"), expires = "2099-12-31",
    analyses = list(list(id = "t1", `function` = "describe", variables = list("age")))),
    auto_unbox = TRUE)
  number <- call("POST", "/v1/protocols", body = protocol)$protocol
  call("GET", "/v1/protocols")
  call("GET", "/v1/protocols/{id}", paste0("/v1/protocols/", number))
  # Refusals have their documented shape too.
  call("GET", "/v1/studies/{id}", "/v1/studies/999999")
  call("GET", "/v1/sites", bearer = "psr_not-a-token")
  call("POST", "/v1/studies", body = "{\"title\": ")
  call("POST", "/v1/studies", body = "{\"title\": \"x\", \"dataset\": \"colon\", \"typo\": 1}")

  documented <- unlist(lapply(names(spec$paths), function(p) {
    methods <- intersect(names(spec$paths[[p]]), c("get", "post", "put", "patch", "delete"))
    paste(methods, p)
  }))
  expect_setequal(unique(called), documented)
})
