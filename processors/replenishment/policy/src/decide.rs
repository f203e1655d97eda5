//! One replenishment decision: from a rule, its statistics and the buckets to
//! the levels, the trigger, the need and the rounded order quantity, keeping
//! every intermediate so the decision explains itself.
//!
//! Nothing is rounded before the order quantity: z, σ over the protection
//! period, safety stock and the levels stay real numbers, and only the need is
//! turned into whole units (then MOQ, packs and the cap).

use chrono::Weekday;
use serde::{Deserialize, Serialize};

use crate::days::{OrderDays, days_to_next_order_day, is_order_day};
use crate::inputs::{Buckets, DemandRate, LeadTime, Policy, PolicyError, Sourcing};

/// Everything one decision needs, for one item-location-supplier on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The rule's policy.
    pub policy: Policy,
    /// The cycle service level, 0.5 ≤ SL < 1 (ignored by min/max).
    pub service_level: f64,
    /// Daily demand statistics (ignored by min/max).
    pub demand: DemandRate,
    /// Lead-time statistics (ignored by min/max).
    pub lead_time: LeadTime,
    /// The supplier's MOQ, pack and cap.
    pub sourcing: Sourcing,
    /// The item-location's inventory buckets.
    pub buckets: Buckets,
    /// Quantity of an open DRAFT order for the same item-location-supplier, if one exists.
    pub open_draft_qty: Option<i64>,
    /// Today's weekday in the location's time zone (used by (R,S)).
    pub today: Weekday,
}

/// Why the decision orders or does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// Effective IP is below the trigger level: an order is proposed.
    Order,
    /// Effective IP is at or above the trigger level.
    AboveTrigger,
    /// IP alone is below the trigger, but an open draft already covers it.
    SuppressedOpenOrder,
    /// A periodic-review rule on a day that is not one of its order days.
    NotReviewDay,
}

/// The outcome of [`decide`], with every number that led to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The policy that was applied.
    pub policy: Policy,
    /// The service level used (None for min/max).
    pub service_level: Option<f64>,
    /// The demand statistics used (None for min/max).
    pub demand: Option<DemandRate>,
    /// The lead-time statistics used (None for min/max).
    pub lead_time: Option<LeadTime>,
    /// The sourcing constraints used.
    pub sourcing: Sourcing,
    /// The buckets the position was computed from.
    pub buckets: Buckets,
    /// The open draft quantity counted into the effective position, if any.
    pub open_draft_qty: Option<i64>,
    /// IP from the buckets alone.
    pub inventory_position: i64,
    /// IP plus the open draft quantity: what is compared with the trigger.
    pub effective_ip: i64,
    /// Whether today is a review day (always true except (R,S) off its order days).
    pub is_review_day: bool,
    /// z = Φ⁻¹(service level) (None for min/max).
    pub z: Option<f64>,
    /// P, the days safety stock protects: L, or R + L for (R,S) (None for min/max).
    pub protection_days: Option<f64>,
    /// d·P, the expected demand over the protection period (None for min/max).
    pub expected_demand: Option<f64>,
    /// √(P·σd² + d²·σL²), the σ of demand over the protection period (None for min/max).
    pub sigma_protection: Option<f64>,
    /// SS = max(0, z·σ) (None for min/max).
    pub safety_stock: Option<f64>,
    /// s = d·L + SS for (s,Q) and (s,S); None otherwise.
    pub reorder_point: Option<f64>,
    /// S: s + lot for (s,S), d(R+L) + SS for (R,S), max for min/max; None for (s,Q).
    pub order_up_to: Option<f64>,
    /// R in days for (R,S); None otherwise.
    pub review_period_days: Option<u32>,
    /// The level the effective IP must be strictly below to order.
    pub trigger_level: f64,
    /// Lots ordered, for (s,Q) when it orders; None otherwise.
    pub lots: Option<i64>,
    /// Whether an order is proposed.
    pub should_order: bool,
    /// Why it is or is not.
    pub reason: Reason,
    /// The need before any rounding (None when not ordering).
    pub raw_need: Option<f64>,
    /// The need in whole units after the MOQ (None when not ordering).
    pub qty_after_moq: Option<i64>,
    /// After rounding up to whole packs (None when not ordering).
    pub qty_after_pack: Option<i64>,
    /// The quantity to order (0 when not ordering).
    pub order_qty: i64,
    /// Whether the supplier's max order quantity cut the order.
    pub capped: bool,
}

/// Demand over the protection period and the safety stock it calls for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Protection {
    /// P in days.
    pub protection_days: f64,
    /// d·P.
    pub expected_demand: f64,
    /// √(P·σd² + d²·σL²).
    pub sigma_protection: f64,
    /// max(0, z·σ).
    pub safety_stock: f64,
}

/// A need turned into an order quantity, step by step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rounded {
    /// The need as computed.
    pub raw_need: f64,
    /// max(⌈need⌉, MOQ).
    pub qty_after_moq: i64,
    /// Rounded up to whole packs.
    pub qty_after_pack: i64,
    /// After the cap of whole packs under the max order quantity.
    pub order_qty: i64,
    /// Whether the cap bound.
    pub capped: bool,
}

/// z = Φ⁻¹(service_level), refusing levels outside [0.5, 1).
pub fn z_for(service_level: f64) -> Result<f64, PolicyError> {
    // Below 0.5 z turns negative and safety stock would be clamped to zero
    // silently; 1 and above have no finite z. Both are rule errors.
    if !(0.5..1.0).contains(&service_level) {
        return Err(PolicyError::ServiceLevelOutOfRange(service_level));
    }
    Ok(composerp_forecast_models::normal::quantile(service_level))
}

/// Safety stock and expected demand over `protection_days` (L, or R + L).
pub fn protection(
    z: f64,
    demand: &DemandRate,
    lead_time: &LeadTime,
    protection_days: f64,
) -> Protection {
    // Demand variance over P days plus the variance the uncertain lead time
    // adds; the lead-time term is not scaled by R because only the lead time
    // is uncertain, not the review period.
    let variance = protection_days * demand.std * demand.std
        + demand.mean * demand.mean * lead_time.std_days * lead_time.std_days;
    let sigma = variance.sqrt();
    Protection {
        protection_days,
        expected_demand: demand.mean * protection_days,
        sigma_protection: sigma,
        safety_stock: (z * sigma).max(0.0),
    }
}

/// The smallest n ≥ 1 with `effective_ip + n·lot_size ≥ reorder_point`.
pub fn lots_needed(
    effective_ip: i64,
    reorder_point: f64,
    lot_size: i64,
) -> Result<i64, PolicyError> {
    if lot_size < 1 {
        return Err(PolicyError::InvalidLotSize(lot_size));
    }
    let gap = reorder_point - effective_ip as f64;
    let mut n = whole_units((gap / lot_size as f64).ceil())?.max(1);
    // The division may land one off either way in floating point; settle on
    // the exact smallest n by checking the defining inequality itself.
    let covers = |n: i64| effective_ip as f64 + (n as f64) * (lot_size as f64) >= reorder_point;
    while n > 1 && covers(n - 1) {
        n -= 1;
    }
    while !covers(n) {
        n += 1;
    }
    Ok(n)
}

/// Turns a need into an order: ⌈need⌉, then the MOQ, whole packs, and the cap.
pub fn round_order(need: f64, sourcing: &Sourcing) -> Result<Rounded, PolicyError> {
    sourcing.validate()?;
    let pack = sourcing.pack_size;
    let after_moq = whole_units(need.ceil())?.max(sourcing.moq);
    let after_pack = ceil_div(after_moq, pack)
        .checked_mul(pack)
        .ok_or(PolicyError::QuantityOverflow(need))?;
    let (order_qty, capped) = match sourcing.max_order_qty {
        Some(max) => {
            // The cap is whole packs too: an order never breaks a pack.
            let cap = (max / pack) * pack;
            if after_pack > cap {
                (cap, true)
            } else {
                (after_pack, false)
            }
        }
        None => (after_pack, false),
    };
    Ok(Rounded {
        raw_need: need,
        qty_after_moq: after_moq,
        qty_after_pack: after_pack,
        order_qty,
        capped,
    })
}

/// Applies the request's policy: levels, trigger, reason and, if ordering, the quantity.
pub fn decide(req: &Request) -> Result<Decision, PolicyError> {
    req.sourcing.validate()?;
    if let Some(q) = req.open_draft_qty
        && q < 0
    {
        return Err(PolicyError::InvalidDraftQty(q));
    }
    let ip = req.buckets.inventory_position();
    let effective_ip = ip.saturating_add(req.open_draft_qty.unwrap_or(0));
    let levels = levels(req)?;

    let mut d = Decision {
        policy: req.policy,
        service_level: levels.stats.map(|_| req.service_level),
        demand: levels.stats.map(|_| req.demand),
        lead_time: levels.stats.map(|_| req.lead_time),
        sourcing: req.sourcing,
        buckets: req.buckets,
        open_draft_qty: req.open_draft_qty,
        inventory_position: ip,
        effective_ip,
        is_review_day: levels.is_review_day,
        z: levels.stats.map(|(z, _)| z),
        protection_days: levels.stats.map(|(_, p)| p.protection_days),
        expected_demand: levels.stats.map(|(_, p)| p.expected_demand),
        sigma_protection: levels.stats.map(|(_, p)| p.sigma_protection),
        safety_stock: levels.stats.map(|(_, p)| p.safety_stock),
        reorder_point: levels.reorder_point,
        order_up_to: levels.order_up_to,
        review_period_days: levels.review_period_days,
        trigger_level: levels.trigger,
        lots: None,
        should_order: false,
        reason: Reason::AboveTrigger,
        raw_need: None,
        qty_after_moq: None,
        qty_after_pack: None,
        order_qty: 0,
        capped: false,
    };

    // Strict comparisons: a position exactly at the trigger does not order.
    d.reason = if !levels.is_review_day {
        Reason::NotReviewDay
    } else if (effective_ip as f64) < levels.trigger {
        Reason::Order
    } else if req.open_draft_qty.is_some() && (ip as f64) < levels.trigger {
        Reason::SuppressedOpenOrder
    } else {
        Reason::AboveTrigger
    };
    if d.reason != Reason::Order {
        return Ok(d);
    }

    let need = match req.policy {
        Policy::SQ { lot_size } => {
            let n = lots_needed(effective_ip, levels.trigger, lot_size)?;
            d.lots = Some(n);
            n.checked_mul(lot_size)
                .ok_or(PolicyError::QuantityOverflow(levels.trigger))? as f64
        }
        // (s,S), (R,S) and min/max all order up to S.
        Policy::SS { .. } | Policy::RS { .. } | Policy::MinMax { .. } => {
            levels.order_up_to.unwrap_or(levels.trigger) - effective_ip as f64
        }
    };
    let r = round_order(need, &req.sourcing)?;
    d.should_order = true;
    d.raw_need = Some(r.raw_need);
    d.qty_after_moq = Some(r.qty_after_moq);
    d.qty_after_pack = Some(r.qty_after_pack);
    d.order_qty = r.order_qty;
    d.capped = r.capped;
    Ok(d)
}

/// The levels of one policy on one day, before looking at the position.
struct Levels {
    /// z and the protection figures; None for min/max.
    stats: Option<(f64, Protection)>,
    reorder_point: Option<f64>,
    order_up_to: Option<f64>,
    review_period_days: Option<u32>,
    trigger: f64,
    is_review_day: bool,
}

fn levels(req: &Request) -> Result<Levels, PolicyError> {
    match req.policy {
        Policy::SQ { lot_size } | Policy::SS { lot_size } => {
            if lot_size < 1 {
                return Err(PolicyError::InvalidLotSize(lot_size));
            }
            let z = checked_stats(req)?;
            let p = protection(z, &req.demand, &req.lead_time, req.lead_time.mean_days);
            let s = p.expected_demand + p.safety_stock;
            let order_up_to = matches!(req.policy, Policy::SS { .. }).then(|| s + lot_size as f64);
            Ok(Levels {
                stats: Some((z, p)),
                reorder_point: Some(s),
                order_up_to,
                review_period_days: None,
                trigger: s,
                is_review_day: true,
            })
        }
        Policy::RS { order_days } => {
            // The rule's empty order-day list means every day.
            let order_days = if order_days.is_empty() {
                OrderDays::EVERY_DAY
            } else {
                order_days
            };
            let r = days_to_next_order_day(&order_days, req.today).unwrap_or(1);
            let z = checked_stats(req)?;
            let p = protection(
                z,
                &req.demand,
                &req.lead_time,
                f64::from(r) + req.lead_time.mean_days,
            );
            let big_s = p.expected_demand + p.safety_stock;
            // The levels are reported on every day, so a planner can see
            // what the next review will aim for, but only order days order.
            Ok(Levels {
                stats: Some((z, p)),
                reorder_point: None,
                order_up_to: Some(big_s),
                review_period_days: Some(r),
                trigger: big_s,
                is_review_day: is_order_day(&order_days, req.today),
            })
        }
        Policy::MinMax { min, max } => {
            if min < 0 || min > max {
                return Err(PolicyError::InvalidMinMax { min, max });
            }
            Ok(Levels {
                stats: None,
                reorder_point: None,
                order_up_to: Some(max as f64),
                review_period_days: None,
                trigger: min as f64,
                is_review_day: true,
            })
        }
    }
}

/// Validates the statistics a statistical policy uses and returns z.
fn checked_stats(req: &Request) -> Result<f64, PolicyError> {
    let z = z_for(req.service_level)?;
    let DemandRate { mean, std } = req.demand;
    if !(mean.is_finite() && std.is_finite() && mean >= 0.0 && std >= 0.0) {
        return Err(PolicyError::InvalidDemand { mean, std });
    }
    let LeadTime {
        mean_days,
        std_days,
    } = req.lead_time;
    if !(mean_days.is_finite() && std_days.is_finite() && mean_days >= 0.0 && std_days >= 0.0) {
        return Err(PolicyError::InvalidLeadTime {
            mean_days,
            std_days,
        });
    }
    Ok(z)
}

/// An already-integral f64 as i64, refusing values past 2^53 where units stop being exact.
fn whole_units(x: f64) -> Result<i64, PolicyError> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if x.is_finite() && x.abs() <= EXACT {
        Ok(x as i64)
    } else {
        Err(PolicyError::QuantityOverflow(x))
    }
}

/// ⌈a / b⌉ for b ≥ 1 (truncating division already rounds negatives up).
fn ceil_div(a: i64, b: i64) -> i64 {
    let q = a / b;
    if a % b > 0 { q + 1 } else { q }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
