# Reference fits for analysis.fit_glmm, made with lme4::glmer (binomial, logit, Laplace, nAGQ = 1).
# Run from this folder (tests/analysis/reference/glmm, kept apart from the LMM records that the
# LMM tests collect from reference/*.json):  Rscript make_glmm_reference.R
# Writes the data it uses as CSV (so the Python tests read exactly the same rows) and one
# JSON file per model with glmer's numbers:
#   glmm_cbpp.csv  lme4's cbpp in Bernoulli form (one row per animal: y = 1 for a case)
#   glmm_pain.csv  simulated trial-level pain-judgement accuracy (seed 20261201): 40
#                  participants (between-participant group) x 64 stimuli (pain or neutral,
#                  each seen once from each perspective in random order, 128 trials each), crossed participant and stimulus
#                  intercepts and a participant pain slope correlated with the intercept.
#   glmm_singular.csv  400 trials in 20 groups with no group variance (seed 3): a singular fit.
# The pain-design factors are effect-coded as analysis.DESIGN_CONTRASTS codes them (pain,
# self, outgroup = +0.5).
suppressPackageStartupMessages({library(lme4); library(jsonlite)})

# ---------------------------------------------------------------- data
data("cbpp", package = "lme4")
rows <- lapply(seq_len(nrow(cbpp)), function(i) {
  r <- cbpp[i, ]
  data.frame(herd = paste0("H", sprintf("%02d", as.integer(as.character(r$herd)))),
             period = paste0("P", as.character(r$period)),
             y = c(rep(1L, r$incidence), rep(0L, r$size - r$incidence)))
})
cb <- do.call(rbind, rows)
write.csv(cb, "glmm_cbpp.csv", row.names = FALSE)

set.seed(20261201)
n_part <- 40; n_stim <- 64
stim <- data.frame(stimulus_id = sprintf("s%02d", seq_len(n_stim)),
                   pain = rep(c("pain", "neutral"), each = n_stim / 2), stringsAsFactors = FALSE)
stim_b <- rnorm(n_stim, 0, 0.5)
part_id <- sprintf("p%02d", seq_len(n_part))
group <- rep(c("ingroup", "outgroup"), length.out = n_part)
# participant intercept sd 0.8, pain slope sd 0.6, correlation 0.4
L <- chol(matrix(c(0.8^2, 0.4 * 0.8 * 0.6, 0.4 * 0.8 * 0.6, 0.6^2), 2))
part_b <- matrix(rnorm(2 * n_part), n_part) %*% L
trials <- do.call(rbind, lapply(seq_len(n_part), function(i) {
  d <- rbind(data.frame(stim, perspective = "self"), data.frame(stim, perspective = "other"))
  d <- d[sample(nrow(d)), ]
  data.frame(participant = part_id[i], group = group[i], trial = seq_len(nrow(d)), d,
             stringsAsFactors = FALSE)
}))
x_pain <- ifelse(trials$pain == "pain", 0.5, -0.5)
x_self <- ifelse(trials$perspective == "self", 0.5, -0.5)
x_out <- ifelse(trials$group == "outgroup", 0.5, -0.5)
pi_ <- match(trials$participant, part_id)
si <- match(trials$stimulus_id, stim$stimulus_id)
eta <- 1.2 + 0.5 * x_pain + 0.3 * x_self - 0.2 * x_out + 0.25 * x_pain * x_self + 0.2 * x_pain * x_out +
  part_b[pi_, 1] + part_b[pi_, 2] * x_pain + stim_b[si]
trials$correct <- rbinom(nrow(trials), 1, plogis(eta))
write.csv(trials, "glmm_pain.csv", row.names = FALSE)

set.seed(3)
sing <- data.frame(g = rep(sprintf("g%02d", 1:20), each = 20), x = round(rnorm(400), 6))
sing$y <- rbinom(400, 1, plogis(0.5 * sing$x))
write.csv(sing, "glmm_singular.csv", row.names = FALSE)

pain <- trials
pain$pain <- x_pain
pain$perspective <- x_self
pain$group <- x_out

levels_sorted <- function(d) {
  for (v in names(d)) if (is.character(d[[v]])) d[[v]] <- factor(d[[v]], levels = sort(unique(d[[v]]), method = "radix"))
  d
}

# ---------------------------------------------------------------- records
record <- function(name, formula, data, csv, coding) {
  m <- glmer(formula, data = levels_sorted(data), family = binomial)
  m0 <- glmer(formula, data = levels_sorted(data), family = binomial, nAGQ = 0)
  co <- summary(m)$coefficients
  se_rx <- sqrt(diag(as.matrix(vcov(m, use.hessian = FALSE))))
  ci <- confint(m, method = "Wald", parm = "beta_")
  vc <- as.data.frame(VarCorr(m))
  ll <- logLik(m)
  re <- ranef(m)
  out <- list(
    name = name, formula = paste(deparse(formula, width.cutoff = 500), collapse = ""), data = csv,
    coding = coding, family = "binomial", link = "logit", nAGQ = 1, n_obs = nobs(m),
    fixed = data.frame(term = rownames(co), estimate = co[, "Estimate"], se = co[, "Std. Error"],
                       z = co[, "z value"], p = co[, "Pr(>|z|)"], ci_low = ci[, 1], ci_high = ci[, 2],
                       se_rx = se_rx, row.names = NULL),
    random = data.frame(group = vc$grp, term1 = vc$var1, term2 = ifelse(is.na(vc$var2), NA, vc$var2),
                        vcov = vc$vcov, sdcor = vc$sdcor),
    theta = unname(getME(m, "theta")), beta = unname(fixef(m)),
    logLik = as.numeric(ll), df = attr(ll, "df"), AIC = AIC(m), BIC = BIC(m),
    deviance = deviance(m), minus_two_loglik = -2 * as.numeric(ll), devcomp_dev = unname(getME(m, "devcomp")$cmp["dev"]),
    singular = isSingular(m),
    ranef = lapply(re, function(r) list(levels = rownames(r), values = as.list(r))),
    nAGQ0 = list(theta = unname(getME(m0, "theta")), beta = unname(fixef(m0)), logLik = as.numeric(logLik(m0))),
    optimizer = m@optinfo$optimizer, conv_messages = m@optinfo$conv$lme4$messages
  )
  out$versions <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                       Matrix = as.character(packageVersion("Matrix")))
  write_json(out, paste0(name, ".json"), digits = NA, auto_unbox = TRUE, na = "null", pretty = TRUE)
  invisible(m)
}

record("glmm_cbpp", y ~ period + (1 | herd), cb, "glmm_cbpp.csv", "treatment")
record("glmm_pain_intercepts", correct ~ pain * perspective * group + (1 | participant) + (1 | stimulus_id),
       pain, "glmm_pain.csv", "design")
record("glmm_pain_slope", correct ~ pain * perspective * group + (1 + pain | participant) + (1 | stimulus_id),
       pain, "glmm_pain.csv", "design")
record("glmm_singular", y ~ x + (1 | g), sing, "glmm_singular.csv", "treatment")
