# Benchmark data: N rows, 10 numeric covariates, integer day times with heavy ties, about 57%
# events, written with data.table::fwrite; case weights w (0.5 to 2), and for Fine–Gray monthly
# times with two competing causes (a: 60% of events, b: the rest).
# Usage: Rscript bench/make_data.R N FILE
suppressMessages(library(data.table))
args <- commandArgs(trailingOnly = TRUE)
n <- as.integer(args[1])
set.seed(20261128)
p <- 10
x <- matrix(rnorm(n * p), n, p)
colnames(x) <- paste0("x", 1:p)
beta <- seq(-0.5, 0.5, length.out = p)
eta <- drop(x %*% beta)
t_event <- rexp(n, rate = exp(eta) / 420)
t_censor <- runif(n, 0, 900)
time <- pmax(1, ceiling(pmin(t_event, t_censor)))
status <- as.integer(t_event <= t_censor)
y <- rbinom(n, 1, plogis(-0.3 + drop(x %*% (beta / 2))))
w <- round(runif(n, 0.5, 2), 3)
month <- ceiling(time / 30)
cause <- ifelse(status == 0, "censor", ifelse(runif(n) < 0.6, "a", "b"))
d <- data.table(time = time, status = status, y = y, x, w = w, month = month, cause = cause)
fwrite(d, args[2])
cat(sprintf("%d rows, %.1f%% events, %d distinct times\n", n, 100 * mean(status), length(unique(time))))
