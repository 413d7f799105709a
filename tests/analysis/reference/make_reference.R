# Reference fits for analysis.fit_lmm, made with lme4 + lmerTest.
# Run from this folder:  Rscript make_reference.R
# Writes the data sets it uses as CSV (so the Python tests read exactly the same rows) and
# one JSON file per model with lme4's and lmerTest's numbers. The simulated pain-empathy
# data (pain_40x48.csv) is written by make_data.py; its two-level factors are effect-coded
# here exactly as analysis.DESIGN_CONTRASTS codes them (pain, self, outgroup = +0.5).
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})

data("sleepstudy", "Penicillin", "InstEval", "Pastes", package = "lme4")
sleep <- sleepstudy
sleep$Subject <- as.character(sleep$Subject)
sleep$phase <- ifelse(sleep$Days < 3, "early", ifelse(sleep$Days < 6, "mid", "late"))
write.csv(sleep, "sleepstudy.csv", row.names = FALSE)
pen <- data.frame(diameter = Penicillin$diameter, plate = as.character(Penicillin$plate),
                  sample = as.character(Penicillin$sample))
write.csv(pen, "penicillin.csv", row.names = FALSE)
pastes <- data.frame(strength = Pastes$strength, batch = as.character(Pastes$batch), cask = as.character(Pastes$cask))
write.csv(pastes, "pastes.csv", row.names = FALSE)
ie <- InstEval[1:10000, ]
inst <- data.frame(y = ie$y, s = paste0("s", ie$s), d = paste0("d", ie$d),
                   service = ifelse(ie$service == "1", "yes", "no"), dept = paste0("D", ie$dept))
write.csv(inst, "insteval_10k.csv", row.names = FALSE)

pain <- read.csv("pain_40x48.csv", stringsAsFactors = FALSE)
pain$pain <- ifelse(pain$pain == "pain", 0.5, -0.5)
pain$perspective <- ifelse(pain$perspective == "self", 0.5, -0.5)
pain$group <- ifelse(pain$group == "outgroup", 0.5, -0.5)

levels_sorted <- function(d) {
  # character columns become factors with levels in C-locale sorted order, as the Python side sorts them
  for (v in names(d)) if (is.character(d[[v]])) d[[v]] <- factor(d[[v]], levels = sort(unique(d[[v]]), method = "radix"))
  d
}

fixed_table <- function(m) {
  co <- summary(m)$coefficients
  data.frame(term = rownames(co), estimate = co[, "Estimate"], se = co[, "Std. Error"], df = co[, "df"],
             t = co[, "t value"], p = co[, "Pr(>|t|)"], row.names = NULL)
}

random_table <- function(m) {
  vc <- as.data.frame(VarCorr(m))
  vc <- vc[vc$grp != "Residual", ]
  data.frame(group = vc$grp, term1 = vc$var1, term2 = ifelse(is.na(vc$var2), NA, vc$var2),
             vcov = vc$vcov, sdcor = vc$sdcor)
}

ranef_list <- function(m) {
  re <- ranef(m)
  lapply(re, function(r) list(levels = rownames(r), values = as.list(r)))
}

anova_table <- function(m) {
  a <- anova(m, type = 3)
  data.frame(term = rownames(a), F = a[["F value"]], NumDF = a[["NumDF"]], DenDF = a[["DenDF"]],
             p = a[["Pr(>F)"]], row.names = NULL)
}

joint_table <- function(m) {
  # joint Wald F over each term's own columns (lmerTest's contest with joint = TRUE), the
  # hypothesis analysis.anova_type3 tests; for numeric and effect-coded terms it equals anova(type = 3)
  assign <- attr(model.matrix(m), "assign")
  labels <- attr(terms(m), "term.labels")
  rows <- lapply(seq_along(labels), function(i) {
    cols <- which(assign == i)
    L <- matrix(0, length(cols), length(assign))
    L[cbind(seq_along(cols), cols)] <- 1
    ct <- contest(m, L, joint = TRUE)
    data.frame(term = labels[i], F = ct[["F value"]], NumDF = ct[["NumDF"]], DenDF = ct[["DenDF"]],
               p = ct[["Pr(>F)"]])
  })
  do.call(rbind, rows)
}

lrt_table <- function(m0, m1) {
  a <- suppressMessages(anova(m0, m1, refit = TRUE))
  data.frame(model = c("m0", "m1"), npar = a$npar, AIC = a$AIC, BIC = a$BIC, logLik = a$logLik,
             deviance = a$deviance, Chisq = a$Chisq, Df = a$Df, p = a[["Pr(>Chisq)"]], row.names = NULL)
}

record <- function(name, csv, d, formula, reml = TRUE, null_formula = NULL, coding = "design") {
  d <- levels_sorted(d)
  t0 <- proc.time()[["elapsed"]]
  m <- lmer(as.formula(formula), data = d, REML = reml)
  elapsed <- proc.time()[["elapsed"]] - t0
  out <- list(
    name = name, data = csv, formula = formula, reml = reml, coding = coding, n_obs = nobs(m),
    criterion = if (reml) REMLcrit(m) else deviance(m),
    logLik = as.numeric(logLik(m)), AIC = AIC(m), BIC = BIC(m), df_loglik = attr(logLik(m), "df"),
    sigma = sigma(m), theta = unname(getME(m, "theta")), isSingular = isSingular(m),
    fixed = fixed_table(m), random = random_table(m), ranef = ranef_list(m), anova = anova_table(m),
    anova_joint = joint_table(m),
    fit_seconds = elapsed)
  if (!is.null(null_formula)) {
    m0 <- lmer(as.formula(null_formula), data = d, REML = reml)
    out$lrt <- list(null_formula = null_formula, table = lrt_table(m0, m))
  }
  out$versions <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                       lmerTest = as.character(packageVersion("lmerTest")))
  write_json(out, paste0(name, ".json"), digits = NA, auto_unbox = TRUE, na = "null", pretty = TRUE)
  cat(name, ": criterion", out$criterion, " fit", elapsed, "s\n")
}

record("sleepstudy", "sleepstudy.csv", sleep, "Reaction ~ Days + (Days | Subject)",
       null_formula = "Reaction ~ Days + (1 | Subject)")
record("sleepstudy_ml", "sleepstudy.csv", sleep, "Reaction ~ Days + (Days | Subject)", reml = FALSE)
record("sleepstudy_uncorrelated", "sleepstudy.csv", sleep, "Reaction ~ Days + (Days || Subject)")
record("sleepstudy_factor_slope", "sleepstudy.csv", sleep, "Reaction ~ phase + (1 + phase | Subject)")
record("sleepstudy_factor_interaction", "sleepstudy.csv", sleep, "Reaction ~ Days * phase + (1 | Subject)",
       coding = "treatment")
record("penicillin", "penicillin.csv", pen, "diameter ~ 1 + (1 | plate) + (1 | sample)",
       null_formula = "diameter ~ 1 + (1 | plate)")
record("pastes_nested", "pastes.csv", pastes, "strength ~ 1 + (1 | batch/cask)")
record("insteval_10k", "insteval_10k.csv", inst, "y ~ service + dept + (1 | s) + (1 | d)")
record("pain_rating", "pain_40x48.csv", pain,
       "rating ~ pain * perspective * group + (1 + pain | participant) + (1 | stimulus)",
       null_formula = "rating ~ pain * perspective * group + (1 | participant) + (1 | stimulus)")
record("pain_log_rt", "pain_40x48.csv", pain, "log_rt ~ pain * perspective * group + (1 | participant) + (1 | stimulus)")
record("pain_rating_two_slopes", "pain_40x48.csv", pain,
       "rating ~ pain * perspective * group + (1 + pain | participant) + (1 + perspective | stimulus)")
record("pain_log_rt_slope", "pain_40x48.csv", pain,
       "log_rt ~ pain * perspective * group + (1 + pain | participant) + (1 | stimulus)")

# the design's factors as text with R's default treatment contrasts (no effect coding)
pain_text <- read.csv("pain_40x48.csv", stringsAsFactors = FALSE)
record("pain_treatment", "pain_40x48.csv", pain_text,
       "rating ~ pain * perspective * group + (1 | participant) + (1 | stimulus)", coding = "treatment")
