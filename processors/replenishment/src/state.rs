//! The processor's keyed state: item-locations, purchase orders and locations.
//!
//! Keys (per partition, all of one location's keys land in its partition):
//! - `i|tenant|location|item`: an [`ItemState`];
//! - `o|tenant|po_number`: an [`Order`], whose one owner this processor is;
//! - `s|tenant|location`: a [`SiteState`] (the day's basket and the end-of-day timer);
//! - `r|tenant|location`: the location's items (kept apart from the basket, which changes all
//!   day, so that a basket line does not rewrite every item name).

use composerp_events::{EventId, Money, replenishment::PurchaseOrderStatus};
use composerp_replenishment_policy::{Buckets, DemandRate};
use serde::{Deserialize, Serialize};

/// One key's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum Slot {
    /// Nothing yet.
    #[default]
    Empty,
    /// An item-location.
    Item(Box<ItemState>),
    /// A purchase order.
    Order(Box<Order>),
    /// A location.
    Site(SiteState),
    /// A location's items, sorted: the periodic review walks them.
    Roster(Vec<String>),
}

/// `r|tenant|location`.
pub fn roster_key(tenant: &str, location: &str) -> String {
    format!("r|{tenant}|{location}")
}

/// `i|tenant|location|item`.
pub fn item_key(tenant: &str, location: &str, item: &str) -> String {
    format!("i|{tenant}|{location}|{item}")
}

/// `o|tenant|po_number`.
pub fn order_key(tenant: &str, po_number: &str) -> String {
    format!("o|{tenant}|{po_number}")
}

/// The order number of a location's order to a supplier on a local day: unique per tenant,
/// because one order per supplier, destination and day is created.
pub fn po_number(location: &str, supplier: &str, day: i32) -> String {
    let date = composerp_forecasting::zone::date(day);
    format!("PO-{location}-{supplier}-{}", date.format("%Y%m%d"))
}

/// `s|tenant|location`.
pub fn site_key(tenant: &str, location: &str) -> String {
    format!("s|{tenant}|{location}")
}

/// Offsets after the last record applied, per input: after a crash a record may be replayed
/// onto a state that was stored with it already applied.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Applied(Vec<i64>);

impl Applied {
    /// Whether the record at `source` (input index, offset) is already applied here.
    pub fn reflects(&self, (index, offset): (usize, i64)) -> bool {
        self.0.get(index).is_some_and(|&next| offset < next)
    }

    /// Notes the record at `source` as applied.
    pub fn mark(&mut self, (index, offset): (usize, i64)) {
        if self.0.len() <= index {
            self.0.resize(index + 1, 0);
        }
        self.0[index] = offset + 1;
    }
}

/// Where an item-location's demand rate comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// Mean daily demand per forecast day (day 1 first); one value for demand features.
    pub means: Vec<f64>,
    /// Standard deviation of each forecast day's error (day 1 first), read back from the
    /// forecast's intervals; one value for demand features.
    pub stds: Vec<f64>,
    /// `FORECAST <model>` or `DEMAND_FEATURES`.
    pub source: String,
}

impl Rate {
    /// d and σd over a protection period of `days`: the mean of the forecast's first
    /// ⌈days⌉ days (all of it when shorter), so a trend or a weekly pattern inside the period
    /// counts; σd is the per-day share of the spread of the period's total (see
    /// [`period_variance`]).
    pub fn over(&self, days: f64) -> DemandRate {
        let n = (days.ceil().max(1.0) as usize).min(self.means.len()).max(1);
        let mean = if self.means.is_empty() {
            0.0
        } else {
            self.means[..n].iter().sum::<f64>() / n as f64
        };
        let periods = days.ceil().max(1.0) as usize;
        DemandRate {
            mean,
            std: (period_variance(&self.stds, periods) / periods as f64).sqrt(),
        }
    }
}

/// Variance of the summed forecast errors over the first `days` days.
///
/// A forecast whose h-day interval widens as σₕ² = σ²(1 + c₁² + … + cₕ₋₁²) is one whose
/// errors share the error of its level: in the innovations form of exponential smoothing
/// (Hyndman et al. 2008, ch. 6) day h's error is εₕ + c₁εₕ₋₁ + … + cₕ₋₁ε₁, so the error of
/// the period's total is Σₖ (1 + c₁ + … + c_{days−k}) εₖ. Adding the days' variances alone
/// (√days·σ) leaves that shared part out and undersizes the safety stock of every
/// forecast whose level is itself estimated. The cⱼ are read back from the published
/// widths; a flat width (moving average, demand features) means independent days, and
/// days beyond the forecast's horizon repeat its last step.
pub fn period_variance(stds: &[f64], days: usize) -> f64 {
    let sigma = stds.first().copied().unwrap_or(0.0);
    if sigma <= 0.0 || days == 0 {
        return 0.0;
    }
    let var = |h: usize| stds.get(h).or(stds.last()).map_or(0.0, |s| s * s);
    // reach[m] = c₁ + … + cₘ: how much of one day's shock the next m days' forecasts miss.
    let mut reach = Vec::with_capacity(days);
    reach.push(0.0);
    let mut step = 0.0;
    for j in 1..days {
        if j < stds.len() {
            step = ((var(j) - var(j - 1)).max(0.0)).sqrt() / sigma;
        }
        reach.push(reach[j - 1] + step);
    }
    sigma * sigma * reach.iter().map(|r| (1.0 + r) * (1.0 + r)).sum::<f64>()
}

/// Quantity on order that the ledger's position does not count yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenLine {
    /// Supplier.
    pub supplier: String,
    /// Purchase order; None while in the day's basket.
    pub po_number: Option<String>,
    /// Units.
    pub qty: i64,
    /// Approved: waits for the ledger's position to show it on order (then dropped).
    pub approval: Option<Approval>,
}

/// An approved line on its way into the ledger's on-order bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// The event that approved it, which the ledger names when it applies it.
    pub event_id: EventId,
    /// The ledger's on-order units when it was approved.
    pub on_order_before: i64,
}

/// One item-location.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemState {
    /// The ledger's latest buckets; None until one arrives.
    pub buckets: Option<Buckets>,
    /// The latest forecast's rate.
    pub forecast: Option<Rate>,
    /// The latest demand features' rate, which stands in while there is no forecast.
    pub features: Option<Rate>,
    /// Open quantity the ledger does not count yet.
    pub open: Vec<OpenLine>,
    /// The open quantity a suppression was published for: published once per open quantity.
    pub suppressed_at: Option<i64>,
    /// Replay guard.
    pub applied: Applied,
}

impl ItemState {
    /// The demand rate to plan with: the forecast, else the features.
    pub fn rate(&self) -> Option<&Rate> {
        self.forecast.as_ref().or(self.features.as_ref())
    }
}

/// One purchase order line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// 1-based.
    pub line_number: i32,
    /// Item.
    pub item: String,
    /// Units ordered.
    pub ordered: i64,
    /// Units received so far.
    pub received: i64,
    /// Cancelled.
    pub cancelled: bool,
    /// Agreed unit cost.
    pub unit_cost: Money,
}

/// A purchase order this processor created and owns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Receiving location.
    pub location: String,
    /// Supplier.
    pub supplier: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// Lifecycle state.
    pub status: PurchaseOrderStatus,
    /// Lines.
    pub lines: Vec<Line>,
    /// Local order day (days since 1970-01-01).
    pub order_day: i32,
    /// Expected delivery day.
    pub expected_day: i32,
    /// Commands already applied or rejected (a repeated command changes nothing).
    pub commands: Vec<EventId>,
    /// Replay guard.
    pub applied: Applied,
}

/// A line triggered today, waiting for the location's end of day to join a purchase order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BasketLine {
    /// Supplier.
    pub supplier: String,
    /// Item.
    pub item: String,
    /// Units.
    pub qty: i64,
    /// Unit cost.
    pub unit_cost: Money,
    /// Currency.
    pub currency: String,
    /// Mean lead time, days.
    pub lead_time_days: f64,
    /// The trigger.
    pub trigger: EventId,
    /// The local day whose order it joins.
    pub day: i32,
}

/// One location.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SiteState {
    /// The open local day: its basket is released at its end.
    pub day: i32,
    /// Today's triggered lines.
    pub basket: Vec<BasketLine>,
}

impl Order {
    /// Total units and value of the lines not cancelled.
    pub fn open_totals(&self) -> (i64, Money) {
        self.lines
            .iter()
            .filter(|l| !l.cancelled)
            .fold((0, Money::ZERO), |(q, v), l| {
                (
                    q + l.ordered,
                    Money(v.0.saturating_add(l.ordered.saturating_mul(l.unit_cost.0))),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SES's published widths, σₕ = σ√(1 + (h−1)α²).
    fn ses_stds(sigma: f64, alpha: f64, horizon: usize) -> Vec<f64> {
        (0..horizon)
            .map(|h| sigma * (1.0 + h as f64 * alpha * alpha).sqrt())
            .collect()
    }

    #[test]
    fn flat_widths_add_the_days_variances() {
        assert!((period_variance(&[2.0; 28], 7) - 28.0).abs() < 1e-9);
        // One value (demand features) stands for every day.
        assert!((period_variance(&[2.0], 7) - 28.0).abs() < 1e-9);
    }

    #[test]
    fn ses_widths_give_the_lead_time_variance_of_its_state_space_form() {
        // Hyndman et al. (2008), ETS(A,N,N): σ²[P + αP(P−1) + α²(P−1)P(2P−1)/6].
        let (sigma, alpha) = (3.0, 0.2);
        for p in [1usize, 4, 7, 8] {
            let p_ = p as f64;
            let closed = sigma
                * sigma
                * (p_
                    + alpha * p_ * (p_ - 1.0)
                    + alpha * alpha * (p_ - 1.0) * p_ * (2.0 * p_ - 1.0) / 6.0);
            let got = period_variance(&ses_stds(sigma, alpha, 28), p);
            assert!(
                (got - closed).abs() < 1e-9 * closed,
                "P = {p}: {got} vs {closed}"
            );
        }
    }

    #[test]
    fn days_past_the_horizon_repeat_its_last_step() {
        let short = ses_stds(3.0, 0.2, 3);
        let long = ses_stds(3.0, 0.2, 28);
        assert!((period_variance(&short, 8) - period_variance(&long, 8)).abs() < 1e-9);
    }

    #[test]
    fn no_spread_means_no_variance() {
        assert_eq!(period_variance(&[], 7), 0.0);
        assert_eq!(period_variance(&[0.0, 1.0], 7), 0.0);
    }

    #[test]
    fn the_rate_over_a_period_is_its_per_day_share() {
        let rate = Rate {
            means: vec![10.0; 28],
            stds: ses_stds(3.0, 0.2, 28),
            source: "FORECAST ses".into(),
        };
        let d = rate.over(7.0);
        assert_eq!(d.mean, 10.0);
        assert!((7.0 * d.std * d.std - period_variance(&rate.stds, 7)).abs() < 1e-9);
        assert!(
            d.std > 3.0,
            "shared level error widens the per-day spread: {}",
            d.std
        );
    }
}
