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
    /// Daily standard deviation.
    pub std: f64,
    /// `FORECAST <model>` or `DEMAND_FEATURES`.
    pub source: String,
}

impl Rate {
    /// d and σd over a protection period of `days`: the mean of the forecast's first
    /// ⌈days⌉ days (all of it when shorter), so a trend or a weekly pattern inside the period
    /// counts.
    pub fn over(&self, days: f64) -> DemandRate {
        let n = (days.ceil().max(1.0) as usize).min(self.means.len()).max(1);
        let mean = if self.means.is_empty() {
            0.0
        } else {
            self.means[..n].iter().sum::<f64>() / n as f64
        };
        DemandRate {
            mean,
            std: self.std,
        }
    }
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
