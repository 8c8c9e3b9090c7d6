"""scikit-learn baselines, in the same registry as the Keras builders.

A baseline builder is marked ``sklearn = True`` and returns an unfitted estimator; ``train.run`` then
fits it on the flattened training rows, saves it with joblib as ``models/<name>.joblib`` and writes its
metrics through the same ``evaluate.classification_metrics``. Every scaler in a baseline pipeline is
fitted on the training rows only (it is part of the pipeline that ``fit`` sees).
"""
from __future__ import annotations

from . import register


def sklearn_builder(name: str):
    def wrap(func):
        func.sklearn = True
        return register(name)(func)
    return wrap


@sklearn_builder("linear_svm")
def build_linear_svm(input_shape, n_classes, x_train, pretrained=None, C=1.0, max_iter=1000, solver="liblinear",
                     seed=42):
    """MinMaxScaler + a linear SVM: ``solver: liblinear`` (LinearSVC, squared hinge, primal: on 16k raw samples
    x a few hundred clips it fits in ~2 s where the dual takes ~10 s) or ``sgd`` (SGDClassifier, hinge loss)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler
    from sklearn.svm import LinearSVC

    if solver == "sgd":
        from sklearn.linear_model import SGDClassifier

        clf = SGDClassifier(loss="hinge", alpha=1.0 / (C * max(len(x_train), 1)), max_iter=max_iter,
                            random_state=seed, tol=1e-4)
    else:
        clf = LinearSVC(C=C, dual=False, max_iter=max_iter, random_state=seed)
    return make_pipeline(MinMaxScaler(), clf)
