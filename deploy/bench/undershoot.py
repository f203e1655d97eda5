#!/usr/bin/env python3
"""An independent check of why (s,Q) and (s,S) miss a 95 % cycle-service target in the simulation.

It replays docs/domain.md's daily loop (orders due arrive at the start of a day, demand is served
from on hand with lost sales, the position is reviewed at the end of the day, an order released
at the end of day t arrives at the start of day t + L + 1) with nothing estimated: every
item-location knows its true mean d and spread (Poisson, so sigma_d = sqrt(d)) and the true lead
time distribution. No forecasting, no Composerp code: only the reorder rule differs per row.

- "rule" is the reference formula: s = d*L + z*sqrt(L*sigma_d^2 + d^2*sigma_L^2) (P = L).
- "P = L + 1" treats the end-of-day review as a periodic review with R = 1 day.

The item mix and lead times are those of `composerp simulate --mix smooth` (BENCHMARKS.md): mean
demand 4 to 30 a day, Q a week of mean demand, lead time 4 +- 1 days (rounded, at least 1).
Standard library only; a few seconds: `python3 deploy/bench/undershoot.py`.
"""

import math
import random
import statistics
from statistics import NormalDist

TARGET = 0.95
Z = NormalDist().inv_cdf(TARGET)
ITEMS, DAYS, WARM_UP, REPLICATIONS = 200, 90, 14, 10
LEAD_MEAN = 4.0


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth; means here stay below 30)."""
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def reorder_point(d: float, sigma_l: float, periodic: bool) -> float:
    """s for mean demand d (Poisson) and lead time LEAD_MEAN +- sigma_l."""
    p = LEAD_MEAN + (1 if periodic else 0)
    return d * p + Z * math.sqrt(p * d + d * d * sigma_l * sigma_l)


def replication(seed: int, sigma_l: float, order_up_to: bool, periodic: bool) -> float:
    """Share of complete cycles after the warm-up without a lost unit."""
    rng = random.Random(seed)
    good = total = 0
    for _ in range(ITEMS):
        d = rng.uniform(4, 30)
        s = reorder_point(d, sigma_l, periodic)
        q = math.ceil(7 * d)
        on_hand, pipeline = math.ceil(s + q), []
        cycle_start, lost = None, False
        for day in range(DAYS):
            due = sum(units for at, units in pipeline if at == day)
            if due:
                if cycle_start is not None and cycle_start >= WARM_UP:
                    total += 1
                    good += not lost
                cycle_start, lost = day, False
                on_hand += due
                pipeline = [(at, units) for at, units in pipeline if at != day]
            demand = poisson(rng, d)
            lost |= demand > on_hand
            on_hand = max(0, on_hand - demand)
            position = on_hand + sum(units for _, units in pipeline)
            if position < s:  # strict, as the rule says
                if order_up_to:
                    units = math.ceil(s + q - position)
                else:
                    units = math.ceil((s - position) / q) * q
                lead = max(1, round(rng.gauss(LEAD_MEAN, sigma_l)))
                pipeline.append((day + lead + 1, units))
    return good / total


def main() -> None:
    t = 2.262  # Student t, 9 degrees of freedom, 95 %
    print(f"cycle service at a {TARGET:.0%} target, mean +- t*s/sqrt(n) over {REPLICATIONS} runs")
    for policy, order_up_to in (("(s,Q)", False), ("(s,S)", True)):
        for rule, periodic in (("rule (P = L)", False), ("P = L + 1", True)):
            for sigma_l in (1.0, 0.0):
                runs = [replication(n, sigma_l, order_up_to, periodic) for n in range(REPLICATIONS)]
                mean = statistics.mean(runs)
                half = t * statistics.stdev(runs) / math.sqrt(len(runs))
                print(
                    f"{policy} {rule:<13} lead time sd {sigma_l:.0f} day: "
                    f"{100 * mean:.1f} +- {100 * half:.1f} %"
                )


if __name__ == "__main__":
    main()
