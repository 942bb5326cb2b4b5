# The federation the tests talk to: a hub and two nodes (lyon, wuhan) over survival's colon
# data, started by tests/r/run, which gives their address and files in PASSERELLE_TEST_*.
# Without it the tests are skipped, unless PASSERELLE_TEST_REQUIRED is set (make test).
test_hub <- local({
  hub <- NULL
  function() {
    url <- Sys.getenv("PASSERELLE_TEST_HUB")
    if (!nzchar(url)) {
      if (nzchar(Sys.getenv("PASSERELLE_TEST_REQUIRED"))) stop("PASSERELLE_TEST_HUB is not set")
      skip("no Passerelle hub (tests/r/run starts one)")
    }
    if (is.null(hub)) {
      hub <<- ps_connect(url, ca = Sys.getenv("PASSERELLE_TEST_CA"),
                         token_file = Sys.getenv("PASSERELLE_TEST_TOKEN_FILE"))
      for (i in 1:100) {
        if (all(ps_sites(hub)$online)) break
        Sys.sleep(0.1)
      }
    }
    hub
  }
})

test_file_of <- function(name) {
  file.path(Sys.getenv("PASSERELLE_TEST_FEDERATION"), name)
}

# The pooled data: both sites' records stacked, as the sites imported them.
pooled <- function() {
  dir <- Sys.getenv("PASSERELLE_TEST_DATA")
  d <- rbind(utils::read.csv(file.path(dir, "colon_weighted_lyon.csv")),
             utils::read.csv(file.path(dir, "colon_weighted_wuhan.csv")))
  d$rx <- factor(d$rx, levels = c("Obs", "Lev", "Lev+5FU"))
  d$site <- factor(d$site, levels = c("lyon", "wuhan"))
  d
}

# What print() shows, without the lines of the call (ours is ps_*(), R's the local fit).
printed <- function(x, ...) {
  lines <- utils::capture.output(print(x, ...))
  start <- grep("^Call:", lines)[1L]
  if (!is.na(start)) {
    end <- start + which(lines[-(1:start)] == "")[1L]
    lines <- lines[-(start:end)]
  }
  lines
}

expect_close <- function(object, expected, tolerance = 1e-9) {
  expect_equal(unname(as.numeric(object)), unname(as.numeric(expected)),
               tolerance = tolerance)
}
