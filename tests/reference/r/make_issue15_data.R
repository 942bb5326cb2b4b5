# Writes the data files of cases 15-18 (deterministic, no random numbers):
#   data/colon_weighted.csv, data/colon_weighted_lyon.csv, data/colon_weighted_wuhan.csv
#   data/mgus2_fg.csv, data/mgus2_fg_lyon.csv, data/mgus2_fg_wuhan.csv
# Run from tests/reference/ (before r/15..18):  Rscript r/make_issue15_data.R
source("ref_helpers.R")   # write_ref_csv (NA as empty field, no quoting, lossless numbers)

## ---- colon_weighted: colon_death.csv + site, w, wi, trt --------------------------------
cd <- read.csv("data/colon_death.csv")
cd$site <- ifelse(cd$id %% 3 != 0, "lyon", "wuhan")
# at site wuhan the arm Lev has no events: drop wuhan's Lev deaths from the whole data set
cd <- cd[!(cd$site == "wuhan" & cd$rx == "Lev" & cd$status == 1), ]
cd$w   <- 0.5 + (cd$id %% 7) / 4          # non-integer weights 0.5, 0.75, ..., 2
cd$wi  <- 1 + cd$id %% 3                  # integer weights 1, 2, 3
cd$trt <- as.integer(cd$rx == "Lev+5FU")
lyon  <- cd[cd$site == "lyon", ]
wuhan <- cd[cd$site == "wuhan", ]
stopifnot(sum(wuhan$rx == "Lev" & wuhan$status == 1) == 0, sum(wuhan$rx == "Lev") > 0)
write_ref_csv(rbind(lyon, wuhan), "data/colon_weighted.csv")   # lyon rows first, then wuhan
write_ref_csv(lyon,  "data/colon_weighted_lyon.csv")
write_ref_csv(wuhan, "data/colon_weighted_wuhan.csv")
chk <- read.csv("data/colon_weighted.csv")
stopifnot(identical(chk, rbind(read.csv("data/colon_weighted_lyon.csv"),
                               read.csv("data/colon_weighted_wuhan.csv"))),
          sum(is.na(chk$nodes)) > 0)

## ---- mgus2_fg: survival::mgus2 with etime / event as in survival's competing-risks vignette ----
m <- survival::mgus2
fg <- data.frame(id = as.integer(m$id), sex = as.character(m$sex), age = m$age, hgb = m$hgb,
                 creat = m$creat, mspike = m$mspike,
                 etime = ifelse(m$pstat == 1, m$ptime, m$futime),
                 event = as.character(factor(ifelse(m$pstat == 1, "pcm", ifelse(m$death == 1, "death", "censor")),
                                             c("censor", "pcm", "death"))))
fg$site <- ifelse(fg$id %% 2 == 1, "lyon", "wuhan")
comp <- read.csv("data/mgus2_competing.csv")   # case 13's data: the same etime / event
stopifnot(nrow(comp) == nrow(fg), all(comp$id == fg$id), all(comp$etime == fg$etime),
          identical(comp$event, fg$event), identical(comp$sex, fg$sex), all(comp$age == fg$age))
lyon  <- fg[fg$site == "lyon", ]
wuhan <- fg[fg$site == "wuhan", ]
write_ref_csv(rbind(lyon, wuhan), "data/mgus2_fg.csv")
write_ref_csv(lyon,  "data/mgus2_fg_lyon.csv")
write_ref_csv(wuhan, "data/mgus2_fg_wuhan.csv")
chk <- read.csv("data/mgus2_fg.csv")
stopifnot(identical(chk, rbind(read.csv("data/mgus2_fg_lyon.csv"), read.csv("data/mgus2_fg_wuhan.csv"))))
cat("colon_weighted:", nrow(cd), "rows; mgus2_fg:", nrow(fg), "rows\n")
