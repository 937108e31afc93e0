"""The learned risk model: the probability that a school has a shortage or a day without a meal in
the next 7 days, honestly backtested against the rule-based score on a later period.

Backtest: origins are split by date into train | gap | validation | gap | test. The gaps are the
label horizon (7 days), so no training label overlaps a later window. Each candidate is fitted on
train, calibrated on validation (isotonic: `CalibratedClassifierCV` on the frozen model), and scored
on test. The rule score competes on the same rows: its points are mapped to a probability by the
same calibration on validation, so its Brier score is comparable; its AUCs use the points directly.

Explanations add up exactly to the served (calibrated) probability. Each model's raw score splits
exactly into a base value plus per-feature contributions: a random forest's probability by the
path through each tree (each split's change in the node's positive share goes to the split's
feature), gradient boosting's log-odds by the same path rule (node values are the count-weighted
mean of their leaves), a logistic regression's log-odds term by term. Calibration is a monotone map
g of that raw score, so the served probability is g(base) plus every contribution times the same
factor (g(raw) - g(base)) / (raw - base): the calibration's average slope between the base and
this school. Signs and ranking of the contributions are kept; their sizes are in probability.

What is served: the backtest picks the model and its settings; that choice is then fitted again by
the same recipe on the latest labelled data (the backtest's windows moved up to the store's last
labelled origin: calibration on the most recent window, training on everything before it less the
gap) and the refit is served. Its figures are the backtest's, where they were measured out of
sample. The backtest's own fit is kept beside it in the registry: a later retrain compares versions
by re-scoring that fit on its new test window, which the refit has already learned from. The rule
score has no parameters to learn, so when it wins it is served as backtested.
"""

from __future__ import annotations

import datetime as dt
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ml.registry import Registry, data_hash
from ml.risk_dataset import FEATURES, HORIZON_DAYS, RiskDataset
from twin import risk as rule_risk

RULE_SCORE = "rule_score"
CANDIDATES = ("random_forest", "hist_gradient_boosting", "logistic_regression")
SELECTION_METRIC = "brier"  # a proper score of the probabilities the twin serves; lower is better


# ----------------------------------------------------------------- the time split


@dataclass(frozen=True)
class TimeSplit:
    """Origin-date windows: train < train_end; valid_start <= valid < valid_end; test >= test_start."""

    train_end: np.datetime64
    valid_start: np.datetime64
    valid_end: np.datetime64
    test_start: np.datetime64

    def masks(self, origin: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (origin < self.train_end,
                (origin >= self.valid_start) & (origin < self.valid_end),
                origin >= self.test_start)

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items()}


def time_split(origin: np.ndarray, valid_fraction: float = 0.2, test_fraction: float = 0.3,
               gap_days: int = HORIZON_DAYS) -> TimeSplit:
    """Windows by share of the origin span (test the latest), with `gap_days` dropped before the
    validation and the test windows, so no label of an earlier window reaches into a later one."""
    first, last = origin.min(), origin.max()
    span = (last - first).astype(np.int64)
    test_start = first + np.timedelta64(int(round(span * (1 - test_fraction))), "D")
    valid_start = first + np.timedelta64(int(round(span * (1 - test_fraction - valid_fraction))), "D")
    gap = np.timedelta64(gap_days + 1, "D")  # a label window t+1..t+7 must end before the next starts
    split = TimeSplit(valid_start - gap + np.timedelta64(1, "D"), valid_start, test_start - gap + np.timedelta64(1, "D"),
                      test_start)
    return split


# ----------------------------------------------------------------- scorers


class RiskModel:
    """A calibrated risk model: `predict` gives probabilities, `explain` their exact decomposition."""

    def __init__(self, name: str, estimator: ClassifierMixin, calibrated: CalibratedClassifierCV,
                 feature_names: tuple[str, ...] = FEATURES):
        self.name = name
        self.estimator = estimator
        self.calibrated = calibrated
        self.feature_names = feature_names

    def predict(self, features: np.ndarray) -> np.ndarray:
        """float64 [n]: calibrated probability of a shortage or a no-meal day in the next 7 days."""
        return self.calibrated.predict_proba(np.asarray(features, np.float32))[:, 1]

    def raw_score(self, features: np.ndarray) -> np.ndarray:
        """The uncalibrated score the calibration maps (log-odds, or a forest's probability)."""
        x = np.asarray(features, np.float32)
        if hasattr(self.estimator, "decision_function"):
            return self.estimator.decision_function(x)
        return self.estimator.predict_proba(x)[:, 1]

    def calibration_map(self, raw: np.ndarray) -> np.ndarray:
        (calibrator,) = self.calibrated.calibrated_classifiers_[0].calibrators
        return np.clip(calibrator.predict(np.asarray(raw, np.float64)), 0.0, 1.0)

    def raw_contributions(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(base [n], contributions [n, F]) in raw-score space; base + contributions.sum(1) == raw."""
        x = np.asarray(features, np.float32)
        est = self.estimator
        if isinstance(est, RandomForestClassifier):
            return _forest_contributions(est, x)
        if isinstance(est, HistGradientBoostingClassifier):
            return _boosting_contributions(est, x)
        return _linear_contributions(est, x)

    def explain_many(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(base [n], contributions [n, F]) in probability: base + contributions.sum(1) == predict."""
        base_raw, contrib = self.raw_contributions(features)
        raw = base_raw + contrib.sum(axis=1)
        return _calibrated_decomposition(base_raw, raw, contrib, self.calibration_map(base_raw),
                                         self.predict(features))

    def explain(self, row: np.ndarray) -> dict:
        """One school: the base probability, each feature's contribution and the prediction."""
        base, contrib = self.explain_many(np.asarray(row, np.float32).reshape(1, -1))
        return _explanation(self.name, float(base[0]), self.feature_names, contrib[0])

    def to_bytes(self) -> bytes:
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def from_bytes(data: bytes) -> RiskModel:
        return pickle.loads(data)  # noqa: S301 - our own registry's files


class RuleScoreModel:
    """The rule-based score behind the same interface: its points (twin.risk.factor_points) mapped
    to a probability by isotonic calibration on the validation window. Input: the rule points."""

    name = RULE_SCORE
    feature_names = rule_risk.FACTORS

    def __init__(self, calibrator: IsotonicRegression):
        self.calibrator = calibrator

    @classmethod
    def fit(cls, points: np.ndarray, label: np.ndarray) -> RuleScoreModel:
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        return cls(iso.fit(points.sum(axis=1), label.astype(np.float64)))

    def predict(self, points: np.ndarray) -> np.ndarray:
        return self.calibration_map(np.asarray(points).sum(axis=1))

    def calibration_map(self, score: np.ndarray) -> np.ndarray:
        return self.calibrator.predict(np.asarray(score, np.float64))

    def explain_many(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        points = np.asarray(points, np.float64)
        zero = np.zeros(len(points))
        score = points.sum(axis=1)
        return _calibrated_decomposition(zero, score, points, self.calibration_map(zero), self.calibration_map(score))

    def explain(self, points_row: np.ndarray) -> dict:
        base, contrib = self.explain_many(np.asarray(points_row).reshape(1, -1))
        return _explanation(self.name, float(base[0]), self.feature_names, contrib[0])


def _calibrated_decomposition(base_raw: np.ndarray, raw: np.ndarray, contrib: np.ndarray, base_p: np.ndarray,
                              p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale raw-space contributions by the calibration's secant slope so they add up to p - base_p."""
    step = raw - base_raw
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(step != 0, (p - base_p) / step, 0.0)
    scaled = contrib * factor[:, None]
    # make the sum exact in floating point: the rounding residue goes to the largest contribution
    residue = p - base_p - scaled.sum(axis=1)
    if scaled.size:
        biggest = np.abs(scaled).argmax(axis=1)
        scaled[np.arange(len(scaled)), biggest] += residue
    return base_p, scaled


def _explanation(name: str, base: float, names: tuple[str, ...], contrib: np.ndarray) -> dict:
    order = np.argsort(-np.abs(contrib))
    return {
        "model": name,
        "base": base,
        "prediction": base + float(contrib.sum()),
        "contributions": {names[i]: float(contrib[i]) for i in order.tolist()},
    }


# ----------------------------------------------------------------- raw-space decompositions


def _forest_contributions(forest: RandomForestClassifier, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per tree: each split's change in the positive share along the path goes to its feature."""
    n, nf = x.shape
    contrib = np.zeros((n, nf))
    base = 0.0
    positive = list(forest.classes_).index(True) if True in forest.classes_ else 1
    for tree in forest.estimators_:
        t = tree.tree_
        share = t.value[:, 0, positive] / t.value[:, 0, :].sum(axis=1)
        parent = np.full(t.node_count, -1)
        internal = np.flatnonzero(t.children_left >= 0)
        parent[t.children_left[internal]] = internal
        parent[t.children_right[internal]] = internal
        child = np.flatnonzero(parent >= 0)
        # W[node, feature]: the step into `node` is credited to its parent's split feature
        w = sparse.csr_matrix((share[child] - share[parent[child]], (child, t.feature[parent[child]])),
                              shape=(t.node_count, nf))
        contrib += (tree.decision_path(x) @ w).toarray()
        base += share[0]
    k = len(forest.estimators_)
    return np.full(n, base / k), contrib / k


def _boosting_contributions(model: HistGradientBoostingClassifier, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-odds: the baseline plus, per tree, the path rule with node values the count-weighted mean
    of their leaves (the tree's expected output over the training rows that reached the node)."""
    n, nf = x.shape
    xf = x.astype(np.float64)
    contrib = np.zeros((n, nf))
    base = float(np.ravel(model._baseline_prediction)[0])
    rows = np.arange(n)
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        value = _mean_node_values(nodes)
        base += value[0]
        at = np.zeros(n, np.int64)
        while True:
            inner = ~nodes["is_leaf"][at].astype(bool)
            if not inner.any():
                break
            r, node = rows[inner], at[inner]
            feat = nodes["feature_idx"][node].astype(np.int64)
            v = xf[r, feat]
            left = np.where(np.isnan(v), nodes["missing_go_to_left"][node].astype(bool),
                            v <= nodes["num_threshold"][node])
            nxt = np.where(left, nodes["left"][node], nodes["right"][node]).astype(np.int64)
            np.add.at(contrib, (r, feat), value[nxt] - value[node])
            at[inner] = nxt
    return np.full(n, base), contrib


def _mean_node_values(nodes: np.ndarray) -> np.ndarray:
    value = nodes["value"].astype(np.float64).copy()
    count = nodes["count"].astype(np.float64).copy()
    # children have higher indices than their parent: fill parents from the bottom up
    for i in range(len(nodes) - 1, -1, -1):
        if not nodes["is_leaf"][i]:
            lo, hi = int(nodes["left"][i]), int(nodes["right"][i])
            total = count[lo] + count[hi]
            value[i] = (count[lo] * value[lo] + count[hi] * value[hi]) / total if total > 0 else 0.0
            count[i] = total
    return value


def _linear_contributions(pipeline: Pipeline, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-odds term by term; the scaler centres every feature on its training mean, so the base
    is the intercept (the log-odds of a school at the training average)."""
    scaler, logistic = pipeline[0], pipeline[-1]
    z = scaler.transform(x.astype(np.float64))
    contrib = z * logistic.coef_[0]
    return np.full(len(x), float(logistic.intercept_[0])), contrib


# ----------------------------------------------------------------- fitting and the backtest


def make_estimator(name: str, seed: int = 0) -> ClassifierMixin:
    """The candidate models, sized for a shared two-core machine (one thread each)."""
    if name == "random_forest":
        return RandomForestClassifier(n_estimators=80, min_samples_leaf=40, max_features="sqrt", max_samples=0.5,
                                      n_jobs=1, random_state=seed)
    if name == "hist_gradient_boosting":
        return HistGradientBoostingClassifier(learning_rate=0.05, max_iter=300, max_leaf_nodes=31, min_samples_leaf=100,
                                              l2_regularization=1.0, early_stopping=True, validation_fraction=0.1,
                                              n_iter_no_change=20, random_state=seed)
    if name == "logistic_regression":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    raise ValueError(f"unknown candidate {name!r}; known: {CANDIDATES}")


def fit_risk_model(name: str, train: RiskDataset, valid: RiskDataset, seed: int = 0,
                   method: str = "isotonic") -> RiskModel:
    """Fit `name` on `train`, calibrate it on `valid` (a later window)."""
    estimator = make_estimator(name, seed).fit(train.features, train.label)
    calibrated = CalibratedClassifierCV(FrozenEstimator(estimator), method=method)
    calibrated.fit(valid.features, valid.label)
    return RiskModel(name, estimator, calibrated)


def metrics(label: np.ndarray, probability: np.ndarray, ranking: np.ndarray | None = None,
            reference_prevalence: float | None = None) -> dict[str, float]:
    """ROC-AUC and PR-AUC of `ranking` (default: the probability), Brier score of the probability and
    its skill against always forecasting `reference_prevalence` (default: the test prevalence)."""
    y = np.asarray(label, bool)
    score = probability if ranking is None else ranking
    prevalence = float(y.mean())
    reference = prevalence if reference_prevalence is None else float(reference_prevalence)
    brier = float(brier_score_loss(y, probability))
    baseline = float(np.mean((reference - y) ** 2))
    return {
        "roc_auc": float(roc_auc_score(y, score)),
        "pr_auc": float(average_precision_score(y, score)),
        "brier": brier,
        "brier_baseline": baseline,
        "brier_skill": 1.0 - brier / baseline if baseline > 0 else float("nan"),
        "prevalence": prevalence,
        "rows": int(len(y)),
    }


@dataclass
class Backtest:
    split: TimeSplit
    metrics: dict[str, dict[str, float]]  # candidate (and the rule score) -> test metrics
    models: dict[str, RiskModel | RuleScoreModel] = field(repr=False)
    rows: dict[str, int]  # train / valid / test rows used
    served: str  # the backtest's choice

    def summary(self) -> dict:
        return {"split": self.split.as_dict(), "rows": self.rows, "metrics": self.metrics, "served": self.served}


def run_backtest(data: RiskDataset, candidates: tuple[str, ...] = CANDIDATES, split: TimeSplit | None = None,
                 seed: int = 0, max_train_rows: int | None = 300_000, max_valid_rows: int | None = 300_000,
                 max_test_rows: int | None = None, say: Callable[[str], None] | None = None) -> Backtest:
    """Fit every candidate on the train window, calibrate on validation, score all of them and the
    rule score on the test window; `served` is the one with the lowest test Brier score."""
    say = say or (lambda message: None)
    split = split or time_split(data.origin)
    in_train, in_valid, in_test = split.masks(data.origin)
    rng = np.random.default_rng(seed)
    train = data.take(_sample(in_train, max_train_rows, rng))
    valid = data.take(_sample(in_valid, max_valid_rows, rng))
    test = data.take(_sample(in_test, max_test_rows, rng))
    if len(test) == 0:
        raise ValueError("the split leaves the test window empty")
    _require_positives(train, valid)
    reference = float(np.concatenate([train.label, valid.label]).mean())  # known before the test window
    results: dict[str, dict[str, float]] = {}
    models: dict[str, RiskModel | RuleScoreModel] = {}
    for name in candidates:
        say(f"fitting {name} on {len(train):,} rows")
        model = fit_risk_model(name, train, valid, seed)
        models[name] = model
        results[name] = metrics(test.label, model.predict(test.features), reference_prevalence=reference)
        say(f"{name}: " + ", ".join(f"{k} {v:.4f}" for k, v in results[name].items() if k != "rows"))
    rule = RuleScoreModel.fit(valid.rule_points, valid.label)
    models[RULE_SCORE] = rule
    results[RULE_SCORE] = metrics(test.label, rule.predict(test.rule_points), ranking=test.rule_score,
                                  reference_prevalence=reference)
    rows = {"train": len(train), "valid": len(valid), "test": len(test)}
    return Backtest(split, results, models, rows, select_served(results))


def _require_positives(train: RiskDataset, calibration: RiskDataset) -> None:
    if min(len(train), len(calibration)) == 0 or not (train.label.any() and calibration.label.any()):
        raise ValueError("the split leaves a window empty or without a single positive label")


def select_served(candidates: dict[str, dict[str, float]], metric: str = SELECTION_METRIC,
                  higher_is_better: bool = False) -> str:
    """The candidate (the rule score included) with the best backtest `metric`; ties go to the rule
    score, then to the order given (simpler first is the caller's choice)."""
    def key(item: tuple[str, dict[str, float]]) -> tuple[float, int]:
        name, m = item
        value = m[metric] if higher_is_better else -m[metric]
        return (value, name == RULE_SCORE)

    return max(candidates.items(), key=key)[0]


def _sample(mask: np.ndarray, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    rows = np.flatnonzero(mask)
    if limit is not None and len(rows) > limit:
        rows = np.sort(rng.choice(rows, limit, replace=False))
    return rows


# ----------------------------------------------------------------- the refit that is served


@dataclass
class Refit:
    """The backtest's choice fitted again by the same recipe on the latest labelled origins."""

    model: RiskModel
    split: TimeSplit  # its test window is empty: the backtest has already scored the recipe
    rows: dict[str, int]  # train / calibration rows used


def refit_split(origin: np.ndarray, backtest_split: TimeSplit, gap_days: int = HORIZON_DAYS) -> TimeSplit:
    """The backtest's train | gap | validation moved up to the latest labelled origin: calibration
    on the most recent window, as long as the backtest's validation window (so the calibration is
    the one the backtest scored), training on every origin before it less the label gap."""
    end = origin.max() + np.timedelta64(1, "D")
    calibration_start = end - (backtest_split.valid_end - backtest_split.valid_start)
    return TimeSplit(calibration_start - np.timedelta64(gap_days, "D"), calibration_start, end, end)


def refit_chosen(backtest: Backtest, data: RiskDataset, seed: int = 0) -> Refit | None:
    """Fit the backtest's choice again on the latest labelled windows of `data`, on at most as many
    rows as the backtest fitted and calibrated it on: the settings (leaf sizes, samples per tree)
    act on row counts, so the refit stays the model that was scored, and costs one fit like it.
    None when the rule score won: it has no parameters to learn."""
    if backtest.served == RULE_SCORE:
        return None
    split = refit_split(data.origin, backtest.split)
    in_train, in_calibration, _ = split.masks(data.origin)
    rng = np.random.default_rng(seed)
    train = data.take(_sample(in_train, backtest.rows["train"], rng))
    calibration = data.take(_sample(in_calibration, backtest.rows["valid"], rng))
    _require_positives(train, calibration)
    model = fit_risk_model(backtest.served, train, calibration, seed)
    return Refit(model, split, {"train": len(train), "calibration": len(calibration)})


# ----------------------------------------------------------------- from the store to the registry

RISK_KIND = "risk"
RISK_BACKTEST_KIND = "risk_backtest"  # the backtest's own fit of each refitted risk version


def dataset_from_store(store_root: Path | str, stride: int = 5, district_groups: int = 4,
                       start: dt.date | None = None, end: dt.date | None = None) -> RiskDataset:
    """The risk rows of every stored school, built a few districts at a time to bound memory (block
    aggregates stay whole: a block lies in one district)."""
    from ml import history_store
    from ml.risk_dataset import build_risk_dataset, origin_days
    from twin import geography

    all_districts = np.arange(len(geography.district_names()))
    parts = []
    for group in np.array_split(all_districts, district_groups):
        panel = history_store.load_panel(store_root, start, end, districts=group)
        if panel.n_schools == 0:
            continue
        parts.append(build_risk_dataset(panel, origin_days(panel, stride)))
    return RiskDataset.concat(parts)


def score_on(model: RiskModel | RuleScoreModel, data: RiskDataset) -> np.ndarray:
    """A model's probabilities for `data`'s rows, whichever kind of model it is."""
    if isinstance(model, RuleScoreModel):
        return model.predict(data.rule_points)
    return model.predict(data.features)


def register_backtest(registry: Registry, backtest: Backtest, data: RiskDataset, data_description: dict,
                      seed: int) -> tuple[str, bool]:
    """Register the backtest's choice, refitted on the latest labelled data (the calibrated rule
    score as it is), with every candidate's figures, and serve it only if its backtest beats the
    served version's on this same test window. Returns (version, promoted)."""
    refit = refit_chosen(backtest, data, seed)
    _, _, in_test = backtest.split.masks(data.origin)
    incumbent_brier, basis = served_backtest_brier(registry, backtest.split.test_start, data.take(in_test))
    meta = _risk_meta(backtest, refit, data, data_description, seed)
    meta["served_model_brier_on_this_test"] = incumbent_brier
    meta["served_model_comparison"] = basis
    if refit is None:
        served_model = backtest.models[backtest.served]
    else:
        meta["backtest_model"] = _register_backtest_model(registry, backtest, meta["backtest_window"])
        served_model = refit.model
    version = registry.register(RISK_KIND, pickle.dumps(served_model, protocol=pickle.HIGHEST_PROTOCOL), meta)
    promoted = registry.promote_if_better(RISK_KIND, version, "brier", higher_is_better=False,
                                          incumbent_value=incumbent_brier)
    return version, promoted


def served_backtest_brier(registry: Registry, test_start: np.datetime64,
                          test: RiskDataset) -> tuple[float | None, str]:
    """The served version's Brier score on the candidate's test rows, and how it was had. Its
    backtest's fit (the served model itself when nothing was refit) is re-scored when the last
    origin it learned from lies a label horizon before `test_start`: the same out-of-sample rows
    as the candidate's figure. A refit is never re-scored: it has learned from these rows. When
    even the backtest's fit has seen them, None: the registry compares with the recorded figure."""
    served = registry.served(RISK_KIND)
    if served is None:
        return None, "none"
    meta = registry.meta(RISK_KIND, served)
    seen_until = _last_backtest_origin(meta)
    if seen_until is None or seen_until >= test_start - np.timedelta64(HORIZON_DAYS, "D"):
        return None, "recorded"
    model = _backtest_model(registry, served, meta)
    return float(brier_score_loss(test.label, score_on(model, test))), "rescored"


def _last_backtest_origin(meta: dict) -> np.datetime64 | None:
    """The latest origin a version's backtest fit learned from: the end of its calibration window.
    Versions registered before refitting recorded their backtest windows as the training window."""
    windows = meta.get("backtest_window") or meta.get("training_window") or {}
    calibration = windows.get("calibration")
    return np.datetime64(calibration[1], "D") if calibration else None


def _backtest_model(registry: Registry, version: str, meta: dict) -> RiskModel | RuleScoreModel:
    kept = meta.get("backtest_model")
    if kept is None:  # served as backtested
        return RiskModel.from_bytes(registry.load_bytes(RISK_KIND, version))
    return RiskModel.from_bytes(registry.load_bytes(kept["kind"], kept["version"]))


def _register_backtest_model(registry: Registry, backtest: Backtest, window: dict) -> dict[str, str]:
    """Keep the backtest's own fit of the choice, for later retrains to re-score out of sample."""
    name = backtest.served
    meta = {"model": name, "metrics": backtest.metrics[name], "training_window": window}
    version = registry.register(RISK_BACKTEST_KIND, backtest.models[name].to_bytes(), meta)
    return {"kind": RISK_BACKTEST_KIND, "version": version}


def _risk_meta(backtest: Backtest, refit: Refit | None, data: RiskDataset, data_description: dict,
               seed: int) -> dict:
    """What a risk version records: the backtest's figures and windows, and the windows of what is
    served (the refit's, or the backtest's own when the rule score is served as backtested)."""
    backtest_window = _windows(data.origin, backtest.split)
    training_window = backtest_window if refit is None else _windows(data.origin, refit.split)
    return {
        "model": backtest.served,
        "metrics": backtest.metrics[backtest.served],
        "backtest": backtest.summary(),
        "backtest_window": backtest_window,
        "training_window": {**training_window, "gap_days": HORIZON_DAYS},
        "refit": None if refit is None else {"rows": refit.rows},
        "data": {**data_description, "rows": len(data), "hash": data_hash(data.features, data.label)},
        "features": list(backtest.models[backtest.served].feature_names),
        "label": f"shortage reported or a day without a meal within the next {HORIZON_DAYS} days",
        "seed": seed,
    }


def _windows(origin: np.ndarray, split: TimeSplit) -> dict:
    """The first and last origins of a split's training window, and the ranges of its calibration
    and (when it has one) test windows."""
    in_train, in_calibration, in_test = split.masks(origin)
    window = {"first_origin": str(origin[in_train].min()), "last_origin": str(origin[in_train].max()),
              "calibration": _origin_range(origin[in_calibration])}
    if in_test.any():
        window["test"] = _origin_range(origin[in_test])
    return window


def _origin_range(origin: np.ndarray) -> list[str]:
    return [str(origin.min()), str(origin.max())]
