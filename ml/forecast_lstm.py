"""A global LSTM forecaster: one network for every school, trained with the pinball loss.

An encoder LSTM reads the school's last HISTORY_DAYS days; a decoder LSTM, started from the
encoder's state, walks over the school days ahead with what is known about them in advance
(calendar, rain forecast, the same weekday last week) and the school's static inputs. The head gives
the median and two non-negative widths, so P10 <= P50 <= P90 holds by construction. Everything is on
the scale of meals / enrolment minus the school's level, which is what lets one network serve all
schools.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from torch import nn

from ml.forecast_features import (
    FUTURE_FEATURES,
    HISTORY_FEATURES,
    QUANTILES,
    STATIC_FEATURES,
    ForecastInputs,
    training_inputs,
)
from ml.panel import Panel

torch.set_num_threads(1)  # the machine is shared; the model is small enough for one core


class QuantileLSTM(nn.Module):
    def __init__(self, hidden: int = 32):
        super().__init__()
        self.encoder = nn.LSTM(len(HISTORY_FEATURES) + len(STATIC_FEATURES), hidden, batch_first=True)
        self.decoder = nn.LSTM(len(FUTURE_FEATURES) + len(STATIC_FEATURES), hidden, batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(hidden + len(FUTURE_FEATURES), hidden), nn.ReLU(), nn.Linear(hidden, len(QUANTILES))
        )

    def forward(self, history: torch.Tensor, future: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        """[B, H, 3] quantiles on the ratio scale."""
        enc_in = torch.cat([history, static[:, None, :].expand(-1, history.shape[1], -1)], dim=-1)
        _, state = self.encoder(enc_in)
        dec_in = torch.cat([future, static[:, None, :].expand(-1, future.shape[1], -1)], dim=-1)
        decoded, _ = self.decoder(dec_in, state)
        raw = self.head(torch.cat([decoded, future], dim=-1))
        median = raw[..., 1]
        low = median - nn.functional.softplus(raw[..., 0])
        high = median + nn.functional.softplus(raw[..., 2])
        return torch.stack([low, median, high], dim=-1)


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Mean pinball loss over the known targets; pred [B, H, Q], target and known [B, H]."""
    q = torch.tensor(QUANTILES, dtype=pred.dtype)
    diff = torch.nan_to_num(target)[..., None] - pred
    loss = torch.maximum(q * diff, (q - 1) * diff)
    weight = known[..., None].to(pred.dtype)
    return (loss * weight).sum() / weight.sum().clamp(min=1) / len(QUANTILES)


def _tensors(inputs: ForecastInputs) -> tuple[torch.Tensor, ...]:
    return (
        torch.from_numpy(inputs.history),
        torch.from_numpy(inputs.future),
        torch.from_numpy(inputs.static),
    )


class LSTMModel:
    """Trains on random (origin, school) pairs of the panel; keeps the weights of the epoch with the
    lowest loss on the latest tenth of the pairs (a held-out stretch of time, not a random tenth, so
    the choice is made as the backtest will judge it)."""

    name = "lstm"

    def __init__(self, hidden: int = 32, epochs: int = 12, batch_size: int = 256, learning_rate: float = 3e-3,
                 max_pairs: int = 120_000, seed: int = 0):
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_pairs = max_pairs
        self.seed = seed
        self.network: QuantileLSTM | None = None
        self.history_loss: list[tuple[float, float]] = []  # (train, validation) per epoch

    def fit(self, panel: Panel) -> LSTMModel:
        torch.manual_seed(self.seed)
        inputs = training_inputs(panel, self.max_pairs, self.seed)
        n_valid = max(inputs.n // 10, 1) if inputs.n >= 20 else 0
        train, valid = inputs.take(np.arange(inputs.n - n_valid)), inputs.take(np.arange(inputs.n - n_valid, inputs.n))
        train_x, valid_x = _tensors(train), _tensors(valid)
        train_y = torch.from_numpy(np.nan_to_num(train.target_ratio()))
        train_known = torch.from_numpy(train.known)
        valid_y = torch.from_numpy(np.nan_to_num(valid.target_ratio()))
        valid_known = torch.from_numpy(valid.known)

        network = QuantileLSTM(self.hidden)
        optimiser = torch.optim.Adam(network.parameters(), lr=self.learning_rate)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(self.epochs, 1))
        shuffle = torch.Generator().manual_seed(self.seed)
        best, best_state = float("inf"), None
        self.history_loss = []
        for _ in range(self.epochs):
            network.train()
            order = torch.randperm(train.n, generator=shuffle)
            total = 0.0
            for start in range(0, train.n, self.batch_size):
                rows = order[start : start + self.batch_size]
                pred = network(*(t[rows] for t in train_x))
                loss = pinball_loss(pred, train_y[rows], train_known[rows])
                optimiser.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(network.parameters(), 1.0)
                optimiser.step()
                total += loss.item() * len(rows)
            scheduler.step()
            network.eval()
            with torch.no_grad():
                valid_loss = float(pinball_loss(network(*valid_x), valid_y, valid_known)) if n_valid else total
            self.history_loss.append((total / max(train.n, 1), valid_loss))
            if valid_loss < best:
                best, best_state = valid_loss, {k: v.clone() for k, v in network.state_dict().items()}
        if best_state is not None:
            network.load_state_dict(best_state)
        self.network = network.eval()
        return self

    def predict(self, inputs: ForecastInputs) -> np.ndarray:
        if self.network is None:
            raise RuntimeError("fit the model first")
        out = []
        with torch.no_grad():
            for start in range(0, inputs.n, 4096):
                part = inputs.take(np.arange(start, min(start + 4096, inputs.n)))
                out.append(self.network(*_tensors(part)).numpy())
        ratio = np.concatenate(out, axis=0) if out else np.zeros((0,) + inputs.target.shape[1:] + (len(QUANTILES),))
        # Clipping at zero meals keeps the order of the quantiles.
        return inputs.to_meals(ratio.astype(np.float64)).astype(np.float32)

    def __getstate__(self) -> dict:
        """Weights as torch's own byte format, so a pickled model does not depend on module internals."""
        state = dict(self.__dict__)
        if self.network is not None:
            buffer = io.BytesIO()
            torch.save(self.network.state_dict(), buffer)
            state["network"] = buffer.getvalue()
        return state

    def __setstate__(self, state: dict) -> None:
        weights = state.get("network")
        self.__dict__.update(state)
        if isinstance(weights, bytes):
            network = QuantileLSTM(self.hidden)
            network.load_state_dict(torch.load(io.BytesIO(weights), weights_only=True))
            self.network = network.eval()
