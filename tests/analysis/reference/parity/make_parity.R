# R's numbers for the parity tests of the report's RM-ANOVA (afex) and mixed-model contrasts (emmeans).
# Run from this folder:  Rscript make_parity.R
# Reads pilot_trials.csv (written by make_data.py) and writes:
#   afex_pilot.json   afex::aov_ez on participant cell means, pain x perspective x group x stimulus_type,
#                     for each rating (GG-corrected and uncorrected tables, partial eta squared)
#   obk_cells.csv     afex's obk.long reduced to the within factors phase (3) x hour (5): the cell values used
#   afex_obk.json     afex::aov_ez on obk_cells.csv (GG epsilon != 1)
#   emmeans_pilot.json  lmerTest::lmer fits of each rating (REML, converged tightly with bobyqa) with emmeans
#                     cell means and the report's contrasts, Satterthwaite df (lmer.df = "satterthwaite");
#                     the fit with lme4's default optimizer recorded beside it
suppressPackageStartupMessages({library(afex); library(lme4); library(lmerTest); library(emmeans); library(jsonlite)})

versions <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                 lmerTest = as.character(packageVersion("lmerTest")),
                 emmeans = as.character(packageVersion("emmeans")), afex = as.character(packageVersion("afex")),
                 car = as.character(packageVersion("car")), jsonlite = as.character(packageVersion("jsonlite")))

write_json_file <- function(x, path) {
  writeLines(toJSON(x, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE), path)
}

FACTORS <- c("pain", "perspective", "group", "stimulus_type")
trials <- read.csv("pilot_trials.csv", stringsAsFactors = FALSE, na.strings = "")

# ---- RM-ANOVA with afex -------------------------------------------------------------------------

afex_tables <- function(fit) {
  # afex's term names use ':' as the toolkit's; corrected num/den df = epsilon x uncorrected df
  gg <- anova(fit, correction = "GG", es = "pes")
  none <- anova(fit, correction = "none", es = "pes")
  terms <- rownames(none)
  adj <- suppressWarnings(summary(fit)$pval.adjustments)   # absent when every factor has two levels
  eps_car <- setNames(rep(NA_real_, length(terms)), terms)
  if (!is.null(adj) && length(adj)) for (t in rownames(adj)) eps_car[[t]] <- adj[t, "GG eps"]
  rows <- lapply(terms, function(t) list(
    term = t, F = none[t, "F"], num_df = none[t, "num Df"], den_df = none[t, "den Df"], mse = none[t, "MSE"],
    pes = none[t, "pes"], p = none[t, "Pr(>F)"],
    num_df_gg = gg[t, "num Df"], den_df_gg = gg[t, "den Df"], p_gg = gg[t, "Pr(>F)"],
    gg_epsilon = gg[t, "num Df"] / none[t, "num Df"],
    gg_epsilon_car = if (is.na(eps_car[[t]])) NULL else eps_car[[t]]))
  rows
}

# participant cell means: the mean of the non-missing trials per participant x cell
cell_means_of <- function(dv) {
  used <- trials[!is.na(trials[[dv]]), c("participant", FACTORS, dv)]
  aggregate(used[dv], by = used[c("participant", FACTORS)], FUN = mean)
}

afex_pilot <- list(versions = versions, data = "pilot_trials.csv", within = FACTORS,
                   call = "aov_ez(id = 'participant', dv, data = participant cell means, within = FACTORS, anova_table = list(correction = 'GG', es = 'pes'))",
                   ratings = list())
for (dv in c("rating_pain_intensity", "rating_unpleasantness")) {
  means <- cell_means_of(dv)
  fit <- aov_ez(id = "participant", dv = dv, data = means, within = FACTORS,
                anova_table = list(correction = "GG", es = "pes"))
  afex_pilot$ratings[[dv]] <- list(n_participants = length(unique(means$participant)), n_cells = nrow(means),
                                   terms = afex_tables(fit))
}
write_json_file(afex_pilot, "afex_pilot.json")

data("obk.long", package = "afex")
obk <- data.frame(id = as.character(obk.long$id), phase = as.character(obk.long$phase),
                  hour = as.character(obk.long$hour), value = obk.long$value)
obk <- obk[order(as.integer(obk$id), obk$phase, obk$hour), ]
write.csv(obk, "obk_cells.csv", row.names = FALSE)
fit <- aov_ez(id = "id", dv = "value", data = obk, within = c("phase", "hour"),
              anova_table = list(correction = "GG", es = "pes"))
write_json_file(list(versions = versions, data = "obk_cells.csv", within = c("phase", "hour"),
                     source = "afex::obk.long (O'Brien & Kaiser 1985), between factors ignored",
                     call = "aov_ez(id = 'id', dv = 'value', data = obk_cells.csv, within = c('phase', 'hour'), anova_table = list(correction = 'GG', es = 'pes'))",
                     terms = afex_tables(fit)), "afex_obk.json")

# ---- lmerTest + emmeans -------------------------------------------------------------------------

# effect coding exactly as analysis.DESIGN_CONTRASTS: pain, self, outgroup, hand = +0.5
coded <- function(x, low, high) {
  f <- factor(x, levels = c(low, high))
  contrasts(f) <- matrix(c(-0.5, 0.5), ncol = 1, dimnames = list(c(low, high), NULL))
  f
}
lmm_data <- trials
lmm_data$pain <- coded(trials$pain, "neutral", "pain")
lmm_data$perspective <- coded(trials$perspective, "other", "self")
lmm_data$group <- coded(trials$group, "ingroup", "outgroup")
lmm_data$stimulus_type <- coded(trials$stimulus_type, "face", "hand")

emm_table <- function(s) {
  s <- as.data.frame(s)
  lapply(seq_len(nrow(s)), function(i) as.list(s[i, ]))
}

contrast_weights <- function(grid) {
  # the report's contrasts as weights over the pain x perspective x group cells of the emmeans grid
  sp <- ifelse(grid$pain == "pain", 1, -1)
  w <- list()
  w[["pain - neutral (all)"]] <- sp / 4
  for (persp in c("self", "other")) for (grp in c("ingroup", "outgroup"))
    w[[sprintf("pain - neutral | %s, %s", persp, grp)]] <- sp * (grid$perspective == persp & grid$group == grp)
  w[["in-group bias: pain effect in-group - out-group"]] <- sp * ifelse(grid$group == "ingroup", 1, -1) / 2
  w[["pain effect self - other"]] <- sp * ifelse(grid$perspective == "self", 1, -1) / 2
  w
}

emmeans_results <- function(m) {
  emm <- emmeans(m, ~ pain * perspective * group, lmer.df = "satterthwaite")
  weights <- contrast_weights(as.data.frame(emm))
  con <- as.data.frame(summary(contrast(emm, method = weights, adjust = "none"), infer = c(TRUE, TRUE)))
  # the same contrasts on the fixed effects, through lmerTest's contest1D (its own Satterthwaite df)
  lmertest <- lapply(names(weights), function(n) {
    r <- contest1D(m, drop(weights[[n]] %*% emm@linfct))
    list(contrast = n, estimate = r$Estimate, se = r[["Std. Error"]], df = r$df)
  })
  list(reml_criterion = unname(REMLcrit(m)), theta = unname(getME(m, "theta")), sigma = sigma(m),
       singular = isSingular(m), messages = m@optinfo$conv$lme4$messages,
       cell_means = emm_table(summary(emm, infer = c(TRUE, TRUE))), contrasts = emm_table(con),
       contrast_weights = lapply(weights, unname), lmertest_contest1d = lmertest)
}

# lme4's default optimizer (nloptwrap) stops early on these fits (theta within ~1e-4, and on
# rating_unpleasantness with a convergence warning, max|grad| 0.011): the reference is the fit
# converged tightly with bobyqa; the default fit is recorded beside it as 'default_optimizer'.
TIGHT <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
emm_models <- list()
for (dv in c("rating_pain_intensity", "rating_unpleasantness")) {
  formula <- paste(dv, "~ pain * perspective * group + stimulus_type + (1 + pain | participant) + (1 | stimulus_id)")
  m <- lmerTest::lmer(as.formula(formula), data = lmm_data, REML = TRUE, control = TIGHT)
  m_default <- suppressWarnings(lmerTest::lmer(as.formula(formula), data = lmm_data, REML = TRUE))
  co <- summary(m)$coefficients
  emm_models[[dv]] <- c(
    list(formula = formula, reml = TRUE, n_obs = nobs(m),
         control = "lmerControl(optimizer = 'bobyqa', optCtrl = list(rhoend = 1e-12, maxfun = 1e5))",
         fixed = lapply(seq_len(nrow(co)), function(i) list(term = rownames(co)[i], estimate = co[i, "Estimate"],
                                                             se = co[i, "Std. Error"], df = co[i, "df"]))),
    emmeans_results(m),
    list(default_optimizer = c(list(control = "lmerControl() (nloptwrap)"), emmeans_results(m_default))))
}
write_json_file(list(versions = versions, data = "pilot_trials.csv",
                     coding = "pain: neutral -0.5 / pain +0.5; perspective: other -0.5 / self +0.5; group: ingroup -0.5 / outgroup +0.5; stimulus_type: face -0.5 / hand +0.5",
                     emmeans_call = "emmeans(m, ~ pain * perspective * group, lmer.df = 'satterthwaite'); contrast(emm, method = weights, adjust = 'none')",
                     models = emm_models), "emmeans_pilot.json")
cat("wrote afex_pilot.json, obk_cells.csv, afex_obk.json, emmeans_pilot.json\n")
