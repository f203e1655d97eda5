//! A single-item, daily, lost-sales simulation kernel, and the service
//! measures computed from its day log.
//!
//! Each day t: orders due on t arrive first, then the day's demand is served
//! from on hand (what cannot be served is lost, not backordered), then the
//! policy reviews at the end of the day — (s,Q) and (s,S) every day, (R,S)
//! when t mod R = offset — with IP = on hand + pipeline. An order released at
//! the end of day t arrives at the start of day t + L + 1.
//!
//! The measurement is kept apart from the loop: [`measure`] reads only a
//! [`DayRecord`] log, so a simulation driven through the real stream
//! processors can build the same log and be measured the same way.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::decide::lots_needed;

/// The policy the kernel runs, with its levels fixed for the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum SimPolicy {
    /// (s,Q): when IP < s, order the fewest lots of Q that bring IP to at least s.
    #[serde(rename = "sQ")]
    SQ {
        /// The reorder point s.
        s: f64,
        /// The lot size Q (≥ 1).
        #[serde(rename = "Q")]
        q: i64,
    },
    /// (s,S): when IP < s, order ⌈S − IP⌉.
    #[serde(rename = "sS")]
    SS {
        /// The reorder point s.
        s: f64,
        /// The order-up-to level S.
        #[serde(rename = "S")]
        order_up_to: f64,
    },
    /// (R,S): on days t with t mod R = offset, when IP < S, order ⌈S − IP⌉.
    #[serde(rename = "RS")]
    RS {
        /// The review period R in days (≥ 1).
        #[serde(rename = "R")]
        r: u32,
        /// The first review day, 0 ≤ offset < R.
        offset: u32,
        /// The order-up-to level S.
        #[serde(rename = "S")]
        order_up_to: f64,
    },
}

/// One simulation run's set-up.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// The policy and its levels.
    pub policy: SimPolicy,
    /// L: an order released at the end of day t arrives at the start of day t + L + 1.
    pub lead_time_days: u32,
    /// On hand at the start of day 0, with nothing in the pipeline.
    pub initial_on_hand: i64,
    /// Days before this one are left out of the measures.
    pub warmup_days: u32,
}

/// One order the policy released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    /// The day at whose end it was released.
    pub day: u32,
    /// Units ordered.
    pub qty: i64,
}

/// What happened on one day, all that [`measure`] needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRecord {
    /// The day number (0-based).
    pub day: u32,
    /// Units demanded.
    pub demand: i64,
    /// Units served; demand − served were lost.
    pub served: i64,
    /// Whether a replenishment arrived at the start of the day.
    pub arrived: bool,
}

/// Service achieved over the measured days.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServiceMeasures {
    /// served / demand; None when there was no demand.
    pub fill_rate: Option<f64>,
    /// Share of measured days with no lost unit; None when no day was measured.
    pub in_stock_day_rate: Option<f64>,
    /// Complete replenishment cycles starting at or after warm-up.
    pub cycles_counted: u32,
    /// How many of those lost no unit.
    pub cycles_without_stockout: u32,
    /// cycles_without_stockout / cycles_counted; None when no cycle counted.
    pub cycle_service_level: Option<f64>,
    /// Units demanded on measured days.
    pub total_demand: i64,
    /// Units served on measured days.
    pub served: i64,
    /// Units lost on measured days.
    pub lost: i64,
}

/// One run's logs, ending stock and measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimRun {
    /// Every order released, in day order.
    pub orders: Vec<OrderRecord>,
    /// One record per simulated day.
    pub days: Vec<DayRecord>,
    /// On hand at the end of the last day.
    pub end_on_hand: i64,
    /// [`measure`] of `days` with the configured warm-up.
    pub measures: ServiceMeasures,
}

/// Why a simulation could not run.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SimError {
    /// A lot size below one unit.
    #[error("lot size {0} must be ≥ 1")]
    InvalidLotSize(i64),
    /// A review period of zero days.
    #[error("review period must be ≥ 1 day")]
    ZeroReviewPeriod,
    /// An offset that no day would ever reach.
    #[error("review offset {offset} must be below the review period {r}")]
    OffsetOutOfRange {
        /// The offset given.
        offset: u32,
        /// The review period given.
        r: u32,
    },
    /// A level that is not a finite number.
    #[error("policy level {0} is not finite")]
    InvalidLevel(f64),
    /// Negative initial stock.
    #[error("initial on hand {0} must be ≥ 0")]
    InvalidInitialStock(i64),
    /// Negative demand on some day.
    #[error("demand {demand} on day {day} must be ≥ 0")]
    NegativeDemand {
        /// The day.
        day: u32,
        /// The demand given.
        demand: i64,
    },
    /// More days than a day number can hold.
    #[error("{0} days is more than the kernel can number")]
    TooManyDays(usize),
    /// An order quantity too large to count in whole units.
    #[error("order quantity {0} cannot be expressed in whole units")]
    QuantityOverflow(f64),
}

/// Runs the kernel over `demand` (one entry per day, from day 0).
pub fn simulate(config: &SimConfig, demand: &[i64]) -> Result<SimRun, SimError> {
    check(config)?;
    let horizon = u32::try_from(demand.len()).map_err(|_| SimError::TooManyDays(demand.len()))?;
    let lead = u64::from(config.lead_time_days);
    let mut on_hand = config.initial_on_hand;
    // Outstanding orders as (arrival day, qty); few at a time, so a Vec is enough.
    let mut pipeline: Vec<(u64, i64)> = Vec::new();
    let mut orders = Vec::new();
    let mut days = Vec::with_capacity(demand.len());

    for (t, &want) in (0..horizon).zip(demand) {
        if want < 0 {
            return Err(SimError::NegativeDemand {
                day: t,
                demand: want,
            });
        }
        let today = u64::from(t);
        let before = pipeline.len();
        pipeline.retain(|&(due, qty)| {
            let arrives = due == today;
            if arrives {
                on_hand += qty;
            }
            !arrives
        });
        let arrived = pipeline.len() < before;

        let served = want.min(on_hand);
        on_hand -= served;
        days.push(DayRecord {
            day: t,
            demand: want,
            served,
            arrived,
        });

        let ip = on_hand + pipeline.iter().map(|&(_, q)| q).sum::<i64>();
        if let Some(qty) = review(&config.policy, t, ip)? {
            pipeline.push((today + lead + 1, qty));
            orders.push(OrderRecord { day: t, qty });
        }
    }

    let measures = measure(&days, config.warmup_days);
    Ok(SimRun {
        orders,
        days,
        end_on_hand: on_hand,
        measures,
    })
}

/// The end-of-day review: the quantity to release on day `t`, if any.
fn review(policy: &SimPolicy, t: u32, ip: i64) -> Result<Option<i64>, SimError> {
    let up_to = |level: f64| {
        let need = (level - ip as f64).ceil();
        if need.is_finite() && need.abs() <= 9_007_199_254_740_992.0 {
            Ok(Some(need as i64))
        } else {
            Err(SimError::QuantityOverflow(need))
        }
    };
    match *policy {
        SimPolicy::SQ { s, q } if (ip as f64) < s => {
            let n = lots_needed(ip, s, q).map_err(|_| SimError::QuantityOverflow(s))?;
            n.checked_mul(q)
                .map(Some)
                .ok_or(SimError::QuantityOverflow(s))
        }
        SimPolicy::SS { s, order_up_to } if (ip as f64) < s => up_to(order_up_to),
        SimPolicy::RS {
            r,
            offset,
            order_up_to,
        } if t % r == offset && (ip as f64) < order_up_to => up_to(order_up_to),
        _ => Ok(None),
    }
}

fn check(config: &SimConfig) -> Result<(), SimError> {
    if config.initial_on_hand < 0 {
        return Err(SimError::InvalidInitialStock(config.initial_on_hand));
    }
    let finite = |x: f64| {
        if x.is_finite() {
            Ok(())
        } else {
            Err(SimError::InvalidLevel(x))
        }
    };
    match config.policy {
        SimPolicy::SQ { s, q } => {
            if q < 1 {
                return Err(SimError::InvalidLotSize(q));
            }
            finite(s)
        }
        SimPolicy::SS { s, order_up_to } => {
            finite(s)?;
            finite(order_up_to)
        }
        SimPolicy::RS {
            r,
            offset,
            order_up_to,
        } => {
            if r == 0 {
                return Err(SimError::ZeroReviewPeriod);
            }
            if offset >= r {
                return Err(SimError::OffsetOutOfRange { offset, r });
            }
            finite(order_up_to)
        }
    }
}

/// Service measures of a day log, counting days (and cycles starting) at or after `warmup`.
///
/// A cycle runs from one arrival day through the day before the next
/// arrival; the last cycle has no next arrival, so it is incomplete and never
/// counted. The log may come in any order; it is read in day order.
pub fn measure(days: &[DayRecord], warmup: u32) -> ServiceMeasures {
    let mut log: Vec<&DayRecord> = days.iter().collect();
    log.sort_by_key(|d| d.day);

    let mut total_demand = 0i64;
    let mut served = 0i64;
    let mut measured = 0u32;
    let mut in_stock = 0u32;
    for d in log.iter().filter(|d| d.day >= warmup) {
        total_demand += d.demand;
        served += d.served;
        measured += 1;
        if d.served >= d.demand {
            in_stock += 1;
        }
    }

    let arrivals: Vec<usize> = (0..log.len()).filter(|&i| log[i].arrived).collect();
    let mut cycles_counted = 0u32;
    let mut cycles_without_stockout = 0u32;
    for pair in arrivals.windows(2) {
        let (start, next) = (pair[0], pair[1]);
        if log[start].day < warmup {
            continue;
        }
        cycles_counted += 1;
        if log[start..next].iter().all(|d| d.served >= d.demand) {
            cycles_without_stockout += 1;
        }
    }

    let ratio = |num: f64, den: f64| (den > 0.0).then(|| num / den);
    ServiceMeasures {
        fill_rate: ratio(served as f64, total_demand as f64),
        in_stock_day_rate: ratio(f64::from(in_stock), f64::from(measured)),
        cycles_counted,
        cycles_without_stockout,
        cycle_service_level: ratio(
            f64::from(cycles_without_stockout),
            f64::from(cycles_counted),
        ),
        total_demand,
        served,
        lost: total_demand - served,
    }
}

#[cfg(test)]
#[path = "sim_tests.rs"]
mod tests;
