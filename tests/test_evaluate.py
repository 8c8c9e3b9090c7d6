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


def test_flags_and_reasons_stay_in_the_details_and_the_metrics_file_holds_numbers(tmp_path):
    """``write_metrics`` splits: the degenerate and too-few-people flags, skip reasons, lists and nested blocks go to
    ``metrics/details/<name>.json`` whole; ``metrics/<name>.json`` keeps the flat headline numbers."""
    import json

    from facevoice.evaluate import classification_metrics, details_path, few_people, read_details, write_metrics

    y = np.array([0, 1, 0, 1])
    clf = {**classification_metrics(y, np.tile([0.3, 0.7], (4, 1)), ["f", "m"], groups=np.arange(4)), "task": "gender"}
    verifier = {"eer": 0.2, "eer_ci": [0.1, 0.3], **few_people(3), "face_only": {"eer": 0.3}}
    for name, full in (("clf", clf), ("siam", verifier), ("skip", {"skipped": "one person"})):
        write_metrics(tmp_path / f"{name}.json", full)
        assert read_details(tmp_path / f"{name}.json") == json.loads(details_path(tmp_path / f"{name}.json").read_text())
        flat = json.loads((tmp_path / f"{name}.json").read_text())
        assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat.values()), flat
    assert read_details(tmp_path / "clf.json")["degenerate"] == "predicts one class"
    assert "too few test people" in read_details(tmp_path / "siam.json")["flag"]
    assert json.loads((tmp_path / "siam.json").read_text()) == {"eer": 0.2, "eer_ci_low": 0.1, "eer_ci_high": 0.3}
