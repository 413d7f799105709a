"""Second opinion: statsmodels' MixedLM agrees with fit_lmm on sleepstudy's correlated random slope."""
from __future__ import annotations

import warnings

import numpy as np
from lmm_reference import fit_reference, reference_data


def test_sleepstudy_random_slope_matches_statsmodels():
    """Fixed effects, SEs, the random covariance and the residual variance agree with MixedLM's REML fit."""
    import statsmodels.formula.api as smf

    data = reference_data("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm = smf.mixedlm("Reaction ~ Days", data, groups=data["Subject"], re_formula="~Days").fit(reml=True)
    ours = fit_reference("sleepstudy")
    assert np.allclose(ours.beta, sm.fe_params.to_numpy(), rtol=1e-4)
    assert np.allclose(ours.fixed.se, sm.bse_fe.to_numpy(), rtol=2e-3)
    assert np.allclose(ours.covariance(0), sm.cov_re.to_numpy(), rtol=5e-3)
    assert np.isclose(ours.sigma ** 2, sm.scale, rtol=2e-3)
