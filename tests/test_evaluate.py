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


def test_macro_averages_count_the_classes_present_only():
    """Three people known, two in the test rows, both always right: every macro average is 1.0 (a person absent
    from the test rows and never predicted is not a precision and recall of 0), and one wrong row lowers them."""
    from facevoice.evaluate import classification_metrics

    y = np.array([0, 0, 1, 1])
    probs = np.eye(3)[y]
    out = classification_metrics(y, probs, ["a", "b", "c"])
    assert out["precision_macro"] == out["recall_macro"] == out["f1_macro"] == out["accuracy"] == 1.0
    wrong = classification_metrics(y, np.eye(3)[[0, 0, 1, 0]], ["a", "b", "c"])
    assert wrong["recall_macro"] == 0.75 and wrong["precision_macro"] == (2 / 3 + 1) / 2


def test_a_verification_score_on_too_few_test_people_is_flagged():
    from facevoice.evaluate import MIN_TEST_PEOPLE, few_people

    assert few_people(2) == {"flag": f"too few test people (2 < {MIN_TEST_PEOPLE}) for the score to mean anything"}
    assert few_people(MIN_TEST_PEOPLE) == {}
