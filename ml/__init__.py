"""Learned models of the twin: the risk model (scikit-learn classifiers over schools' daily features), the
demand forecaster (an LSTM against baselines), their training, backtests, registry and serving,
and the history store they learn from."""
