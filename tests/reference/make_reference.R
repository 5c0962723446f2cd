# Independent reference values for tests/test_scoring.py and tests/test_changes.py, computed with
# R's survey package (Lumley) on the synthetic data in tests/reference/responses.csv.
#
# Rerun from the repository root (needs R and the survey package, e.g. on Debian/Ubuntu
# `apt-get install -y r-base-core r-cran-survey`):
#
#     Rscript tests/reference/make_reference.R
#
# It reads tests/reference/responses.csv (written by make_dataset.py) and writes
# tests/reference/expected.csv. CI has no R: the tests read only the stored expected.csv.
# Last generated with R 4.2.2 and survey 4.1.1.
#
# Method (SCORING.md, implemented here without any of the product's code):
#   * each domain gets its own design, svydesign(ids = ~1, strata = ~stratum, weights = ~w), on the
#     domain's respondents only, with w = W_g / n_{g,d} (respondents without a group are left out);
#   * svytotal of y_q = a_q * p_q * f and x_q = a_q for every question;
#   * each criterion C_k = P_k / sum(p_q, q in A_k) * sum(y_q / x_q, q in A_k), with A_k the questions
#     with x_q > 0, and the total (sum of the C_k) as nonlinear svycontrast()s of those totals: the
#     delta method, i.e. the Taylor linearisation, with R's stratified variance
#     n_h / (n_h - 1) * sum (u_i - mean_h u)^2 (no finite-population correction);
#   * a stratum with a single respondent contributes 0 (options(survey.lonely.psu = "certainty"));
#   * df = degf(design) = respondents - strata for the total; a criterion's df counts only its own
#     respondents (SCORING.md, "Small domains"): n_k = respondents with a scored answer in k,
#     df_k = n_k - (strata among them);
#   * the index "tot" (share of answers A or B; SCORING.md, "Indices") per question as
#     svyratio(~g_q, ~x_q) with g_q = 1 for A or B, and per criterion (the mean of its questions'
#     shares over the questions with x_q > 0) and overall (sum of P_k * criterion share / M) as
#     svycontrast()s of the svytotals of g_q and x_q; df as for the points (a question's own
#     respondents and strata for a question). Measures "index:total", "index:<k>", "index:q:<q>".
# Domains: unit x quarter (strata = groups); unit x year 2024, pooling both quarters; the province
# x quarter pooled over respondents (weights W_g / n_{g,province}, strata = unit x group); and the
# change 2024-Q2 minus 2024-Q1 of every unit, as one contrast on a design holding both quarters
# (strata = quarter x group, each quarter weighted within itself), whose SE is sqrt(V1 + V0), with
# the Welch-Satterthwaite df computed from the two quarters' results.

suppressMessages(library(survey))
options(survey.lonely.psu = "certainty")

here <- "tests/reference"
points <- c("1.1" = 1.5, "1.2" = 1, "1.3" = 1.5, "2.1" = 1, "2.2" = 2,
            "3.1" = 0.5, "3.2" = 1, "3.3" = 1.5)
criterion_of <- c("1.1" = "1", "1.2" = "1", "1.3" = "1", "2.1" = "2", "2.2" = "2",
                  "3.1" = "3", "3.2" = "3", "3.3" = "3")
criterion_points <- c("1" = 4, "2" = 3, "3" = 3)
option_score <- c(A = 1, B = 0.6, C = 0.2, D = 0)  # X and blank: no scored answer
group_weight <- c(DAN = 0.4, DN = 0.35, CB = 0.25)
questions <- names(points)

responses <- read.csv(file.path(here, "responses.csv"), colClasses = "character",
                      check.names = FALSE, na.strings = character(0))
responses <- responses[responses$group %in% names(group_weight), ]

variable <- function(prefix, question, suffix = "") {
  paste0(prefix, gsub(".", "_", question, fixed = TRUE), suffix)
}
for (q in questions) {
  answered <- responses[[q]] %in% names(option_score)
  score <- unname(option_score[responses[[q]]])
  responses[[variable("x", q)]] <- as.numeric(answered)
  responses[[variable("y", q)]] <- ifelse(answered, points[[q]] * score, 0)
  responses[[variable("g", q)]] <- as.numeric(responses[[q]] %in% c("A", "B"))
}

# w = W_g / n_{g,d}, with the weighting cell `cell` (group within the domain).
add_weights <- function(data, cell) {
  count <- ave(rep(1, nrow(data)), cell, FUN = sum)
  data$w <- unname(group_weight[data$group]) / count
  data
}

# Criterion and total expressions (text) over the totals with the given variable suffix.
score_expressions <- function(x_totals, suffix = "") {
  texts <- character(0)
  for (k in names(criterion_points)) {
    in_k <- questions[criterion_of[questions] == k]
    answered <- in_k[x_totals[variable("x", in_k, suffix)] > 0]
    if (length(answered) == 0) next
    ratios <- paste0(variable("y", answered, suffix), " / ", variable("x", answered, suffix),
                     collapse = " + ")
    texts[k] <- sprintf("%.17g / %.17g * (%s)", criterion_points[[k]], sum(points[answered]), ratios)
  }
  if (length(texts) == length(criterion_points)) {
    texts["total"] <- paste0("(", texts, ")", collapse = " + ")
  }
  texts
}

# df of the respondents with a scored answer on any of `in_k`: their count minus their strata.
own_df <- function(data, in_k) {
  answering <- rowSums(as.matrix(data[, variable("x", in_k), drop = FALSE])) > 0
  sum(answering) - length(unique(data$stratum[answering]))
}

estimate <- function(data, kind, unit, period) {
  design <- svydesign(ids = ~1, strata = ~stratum, weights = ~w, data = data)
  totals <- svytotal(reformulate(c(variable("y", questions), variable("x", questions))), design)
  texts <- score_expressions(coef(totals))
  result <- svycontrast(totals, lapply(texts, str2lang))
  df <- sapply(names(texts), function(m) {
    if (m == "total") degf(design) else own_df(data, questions[criterion_of[questions] == m])
  })
  points_rows <- data.frame(kind = kind, unit = unit, period = period, measure = names(texts),
                            estimate = unname(coef(result)), se = unname(SE(result)),
                            df = unname(df), n = nrow(data))
  rbind(points_rows, estimate_index(data, design, kind, unit, period))
}

# The index "tot": shares of answers A or B, every question of a criterion counting equally.
estimate_index <- function(data, design, kind, unit, period) {
  totals <- svytotal(reformulate(c(variable("g", questions), variable("x", questions))), design)
  x <- coef(totals)[variable("x", questions)]
  answered <- questions[x > 0]
  out <- list()
  for (q in answered) {  # per question: svyratio
    ratio <- svyratio(reformulate(variable("g", q)), reformulate(variable("x", q)), design)
    out[[length(out) + 1]] <- data.frame(
      kind = kind, unit = unit, period = period, measure = paste0("index:q:", q),
      estimate = unname(coef(ratio)), se = unname(SE(ratio)), df = own_df(data, q),
      n = nrow(data))
  }
  texts <- character(0)
  for (k in names(criterion_points)) {
    in_k <- intersect(questions[criterion_of[questions] == k], answered)
    if (length(in_k) == 0) next
    texts[paste0("index:", k)] <- sprintf(
      "(%s) / %d", paste0(variable("g", in_k), " / ", variable("x", in_k), collapse = " + "),
      length(in_k))
  }
  if (length(texts) == length(criterion_points)) {
    texts["index:total"] <- sprintf(
      "(%s) / %.17g",
      paste0(sprintf("%.17g * (", criterion_points), texts, ")", collapse = " + "),
      sum(criterion_points))
  }
  result <- svycontrast(totals, lapply(texts, str2lang))
  df <- sapply(names(texts), function(m) {
    k <- sub("index:", "", m, fixed = TRUE)
    if (k == "total") degf(design) else own_df(data, questions[criterion_of[questions] == k])
  })
  out[[length(out) + 1]] <- data.frame(
    kind = kind, unit = unit, period = period, measure = names(texts),
    estimate = unname(coef(result)), se = unname(SE(result)), df = unname(df), n = nrow(data))
  do.call(rbind, out)
}

rows <- list()
for (unit in sort(unique(responses$unit))) {
  for (period in sort(unique(responses$period))) {
    domain <- responses[responses$unit == unit & responses$period == period, ]
    domain <- add_weights(domain, domain$group)
    domain$stratum <- domain$group
    rows[[length(rows) + 1]] <- estimate(domain, "unit", unit, period)
  }
  year <- responses[responses$unit == unit, ]
  year <- add_weights(year, year$group)
  year$stratum <- year$group
  rows[[length(rows) + 1]] <- estimate(year, "unit", unit, "2024")
}
for (period in sort(unique(responses$period))) {
  province <- responses[responses$period == period, ]
  province <- add_weights(province, province$group)
  province$stratum <- paste(province$unit, province$group)
  rows[[length(rows) + 1]] <- estimate(province, "province", "province", period)
}

# Change 2024-Q2 minus 2024-Q1 for each unit, on one design with both quarters.
for (unit in sort(unique(responses$unit))) {
  both <- responses[responses$unit == unit, ]
  both <- add_weights(both, paste(both$period, both$group))
  both$stratum <- paste(both$period, both$group)
  names_by_period <- c()
  for (suffix in c("_0", "_1")) {
    period <- if (suffix == "_0") "2024-Q1" else "2024-Q2"
    inside <- as.numeric(both$period == period)
    for (q in questions) {
      both[[variable("x", q, suffix)]] <- both[[variable("x", q)]] * inside
      both[[variable("y", q, suffix)]] <- both[[variable("y", q)]] * inside
    }
    names_by_period <- c(names_by_period, variable("y", questions, suffix),
                         variable("x", questions, suffix))
  }
  design <- svydesign(ids = ~1, strata = ~stratum, weights = ~w, data = both)
  totals <- svytotal(reformulate(names_by_period), design)
  before <- score_expressions(coef(totals), "_0")
  after <- score_expressions(coef(totals), "_1")
  measures <- intersect(names(after), names(before))
  texts <- setNames(sprintf("(%s) - (%s)", after[measures], before[measures]), measures)
  result <- svycontrast(totals, lapply(texts, str2lang))
  # Welch-Satterthwaite df from the two quarters' own variances and df.
  quarters <- do.call(rbind, rows)
  side <- function(period) {
    found <- quarters[quarters$kind == "unit" & quarters$unit == unit & quarters$period == period, ]
    found[match(measures, found$measure), ]
  }
  after_side <- side("2024-Q2")
  before_side <- side("2024-Q1")
  welch <- (after_side$se^2 + before_side$se^2)^2 /
    (after_side$se^4 / after_side$df + before_side$se^4 / before_side$df)
  rows[[length(rows) + 1]] <- data.frame(
    kind = "change", unit = unit, period = "2024-Q2 vs 2024-Q1", measure = measures,
    estimate = unname(coef(result)), se = unname(SE(result)), df = welch, n = nrow(both))
}

expected <- do.call(rbind, rows)
for (column in c("estimate", "se", "df")) {  # write.csv keeps only 15 digits: write all 17
  expected[[column]] <- sprintf("%.17g", expected[[column]])
}
write.csv(expected, file.path(here, "expected.csv"), row.names = FALSE)
cat(sprintf("wrote %d rows to %s\n", nrow(expected), file.path(here, "expected.csv")))
