"""scikit-learn baselines, in the same registry as the Keras builders.

A baseline builder is marked ``sklearn = True`` and returns an unfitted estimator; ``train.run`` then
fits it on the flattened training rows, saves it with joblib as ``models/<name>.joblib`` and writes its
metrics through the same ``evaluate.classification_metrics``. Every scaler in a baseline pipeline is
fitted on the training rows only (it is part of the pipeline that ``fit`` sees).
"""
from __future__ import annotations

import math

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


@sklearn_builder("pca_svm")
def build_pca_svm(input_shape, n_classes, x_train, pretrained=None, components=150, C=10.0, seed=42):
    """The classic face baseline (eigenfaces): pixels scaled to [0, 1], PCA with whitening (at most
    ``components``, fewer when there are fewer training rows), then an RBF SVM."""
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.svm import SVC

    k = max(1, min(int(components), len(x_train) - 1, math.prod(int(d) for d in input_shape)))
    return make_pipeline(FunctionTransformer(_unit_scale), PCA(n_components=k, whiten=True, random_state=seed),
                         SVC(C=C, kernel="rbf", gamma="scale", class_weight="balanced", random_state=seed))


@sklearn_builder("logreg")
def build_logreg(input_shape, n_classes, x_train, pretrained=None, C=1.0, max_iter=2000, seed=42, standardize=True):
    """The classic voice baseline: standardised features (e.g. MFCC means and deviations) and a
    multinomial logistic regression. ``standardize: false`` keeps the features as they are: a pretrained unit-length
    embedding (GE2E) whose directions carry the identity, where rescaling each of 256 dimensions from a few training
    rows adds noise."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    steps = [StandardScaler()] if standardize else []
    return make_pipeline(*steps, LogisticRegression(C=C, max_iter=max_iter, random_state=seed))


def _unit_scale(x):
    return x / 255.0

