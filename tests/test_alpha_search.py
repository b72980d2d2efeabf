"""calibrate._match_collections: the search for the population whose model makes the recording's
young collections, with the fit and the replay replaced by known responses."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest

from gcperf.calibration import calibrate as C


def _rec(young: int = 400):
    return SimpleNamespace(collections=pd.DataFrame({"generation": [0] * young + [1] * 40,
                                                     "explicit": [0] * (young + 40)}))


def _fit(alpha: float):
    return SimpleNamespace(diagnostics={"alpha": alpha})


def _search(monkeypatch, response, alpha0: float = 1.0):
    """Run the search with ``response(alpha)`` as the model's young collections per the program's."""
    fits = []

    def fit_population(win, alphas):
        fits.append(alphas[0])
        return _fit(alphas[0])

    monkeypatch.setattr(C, "fit_population", fit_population)
    monkeypatch.setattr(C, "_young_ratio", lambda fit, rec, shape: response(fit.diagnostics["alpha"]))
    fit, report = C._match_collections(None, _fit(alpha0), _rec(), {})
    return fit.diagnostics["alpha"], report, fits


def test_a_model_that_makes_the_recorded_collections_is_kept_without_a_search(monkeypatch):
    alpha, report, fits = _search(monkeypatch, lambda a: 1.1)
    assert alpha == 1.0 and fits == [] and report["tried"] == [[1.0, 1.1]]


def test_the_search_finds_the_alpha_whose_model_makes_the_recorded_collections(monkeypatch):
    # collections grow as alpha^0.8; the program's count is made at alpha 4
    alpha, report, fits = _search(monkeypatch, lambda a: (a / 4.0) ** 0.8)
    assert len(fits) <= C.ALPHA_SEARCH_STEPS
    assert abs((alpha / 4.0) ** 0.8 - 1.0) <= C.SELF_CHECK_TOLERANCE / 2
    assert report["alpha"] == alpha and report["tried"][0] == [1.0, pytest.approx(4.0 ** -0.8)]


def test_a_flat_stretch_is_crossed_and_the_nearest_kept(monkeypatch):
    # nothing moves below alpha 2 (tp_networkx's shape); beyond, the count rises
    alpha, report, fits = _search(monkeypatch, lambda a: 0.49 if a <= 2.05 else 0.49 * (a / 2.05))
    target = 2.05 / 0.49
    assert alpha > 2.05 and abs(math.log(alpha / target)) < math.log(1.25)
    assert len(fits) <= C.ALPHA_SEARCH_STEPS


def test_too_many_collections_at_alpha_one_have_nowhere_to_go(monkeypatch):
    # alpha < 1 is not a model (fewer counted than tracked objects): keep what the balance gave
    alpha, report, fits = _search(monkeypatch, lambda a: 1.6)
    assert alpha == 1.0 and fits == []


def test_the_search_stays_within_the_balance_s_grid_and_keeps_the_nearest(monkeypatch):
    alpha, report, fits = _search(monkeypatch, lambda a: 0.1 * a ** 0.2)
    assert max(fits) <= C.ALPHA_MAX + 1e-9 and len(fits) <= C.ALPHA_SEARCH_STEPS
    assert alpha == max(fits)  # the count only rises with alpha: the largest tried is the nearest


def test_calibrate_says_what_the_search_did():
    from gcperf.calibration.cli import alpha_search_line

    assert alpha_search_line({"alpha": 1.0, "tried": [[1.0, 0.95]]}) is None
    line = alpha_search_line({"alpha": 5.0, "tried": [[1.0, 0.4877], [2.05, 0.4877], [4.2, 0.80], [5.0, 0.899]]})
    assert line == ("population: at the count0 balance's alpha 1.00 (counted per tracked young object) the model made "
                    "49 % of the recording's young collections; 3 more tried, kept alpha 5.00 (90 %)")
    # the balance's own alpha kept after a search that found nothing nearer
    kept = alpha_search_line({"alpha": 1.0, "tried": [[1.0, 0.61], [1.64, 0.60], [3.28, 0.41], [5.0, 0.35]]})
    assert kept.endswith("3 more tried, kept alpha 1.00 (61 %)")
