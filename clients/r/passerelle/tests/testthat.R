library(testthat)
library(passerelle)

test_check("passerelle")
