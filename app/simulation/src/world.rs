//! One replication's world: locations, items, their demand, supplier terms and rules, drawn
//! from a seeded generator so that a replication is the same every time it runs.

use composerp_events::{
    EventId, Money, Timestamp,
    catalog::{Item, Location, LocationType, Supplier, SupplierItem, UnitOfMeasure},
    replenishment::{AutoApprovalRule, ReplenishmentPolicy, ReplenishmentRule, Weekday},
};
use composerp_replenishment_policy::z_for;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson};

use crate::{Config, Mix, PolicyKind};

/// The simulated tenant.
pub const TENANT: &str = "sim";
/// The one supplier every item is bought from.
pub const SUPPLIER: &str = "SUP";

/// How one item-location's daily demand is drawn.
#[derive(Debug, Clone, Copy)]
pub enum Demand {
    /// Poisson with this mean every day.
    Smooth {
        /// Mean units a day.
        mean: f64,
    },
    /// On a share of days, 1 + Poisson(size) units; none otherwise.
    Intermittent {
        /// Share of days with demand.
        p: f64,
        /// Mean size above one unit.
        size: f64,
    },
}

impl Demand {
    /// Mean units a day.
    pub fn mean(&self) -> f64 {
        match *self {
            Demand::Smooth { mean } => mean,
            Demand::Intermittent { p, size } => p * (1.0 + size),
        }
    }

    /// Standard deviation of a day's units.
    pub fn std(&self) -> f64 {
        match *self {
            Demand::Smooth { mean } => mean.sqrt(),
            Demand::Intermittent { p, size } => {
                // E[X²] = p·(Var + mean²) of the size 1 + Poisson(size).
                let m = 1.0 + size;
                let second = p * (size + m * m);
                (second - self.mean().powi(2)).max(0.0).sqrt()
            }
        }
    }

    /// One day's units.
    pub fn draw(&self, rng: &mut ChaCha8Rng) -> i64 {
        match *self {
            Demand::Smooth { mean } => poisson(mean, rng),
            Demand::Intermittent { p, size } => {
                if rng.random::<f64>() < p {
                    1 + poisson(size, rng)
                } else {
                    0
                }
            }
        }
    }
}

fn poisson(mean: f64, rng: &mut ChaCha8Rng) -> i64 {
    Poisson::new(mean.max(1e-9)).map_or(0, |d| d.sample(rng) as i64)
}

/// One simulated item-location.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Location id.
    pub location: String,
    /// Item id.
    pub item: String,
    /// Its demand.
    pub demand: Demand,
    /// Units on hand at the start.
    pub initial_on_hand: i64,
}

/// Everything one replication needs.
#[derive(Debug)]
pub struct World {
    /// Item-locations, location by location.
    pub cells: Vec<Cell>,
    /// Location ids.
    pub locations: Vec<String>,
    /// The replication's random numbers (demand and lead times), after the world was drawn.
    pub rng: ChaCha8Rng,
}

fn envelope_id(parts: &[&str]) -> EventId {
    let bytes: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
    EventId::from_name_parts(&bytes)
}

impl World {
    /// Draws replication `replication` of `cfg`.
    pub fn new(cfg: &Config, replication: u32) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ (u64::from(replication) << 32));
        let locations: Vec<String> = (0..cfg.locations).map(|l| format!("L{l:02}")).collect();
        let per_location = cfg.items.div_ceil(cfg.locations.max(1));
        let mut cells = Vec::with_capacity(cfg.items as usize);
        for (l, location) in locations.iter().enumerate() {
            for i in 0..per_location {
                if cells.len() as u32 >= cfg.items {
                    break;
                }
                let demand = match cfg.mix {
                    Mix::Smooth => Demand::Smooth {
                        mean: rng.random_range(4.0..30.0),
                    },
                    Mix::Intermittent => Demand::Intermittent {
                        p: rng.random_range(0.15..0.45),
                        size: rng.random_range(1.0..6.0),
                    },
                };
                let cover = cfg.lead_time_days + 4.0;
                cells.push(Cell {
                    location: location.clone(),
                    item: format!("I{i:03}"),
                    demand,
                    initial_on_hand: (demand.mean() * cover).round() as i64,
                });
                let _ = l;
            }
        }
        World {
            cells,
            locations,
            rng,
        }
    }

    /// A lead time in whole days drawn from the supplier's distribution (at least one day).
    pub fn lead_time(&mut self, cfg: &Config) -> i32 {
        let d = Normal::new(cfg.lead_time_days, cfg.lead_time_std_days.max(0.0))
            .map_or(cfg.lead_time_days, |n| n.sample(&mut self.rng));
        d.round().max(1.0) as i32
    }

    /// The master data: locations, items, the supplier, supplier-items, rules and an
    /// auto-approval rule that approves every order (so orders flow without a planner).
    pub fn master_data(&self, cfg: &Config, at: Timestamp) -> MasterData {
        let envelope = |kind: &str, key: &str| (envelope_id(&["sim", kind, key]), at);
        let mut m = MasterData::default();
        for l in &self.locations {
            let (event_id, occurred_at) = envelope("location", l);
            m.locations.push(Location {
                event_id,
                tenant_id: TENANT.into(),
                occurred_at,
                produced_at: occurred_at,
                source: "sim".into(),
                location_id: l.clone(),
                name: l.clone(),
                location_type: LocationType::STORE,
                timezone: "UTC".into(),
                active: true,
                attributes: None,
            });
        }
        let (event_id, occurred_at) = envelope("supplier", SUPPLIER);
        m.suppliers.push(Supplier {
            event_id,
            tenant_id: TENANT.into(),
            occurred_at,
            produced_at: occurred_at,
            source: "sim".into(),
            supplier_id: SUPPLIER.into(),
            name: "Simulated supplier".into(),
            contact_email: None,
            contact_phone: None,
            currency: "EUR".into(),
            active: true,
            attributes: None,
        });
        let mut items: Vec<&str> = self.cells.iter().map(|c| c.item.as_str()).collect();
        items.sort_unstable();
        items.dedup();
        for item in items {
            let (event_id, occurred_at) = envelope("item", item);
            m.items.push(Item {
                event_id,
                tenant_id: TENANT.into(),
                occurred_at,
                produced_at: occurred_at,
                source: "sim".into(),
                item_id: item.into(),
                sku: item.into(),
                name: item.into(),
                category: Some("simulated".into()),
                uom: UnitOfMeasure::EACH,
                uom_scale: 0,
                standard_cost: Some(Money(10_000)),
                active: true,
                attributes: None,
            });
            let (event_id, occurred_at) = envelope("supplier-item", item);
            m.supplier_items.push(SupplierItem {
                event_id,
                tenant_id: TENANT.into(),
                occurred_at,
                produced_at: occurred_at,
                source: "sim".into(),
                supplier_id: SUPPLIER.into(),
                item_id: item.into(),
                lead_time_mean_days: cfg.lead_time_days,
                lead_time_std_days: cfg.lead_time_std_days,
                moq: 1,
                pack_size: 1,
                max_order_qty: None,
                unit_cost: Money(10_000),
                currency: "EUR".into(),
                active: true,
                attributes: None,
                order_days: vec![Weekday::MON, Weekday::THU],
            });
        }
        for c in &self.cells {
            m.rules.push(self.rule(cfg, c, at));
        }
        let (event_id, occurred_at) = envelope("auto-approval", TENANT);
        m.auto_approval = Some(AutoApprovalRule {
            event_id,
            tenant_id: TENANT.into(),
            occurred_at,
            produced_at: occurred_at,
            source: "sim".into(),
            max_value: Money(i64::MAX / 4),
            max_qty: i64::MAX / 4,
            active: true,
        });
        m
    }

    /// The item-location's rule: a week of demand as the lot, and for min/max the levels a
    /// planner would set from the true demand: min covers the lead time plus the day between
    /// reviews at the target. A position reviewed once a day is already below min by part of
    /// a day's demand when it orders, so, as for any periodic review (R = 1 day), the
    /// protection period is R + L.
    fn rule(&self, cfg: &Config, c: &Cell, at: Timestamp) -> ReplenishmentRule {
        let mean = c.demand.mean();
        let lot = (mean * 7.0).round().max(1.0) as i64;
        let (policy, min_qty, max_qty) = match cfg.policy {
            PolicyKind::SQ => (ReplenishmentPolicy::S_Q, None, None),
            PolicyKind::SS => (ReplenishmentPolicy::S_S, None, None),
            PolicyKind::RS => (ReplenishmentPolicy::R_S, None, None),
            PolicyKind::MinMax => {
                let z = z_for(cfg.service_level).unwrap_or(0.0);
                let l = cfg.lead_time_days + 1.0;
                let sd = (l * c.demand.std().powi(2)
                    + mean * mean * cfg.lead_time_std_days.powi(2))
                .sqrt();
                let min = (mean * l + z * sd).round() as i64;
                (ReplenishmentPolicy::MIN_MAX, Some(min), Some(min + lot))
            }
        };
        ReplenishmentRule {
            event_id: envelope_id(&["sim", "rule", &c.location, &c.item]),
            tenant_id: TENANT.into(),
            occurred_at: at,
            produced_at: at,
            source: "sim".into(),
            location_id: c.location.clone(),
            item_id: c.item.clone(),
            supplier_id: SUPPLIER.into(),
            policy,
            reorder_point: None,
            order_quantity: Some(lot),
            min_qty,
            max_qty,
            service_level: cfg.service_level,
            order_days: vec![],
            rearm_margin: 0,
            alert_on_safety_stock: false,
            active: true,
            attributes: None,
        }
    }
}

/// Master data records, by kind.
#[derive(Debug, Default)]
pub struct MasterData {
    /// Locations.
    pub locations: Vec<Location>,
    /// Items.
    pub items: Vec<Item>,
    /// The supplier.
    pub suppliers: Vec<Supplier>,
    /// Supplier-items.
    pub supplier_items: Vec<SupplierItem>,
    /// Rules.
    pub rules: Vec<ReplenishmentRule>,
    /// The auto-approval rule.
    pub auto_approval: Option<AutoApprovalRule>,
}
