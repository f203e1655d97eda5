//! Master data: each tenant's locations and items drawn from the seed, the events that
//! publish them, and the planning levels derived from an item's demand.

use chrono_tz::Tz;
use composerp_events::{
    Money, Timestamp,
    catalog::{Item, Location, LocationType, Supplier, SupplierItem, UnitOfMeasure},
    replenishment::{ReplenishmentPolicy, ReplenishmentRule},
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::{Config, Generated, Generator, truth::Stock};

/// Location time zones, in turn: a location's days start at its local midnight.
const TIMEZONES: [&str; 6] = [
    "Europe/Berlin",
    "America/New_York",
    "Asia/Tokyo",
    "Europe/London",
    "America/Los_Angeles",
    "Australia/Sydney",
];

/// Tenant currencies, in turn.
const CURRENCIES: [&str; 4] = ["EUR", "USD", "JPY", "GBP"];

/// An item: how it sells and how it is bought.
#[derive(Debug, Clone)]
pub(crate) struct ItemSpec {
    /// Item id.
    pub(crate) id: String,
    /// Mean daily units one store sells, before seasonality, trend and promotions.
    pub(crate) base_rate: f64,
    /// Relative change of the rate per day.
    pub(crate) trend_per_day: f64,
    /// Unit cost.
    pub(crate) cost: Money,
    /// Shelf price.
    pub(crate) price: Money,
    /// Pack size order quantities are rounded up to.
    pub(crate) pack: i64,
    /// Minimum order quantity.
    pub(crate) moq: i64,
    /// Supplier lead time.
    pub(crate) lead_days: u32,
    /// Stores get it from the DC rather than from the supplier.
    pub(crate) via_dc: bool,
}

/// A store or the DC.
#[derive(Debug, Clone)]
pub(crate) struct Loc {
    /// Location id.
    pub(crate) id: String,
    /// Time zone of its business days.
    pub(crate) tz: Tz,
    /// Store or DC.
    pub(crate) kind: LocationType,
}

/// One tenant: its master data and the stock of each item-location.
#[derive(Debug, Clone)]
pub(crate) struct Tenant {
    /// Tenant id.
    pub(crate) id: String,
    /// Currency of its prices and costs.
    pub(crate) currency: &'static str,
    /// Locations; with two or more, the first is the DC.
    pub(crate) locs: Vec<Loc>,
    /// Items.
    pub(crate) items: Vec<ItemSpec>,
    /// stock[loc][item]
    pub(crate) stock: Vec<Vec<Stock>>,
    /// (item, first day, day after the last, demand multiplier) per promotion.
    pub(crate) promos: Vec<(usize, u32, u32, f64)>,
}

impl Tenant {
    /// Tenant number `t`: its locations (the first a DC when there are several), its items and
    /// promotions, drawn from `rng`.
    pub(crate) fn new(cfg: &Config, t: u32, rng: &mut ChaCha8Rng) -> Tenant {
        let locs: Vec<Loc> = (0..cfg.locations)
            .map(|l| {
                let dc = cfg.locations > 1 && l == 0;
                Loc {
                    id: if dc {
                        format!("dc{l:02}")
                    } else {
                        format!("s{l:03}")
                    },
                    tz: TIMEZONES[((t + l) as usize) % TIMEZONES.len()]
                        .parse()
                        .unwrap_or(chrono_tz::UTC),
                    kind: if dc {
                        LocationType::DC
                    } else {
                        LocationType::STORE
                    },
                }
            })
            .collect();
        let items: Vec<ItemSpec> = (0..cfg.items)
            .map(|i| {
                let slow = rng.random_bool(0.2);
                let cost = rng.random_range(50..2_000) * 100;
                ItemSpec {
                    id: format!("i{i:05}"),
                    base_rate: if slow {
                        rng.random_range(0.05..0.4)
                    } else {
                        rng.random_range(0.8..8.0)
                    },
                    trend_per_day: rng.random_range(-0.004..0.006),
                    cost: Money(cost),
                    price: Money(cost * rng.random_range(14..25) / 10),
                    pack: [1, 1, 4, 6, 12][rng.random_range(0..5)],
                    moq: [1, 6, 12][rng.random_range(0..3)],
                    lead_days: rng.random_range(2..6),
                    via_dc: cfg.locations > 1 && rng.random_bool(0.5),
                }
            })
            .collect();
        let promos = (0..(cfg.items / 10).max(1))
            .map(|_| {
                let start = rng.random_range(0..cfg.days.max(1));
                (
                    rng.random_range(0..cfg.items.max(1) as usize),
                    start,
                    start + rng.random_range(3..8),
                    rng.random_range(1.5..3.0),
                )
            })
            .collect();
        Tenant {
            id: format!("{}{t:02}", cfg.tenant_prefix),
            currency: CURRENCIES[t as usize % CURRENCIES.len()],
            stock: vec![vec![Stock::default(); items.len()]; locs.len()],
            locs,
            items,
            promos,
        }
    }
}

impl Generator {
    /// Items, locations, suppliers, supplier terms and rules, dated the day before the history.
    pub fn master_data(&mut self) -> Vec<Generated> {
        let mut out = Vec::new();
        for t in 0..self.tenants.len() {
            let tenant = self.tenants[t].clone();
            let at = self.at(&tenant.locs[0], 0, 0);
            let at = Timestamp(at.0 - 86_400_000_000);
            let (event_id, tenant_id, occurred_at, produced_at, source) =
                self.envelope(t, at, "erp".into());
            out.push(Generated::Supplier(Supplier {
                event_id,
                tenant_id,
                occurred_at,
                produced_at,
                source,
                supplier_id: "sup01".into(),
                name: format!("Supplier of {}", tenant.id),
                contact_email: Some(format!("orders@{}.example", tenant.id)),
                contact_phone: Some("+1 555 0100".into()),
                currency: tenant.currency.into(),
                active: true,
                attributes: None,
            }));
            for (l, loc) in tenant.locs.iter().enumerate() {
                let (event_id, tenant_id, occurred_at, produced_at, source) =
                    self.envelope(t, at, "erp".into());
                out.push(Generated::Location(Location {
                    event_id,
                    tenant_id,
                    occurred_at,
                    produced_at,
                    source,
                    location_id: loc.id.clone(),
                    name: format!(
                        "{} {}",
                        if loc.kind == LocationType::DC {
                            "DC"
                        } else {
                            "Store"
                        },
                        l
                    ),
                    location_type: loc.kind,
                    timezone: loc.tz.name().into(),
                    active: true,
                    attributes: None,
                }));
            }
            for item in &tenant.items {
                let (event_id, tenant_id, occurred_at, produced_at, source) =
                    self.envelope(t, at, "pim".into());
                out.push(Generated::Item(Item {
                    event_id,
                    tenant_id,
                    occurred_at,
                    produced_at,
                    source,
                    item_id: item.id.clone(),
                    sku: format!("SKU-{}", item.id),
                    name: format!("Item {}", item.id),
                    category: Some(if item.base_rate < 0.5 {
                        "slow".into()
                    } else {
                        "fast".into()
                    }),
                    uom: UnitOfMeasure::EACH,
                    uom_scale: 0,
                    standard_cost: Some(item.cost),
                    active: true,
                    attributes: None,
                }));
                let (event_id, tenant_id, occurred_at, produced_at, source) =
                    self.envelope(t, at, "erp".into());
                out.push(Generated::SupplierItem(SupplierItem {
                    event_id,
                    tenant_id,
                    occurred_at,
                    produced_at,
                    source,
                    supplier_id: "sup01".into(),
                    item_id: item.id.clone(),
                    lead_time_mean_days: item.lead_days as f64,
                    lead_time_std_days: 0.5,
                    moq: item.moq,
                    pack_size: item.pack,
                    max_order_qty: None,
                    unit_cost: item.cost,
                    currency: tenant.currency.into(),
                    active: true,
                    attributes: None,
                    order_days: vec![],
                }));
                for loc in &tenant.locs {
                    let (event_id, tenant_id, occurred_at, produced_at, source) =
                        self.envelope(t, at, "planner".into());
                    out.push(Generated::Rule(ReplenishmentRule {
                        event_id,
                        tenant_id,
                        occurred_at,
                        produced_at,
                        source,
                        location_id: loc.id.clone(),
                        item_id: item.id.clone(),
                        supplier_id: "sup01".into(),
                        policy: ReplenishmentPolicy::S_Q,
                        reorder_point: Some(reorder_point(item, loc.kind, &tenant)),
                        order_quantity: Some(order_quantity(item, loc.kind, &tenant)),
                        min_qty: None,
                        max_qty: None,
                        service_level: 0.95,
                        order_days: Vec::new(),
                        rearm_margin: 0,
                        alert_on_safety_stock: false,
                        active: true,
                        attributes: None,
                    }));
                }
            }
        }
        self.count(&out);
        out
    }
}

/// Mean daily demand one location sees for an item (a DC serves the stores' DC items).
fn daily_rate(item: &ItemSpec, kind: LocationType, tenant: &Tenant) -> f64 {
    let stores = tenant
        .locs
        .iter()
        .filter(|l| l.kind == LocationType::STORE)
        .count() as f64;
    match kind {
        LocationType::STORE => item.base_rate,
        _ if item.via_dc => item.base_rate * stores,
        _ => item.base_rate * 0.5,
    }
}

/// The level below which the inventory position orders: demand over the lead time plus two
/// days, and one unit.
pub(crate) fn reorder_point(item: &ItemSpec, kind: LocationType, tenant: &Tenant) -> i64 {
    (daily_rate(item, kind, tenant) * (item.lead_days as f64 + 2.0)).ceil() as i64 + 1
}

/// A week of demand, at least the minimum order, rounded up to whole packs.
pub(crate) fn order_quantity(item: &ItemSpec, kind: LocationType, tenant: &Tenant) -> i64 {
    let raw = (daily_rate(item, kind, tenant) * 7.0).ceil() as i64;
    let q = raw.max(item.moq).max(1);
    (q + item.pack - 1) / item.pack * item.pack
}
