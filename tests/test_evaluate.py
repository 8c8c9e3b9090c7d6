"""The metrics helpers against scikit-learn: ``evaluate.roc_points`` gives ``roc_curve``'s points exactly."""
import numpy as np


def test_roc_points_are_sklearns_roc_curve():
    """``roc_points`` (EER, minDCF and their intervals) gives exactly sklearn's ``roc_curve`` points."""
    from sklearn.metrics import roc_curve

    from facevoice.evaluate import roc_points

    rng = np.random.default_rng(1)
    for n, decimals in ((50, 1), (400, 2), (1000, 6)):  # many ties, some, almost none
        y, s = rng.integers(0, 2, n), np.round(rng.random(n), decimals).astype(np.float32)
        for got, want in zip(roc_points(y, s), roc_curve(y, s)):
            np.testing.assert_array_equal(got, want)
