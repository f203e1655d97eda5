"""The statsforecast peer of `app/benches/forecast.rs` (BENCHMARKS.md, Forecasting).

Reads the series the Rust bench wrote (N x 365 little-endian f64), runs the same `auto`: each of
the seven models fitted on all but the last 28 days, lowest MAE wins (ties: the earlier), the
winner refitted on the whole series for a 28-day horizon (with a 95 % interval where the model
offers one). statsforecast 2.1.1's model objects are called per series, as its own `forecast`
does, without the DataFrame layer; Holt-Winters with fixed parameters is its ETS engine
(pegelsresid_C + etsforecast), as in the shared reference cases. Prints one JSON line: seconds,
and the largest relative difference from the Rust point forecasts of six models on the first
1,000 series.
"""
import json
import sys
import time

import numpy as np
from statsforecast.ets import etsforecast, pegelsresid_C, switch
from statsforecast.models import (CrostonClassic, CrostonSBA, SeasonalNaive,
                                  SimpleExponentialSmoothing, TSB, WindowAverage)

DAYS, H, HOLDOUT, M = 365, 28, 28, 7


def holt_winters(y, h, alpha=0.2, beta=0.05, gamma=0.1):
    """Additive Holt-Winters, fixed parameters, classic two-week initialisation."""
    l0 = y[:M].mean()
    b0 = (y[M:2 * M].mean() - l0) / M
    s0 = y[:M] - l0
    init = np.concatenate([[l0, b0], s0[::-1]])
    _, _, x, _ = pegelsresid_C(y, M, init, "A", "A", "A", False, alpha, alpha * beta, gamma, 1.0, 1)
    f = np.zeros(h)
    etsforecast(x[-1], M, switch("A"), switch("A"), 1.0, h, f)
    return f


MODELS = [
    lambda y, h, lv: WindowAverage(window_size=28).forecast(y=y, h=h)["mean"],
    lambda y, h, lv: SimpleExponentialSmoothing(alpha=0.2).forecast(y=y, h=h)["mean"],
    lambda y, h, lv: SeasonalNaive(season_length=M).forecast(y=y, h=h, level=lv)["mean"],
    lambda y, h, lv: holt_winters(y, h),
    lambda y, h, lv: CrostonClassic().forecast(y=y, h=h)["mean"],
    lambda y, h, lv: CrostonSBA().forecast(y=y, h=h)["mean"],
    lambda y, h, lv: TSB(alpha_d=0.1, alpha_p=0.1).forecast(y=y, h=h)["mean"],
]
# The six models whose conventions both sides share, in the Rust bench's order.
SHARED = [0, 1, 2, 4, 5, 6]


def auto(y):
    train, test = y[:-HOLDOUT], y[-HOLDOUT:]
    best, best_mae = 0, np.inf
    for i, model in enumerate(MODELS):
        mae = np.abs(test - model(train, HOLDOUT, None)).mean()
        if mae < best_mae:
            best, best_mae = i, mae
    return MODELS[best](y, H, [95])


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    series = np.fromfile(f"{out}/series.bin", dtype="<f8").reshape(n, DAYS)
    for y in series[:50]:  # numba compiles on first use: not part of the timing
        auto(y)
    started = time.perf_counter()
    total = 0.0
    for y in series:
        total += auto(y)[0]
    secs = time.perf_counter() - started
    rust = np.fromfile(f"{out}/rust_points.bin", dtype="<f8").reshape(-1, len(SHARED), 7)
    worst = 0.0
    for k, y in enumerate(series[: len(rust)]):
        for j, i in enumerate(SHARED):
            ours = rust[k, j]
            theirs = MODELS[i](y, 7, None)
            rel = np.abs(ours - theirs) / np.maximum(1.0, np.abs(theirs))
            worst = max(worst, float(rel.max()))
    print(json.dumps({"series": n, "peer_auto_secs": secs, "peer_max_rel_diff": worst, "check": total}))


main()
