"""`mealtwin data history` and `mealtwin ml ...`: the learned models' data, training and registry."""

from __future__ import annotations

import datetime as dt
import json
import pickle
import shutil
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True, soft_wrap=True)
app = typer.Typer(help="Learned risk and demand models: history, training, registry.", no_args_is_help=True)



def _default_root() -> Path:
    from configs import Settings
    from configs.settings import models_root

    return Path(models_root(Settings()))


DEFAULT_ROOT = _default_root()  # the running twin's store and registry, so the commands act on its models


def _say(message: str) -> None:
    console.print(f"[bold green]mealtwin[/] {message}")


def live_feed_start() -> dt.date:
    """The live feed's first day: the simulated history ends the day before, so the live twin's own
    days (appended to the same store) follow it without a gap."""
    from configs import Settings

    return dt.date.fromisoformat(Settings().feed.start_date)


def history(
    years: int = typer.Option(3, min=1, help="years of daily history"),
    schools: int = typer.Option(43_000, min=1, help="synthetic schools (seeded, as `data generate` makes them)"),
    seed: int = typer.Option(0, help="seed of the schools and the world"),
    out: Path = typer.Option(DEFAULT_ROOT, help="store root: writes <out>/history/yyyy-mm.npz"),
    end: dt.datetime | None = typer.Option(None, formats=["%Y-%m-%d"],
                                           help="first day after the history (default: the live feed's start date)"),
    replace: bool = typer.Option(False, help="delete an existing history under <out> first"),
) -> None:
    """Simulate `years` of daily history of every school from the world model (attendance, meals,
    stock, funds, closures, district rain, the school calendar) into the history store for training."""
    from ml import history_store
    from ml.history_writer import write_history, years_before

    last = end.date() if end is not None else live_feed_start()
    first = years_before(last, years)
    folder = history_store.history_dir(out)
    if history_store.months(out):
        if not replace:
            _say(f"{folder} already holds a history; use --replace to start afresh")
            raise typer.Exit(1)
        shutil.rmtree(folder)
    started = time.perf_counter()
    with Progress(TextColumn("history"), BarColumn(), MofNCompleteColumn(), TextColumn("days"),
                  TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.description}"),
                  console=console) as bar:
        task = bar.add_task("", total=(last - first).days)
        write_history(out, schools, seed, first, last, lambda done, total: bar.update(task, completed=done),
                      lambda month: bar.update(task, description=str(month.dates[0])[:7]))
    summary = history_store.describe(out)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    _say(f"{summary['rows']:,} school-days of {summary['schools']:,} schools, {summary['first_day']} to "
         f"{summary['last_day']}, {summary['bytes'] / 1e6:,.0f} MB in {folder} ({summary['seconds']:,.0f}s)")
    print(json.dumps({k: v for k, v in summary.items() if k != "meta"}))


def history_info(out: Path = typer.Option(DEFAULT_ROOT, help="store root")) -> None:
    """What the history store under <out> holds."""
    from ml import history_store

    print(json.dumps(history_store.describe(out), indent=2))


app.command("history-info")(history_info)


def train_risk(
    store: Path = typer.Option(DEFAULT_ROOT, help="history store root (from `data history`)"),
    registry: Path = typer.Option(DEFAULT_ROOT, help="model registry root: <registry>/models/risk/"),
    stride: int = typer.Option(5, min=1, help="days between origin days"),
    max_train_rows: int = typer.Option(300_000, help="training rows sampled from the train window"),
    max_test_rows: int = typer.Option(1_000_000, help="test rows sampled from the test window (0: all)"),
    models: str = typer.Option("random_forest,hist_gradient_boosting,logistic_regression",
                               help="candidates, comma-separated (the rule score always competes)"),
    seed: int = typer.Option(0),
) -> None:
    """Backtest the learned risk models against the rule-based score on a later period, register
    the winner and serve it if it beats the served version."""
    from rich.table import Table

    from ml import history_store
    from ml.registry import Registry
    from ml.risk_model import dataset_from_store, register_backtest, run_backtest

    started = time.perf_counter()
    info = history_store.describe(store)
    _say(f"risk rows from {info['schools']:,} schools, {info['first_day']} to {info['last_day']}")
    data = dataset_from_store(store, stride=stride)
    _say(f"{len(data):,} rows, {data.label.mean():.2%} positive ({time.perf_counter() - started:,.0f}s)")
    candidates = tuple(name.strip() for name in models.split(",") if name.strip())
    backtest = run_backtest(data, candidates, seed=seed, max_train_rows=max_train_rows, max_test_rows=max_test_rows or None,
                            say=_say)
    table = Table(title=f"risk backtest: test {backtest.split.test_start} on, {backtest.rows['test']:,} rows")
    for column in ("model", "ROC-AUC", "PR-AUC", "Brier", "Brier skill"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, m in backtest.metrics.items():
        table.add_row(name + (" (served)" if name == backtest.served else ""), f"{m['roc_auc']:.4f}",
                      f"{m['pr_auc']:.4f}", f"{m['brier']:.5f}", f"{m['brier_skill']:.4f}")
    console.print(table)
    description = {k: info[k] for k in ("root", "first_day", "last_day", "schools", "rows")}
    description["store_meta"] = info.get("meta", {})
    description["stride_days"] = stride
    version, promoted = register_backtest(Registry(registry), backtest, data, description, seed)
    verdict = "now served" if promoted else "not promoted: the served version scores at least as well"
    _say(f"risk {version} ({backtest.served}) registered, {verdict} ({time.perf_counter() - started:,.0f}s)")
    print(json.dumps({"version": version, "promoted": promoted, **backtest.summary()}, default=str))


app.command("train-risk")(train_risk)


def explain_risk(
    school_id: int = typer.Argument(..., help="UDISE code"),
    store: Path = typer.Option(DEFAULT_ROOT, help="history store root"),
    registry: Path = typer.Option(DEFAULT_ROOT, help="model registry root"),
    top: int = typer.Option(8, help="contributions to show"),
) -> None:
    """The served risk model's probability for one school on the store's last day, and why."""
    import numpy as np

    from ml import history_store
    from ml.registry import Registry
    from ml.risk_dataset import LOOKBACK_DAYS, features_at
    from ml.risk_model import RISK_KIND, RuleScoreModel

    reg = Registry(registry)
    version = reg.served(RISK_KIND)
    if version is None:
        _say("no risk model is served yet: run `mealtwin ml train-risk`")
        raise typer.Exit(1)
    model = pickle.loads(reg.load_bytes(RISK_KIND, version))  # noqa: S301 - our own registry
    last = np.datetime64(history_store.describe(store)["last_day"])
    panel = history_store.load_panel(store, last - LOOKBACK_DAYS + 1, last + 1)
    column = np.flatnonzero(panel.school_id == school_id)
    if column.size == 0:
        _say(f"school {school_id} is not in the store")
        raise typer.Exit(1)
    # block aggregates need the school's whole block
    panel = panel.schools(np.flatnonzero(panel.block == panel.block[column[0]]))
    rows = features_at(panel)
    i = int(np.flatnonzero(panel.school_id == school_id)[0])
    x = rows.rule_points[i] if isinstance(model, RuleScoreModel) else rows.features[i]
    out = model.explain(x)
    out["contributions"] = dict(list(out["contributions"].items())[:top])
    print(json.dumps({"school_id": school_id, "day": str(last), "version": version,
                      "rule_score": float(rows.rule_score[i]), **out}, indent=2))


app.command("explain-risk")(explain_risk)


def retrain(
    store: Path = typer.Option(DEFAULT_ROOT, help="history store root (from `data history`)"),
    registry: Path | None = typer.Option(None, help="model registry root (default: the store root)"),
    forecast_schools: int = typer.Option(3000, min=1, help="schools sampled (whole blocks) for training"),
    risk_rows: int = typer.Option(300_000, min=1000, help="risk rows to build from the sample"),
    seed: int = typer.Option(0),
) -> None:
    """Backtest and train the risk model and the demand forecaster on a sample of the store, register
    both and serve each only if it beats the served version on the backtest."""
    from ml.pipeline import retrain as run_retrain

    with Progress(TextColumn("retrain"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console) as bar:
        task = bar.add_task("", total=1.0)
        report = run_retrain(store, registry_root=registry, seed=seed, forecast_schools=forecast_schools,
                             risk_rows=risk_rows,
                             progress=lambda stage, fraction: bar.update(task, completed=fraction, description=stage))
    _say(report["statement"])
    _say(f"done in {report['seconds']['total']:,.0f}s")
    print(json.dumps(report, default=str))


app.command("retrain")(retrain)


def accuracy(
    store: Path = typer.Option(DEFAULT_ROOT, help="history store root"),
    registry: Path | None = typer.Option(None, help="model registry root (default: the store root)"),
) -> None:
    """Every registered model version with its backtest figures; the served ones marked."""
    from ml.pipeline import accuracy as board

    print(json.dumps(board(store, registry_root=registry), indent=2, default=str))


app.command("accuracy")(accuracy)
