"""Students that see only pixels: generic image features and two classifiers on them.

A student never sees the caption or the generator's traits: only the RGB picture, reduced to generic
features any image would have (a coarse thumbnail, colour histograms, a histogram of oriented gradients).
It is trained on one teacher's verdicts (cute or not) and predicts the probability that this teacher
would call a new picture cute.
"""
from __future__ import annotations

import numpy as np
from skimage.color import rgb2gray, rgb2hsv
from skimage.feature import hog
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from xgboost import XGBClassifier

STUDENT_KINDS = ("XGBoost", "logistic regression")


class PixelFeatures(TransformerMixin, BaseEstimator):
    """(n, h, w, 3) uint8 pictures → (n, d) floats: thumbnail, hue/saturation/value histograms, HOG.

    Stateless: `fit` learns nothing, so the same picture always gets the same features.
    """

    def __init__(self, thumbnail: int = 8, hue_bins: int = 12, level_bins: int = 8, hog_cell: int = 16):
        self.thumbnail = thumbnail
        self.hue_bins = hue_bins
        self.level_bins = level_bins
        self.hog_cell = hog_cell

    def fit(self, images, labels=None):
        return self

    def transform(self, images) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected pictures shaped (n, height, width, 3), got {images.shape}")
        n, height, width, _ = images.shape
        if height % self.thumbnail or width % self.thumbnail:
            raise ValueError(f"picture size {height}×{width} is not a multiple of the thumbnail size {self.thumbnail}")
        pixels = images.astype(np.float32) / 255.0
        block_h, block_w = height // self.thumbnail, width // self.thumbnail
        thumbnails = pixels.reshape(n, self.thumbnail, block_h, self.thumbnail, block_w, 3).mean(axis=(2, 4))

        hsv = rgb2hsv(pixels.reshape(-1, width, 3)).reshape(n, height * width, 3)
        # Hue counts only where there is colour: grey and black pixels have an arbitrary hue.
        hue_index = np.minimum((hsv[..., 0] * self.hue_bins).astype(int), self.hue_bins - 1)
        hue = np.zeros((n, self.hue_bins), np.float32)
        np.add.at(hue, (np.repeat(np.arange(n), height * width), hue_index.ravel()), hsv[..., 1].ravel())
        hue /= height * width

        def level_histogram(channel):
            index = np.minimum((channel * self.level_bins).astype(int), self.level_bins - 1)
            return np.stack([np.bincount(row, minlength=self.level_bins) for row in index]) / (height * width)

        saturation, value = level_histogram(hsv[..., 1]), level_histogram(hsv[..., 2])
        gray = rgb2gray(pixels)
        gradients = np.stack([hog(picture, orientations=9, pixels_per_cell=(self.hog_cell, self.hog_cell),
                                  cells_per_block=(2, 2), feature_vector=True) for picture in gray])
        return np.hstack([thumbnails.reshape(n, -1), hue, saturation, value, gradients]).astype(np.float32)


def held_out_split(rows, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test rows, each sorted: `test_fraction` of `rows` (rounded) held out at random."""
    rows = np.asarray(rows)
    # scikit-learn takes a RandomState; over PCG64(seed) it permutes exactly as np.random.default_rng(seed),
    # the generator every seed in the book feeds.
    train, test = train_test_split(rows, test_size=int(round(test_fraction * len(rows))),
                                   random_state=np.random.RandomState(np.random.PCG64(seed)))
    return np.sort(train), np.sort(test)


def make_student(kind: str, seed: int):
    """An untrained classifier on pixel features: gradient-boosted trees or a regularised linear model."""
    if kind == "XGBoost":
        # One thread: these fits are small, and on a 2-core machine shared with other jobs, OpenMP threads
        # waiting for each other sometimes made two threads several times slower than one
        # (benchmarks/bench_creatures.py compares them).
        return XGBClassifier(n_estimators=100, max_depth=4, learning_rate=0.1, subsample=0.8, colsample_bytree=0.3,
                             tree_method="hist", max_bin=32, n_jobs=1, random_state=seed)
    if kind == "logistic regression":
        return make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=3000, random_state=seed))
    raise ValueError(f"unknown student kind {kind!r}; choose one of {STUDENT_KINDS}")


class OneVerdictStudent(BaseEstimator):
    """What a student can learn from a teacher who gave one verdict throughout: that verdict."""

    def __init__(self, verdict: int):
        self.verdict = verdict

    def predict_proba(self, features) -> np.ndarray:
        probability = np.full(len(features), float(self.verdict))
        return np.column_stack([1 - probability, probability])

    def predict(self, features) -> np.ndarray:
        return np.full(len(features), self.verdict, dtype=int)


def fit_student(kind: str, features: np.ndarray, verdicts: np.ndarray, seed: int, shuffle_labels: bool = False):
    """Train one student on a teacher's verdicts (1 cute, 0 not, NaN unparseable: left out).

    With `shuffle_labels` the verdicts are permuted across pictures first: the control student that keeps
    the teacher's base rate but loses any link between a picture and its verdict.
    """
    verdicts = np.asarray(verdicts, dtype=np.float64)
    known = np.isfinite(verdicts)
    features, labels = features[known], verdicts[known].astype(int)
    if shuffle_labels:
        labels = np.random.default_rng(seed).permutation(labels)
    if len(np.unique(labels)) < 2:
        return OneVerdictStudent(int(labels[0]) if len(labels) else 0)
    return clone(make_student(kind, seed)).fit(features, labels)


def cute_probability(student, features: np.ndarray) -> np.ndarray:
    return student.predict_proba(features)[:, 1]


def cuter_half(p_cute) -> np.ndarray:
    """1.0 where the judge's P(cute) is above its own median over the pictures, else 0.0 (NaN stays NaN).

    A small judge may say "no" to nearly everything, so its verdicts can be almost constant and no agreement
    could be measured against them; which pictures it finds *relatively* cute is its taste, and is what a
    student is taught."""
    p_cute = np.asarray(p_cute, dtype=float)
    return np.where(np.isnan(p_cute), np.nan, (p_cute > np.nanmedian(p_cute)).astype(float))
