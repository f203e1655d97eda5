//! [`ReplenishmentTables`]: the master data replenishment joins, filled from compacted topics and
//! shared by every partition: latest value per key, tombstones delete.

use chrono_tz::Tz;
use composerp_events::{
    Codec, DecodeError, Money,
    catalog::{Item, Location, LocationType, Supplier, SupplierItem},
    replenishment::{
        AutoApprovalRule, DefaultRule, ReplenishmentDefaultRule, ReplenishmentPolicy,
        ReplenishmentRule, Weekday,
    },
};
use composerp_replenishment_policy::{LeadTime, Sourcing, SupplierOffer};
use composerp_runtime::processor::Tables;

/// Per id: nested maps, so that lookups by `&str` build no key.
type ById<V> = foldhash::HashMap<String, V>;

/// Master data replenishment reads.
#[derive(Debug, Default)]
pub struct ReplenishmentTables {
    tenants: ById<TenantTables>,
}

/// One tenant's master data.
#[derive(Debug, Default)]
struct TenantTables {
    /// Item id to its category (None: no category).
    items: ById<Option<String>>,
    locations: ById<Site>,
    /// Supplier id to whether it is active.
    suppliers: ById<bool>,
    /// Item id to its supplier-items, sorted by supplier id.
    offers: ById<Vec<Offer>>,
    /// Location id, then item id, to the item-location's own rule.
    rules: ById<ById<Rule>>,
    /// Category (or `*`) to its active default rules per kind of location.
    defaults: ById<Vec<(LocationType, Rule)>>,
    auto_approval: Option<AutoApproval>,
}

/// A location's kind and zone.
#[derive(Debug, Clone, Copy)]
pub struct Site {
    /// Store, warehouse or DC.
    pub kind: LocationType,
    /// IANA zone: its local days are the order days.
    pub zone: Tz,
}

/// One supplier's terms for an item.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// What choosing and sizing read: supplier, cost, lead time, MOQ, pack and cap, and
    /// `active` = the supplier-item and its supplier both active (kept up to date when either
    /// changes, so that evaluation reads it as is).
    pub terms: SupplierOffer,
    /// Agreed unit cost, exact.
    pub unit_cost: Money,
    /// ISO 4217 currency.
    pub currency: String,
    /// Days the supplier takes orders; empty means every day.
    pub order_days: Vec<Weekday>,
    /// The supplier-item's own active flag.
    item_active: bool,
}

impl AsRef<SupplierOffer> for Offer {
    fn as_ref(&self) -> &SupplierOffer {
        &self.terms
    }
}

/// A replenishment rule as replenishment applies it, wherever it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Policy.
    pub policy: ReplenishmentPolicy,
    /// Preferred supplier; None picks the cheapest valid supplier-item.
    pub supplier_id: Option<String>,
    /// Lot size Q for (s,Q) and (s,S).
    pub order_quantity: Option<i64>,
    /// min for min/max.
    pub min_qty: Option<i64>,
    /// max for min/max.
    pub max_qty: Option<i64>,
    /// Target cycle service level.
    pub service_level: f64,
    /// Order days for (R,S); empty uses the supplier-item's.
    pub order_days: Vec<Weekday>,
}

/// A rule with where it came from, for the trigger's explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied<'a> {
    /// The rule.
    pub rule: &'a Rule,
    /// `item-location`, or `default category=<c> location_type=<t>`.
    pub source: RuleSource<'a>,
}

/// Where a rule came from, written out only when a trigger is published.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RuleSource<'a> {
    /// The item-location's own rule.
    ItemLocation,
    /// A category default (`*` for any).
    Default {
        /// Category.
        category: &'a str,
        /// Kind of location.
        kind: LocationType,
    },
}

impl std::fmt::Display for RuleSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleSource::ItemLocation => f.write_str("item-location"),
            RuleSource::Default { category, kind } => {
                write!(
                    f,
                    "default category={category} location_type={}",
                    kind.symbol()
                )
            }
        }
    }
}

/// A tenant's auto-approval limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoApproval {
    /// Largest order value approved without a person.
    pub max_value: Money,
    /// Largest order quantity approved without a person.
    pub max_qty: i64,
}

impl ReplenishmentTables {
    /// The kind and zone of a location; None until the catalog has it.
    pub fn site(&self, tenant: &str, location: &str) -> Option<Site> {
        self.tenants.get(tenant)?.locations.get(location).copied()
    }

    /// The zone of a location, UTC while unknown.
    pub fn zone(&self, tenant: &str, location: &str) -> Tz {
        self.site(tenant, location).map_or(Tz::UTC, |s| s.zone)
    }

    /// The rule an item-location follows: its own, else its category's default for the
    /// location's kind, else the `*` default for that kind.
    pub fn rule(&self, tenant: &str, location: &str, item: &str) -> Option<Applied<'_>> {
        let t = self.tenants.get(tenant)?;
        if let Some(rule) = t.rules.get(location).and_then(|r| r.get(item)) {
            return Some(Applied {
                rule,
                source: RuleSource::ItemLocation,
            });
        }
        let kind = t.locations.get(location)?.kind;
        let category = t.items.get(item).and_then(Option::as_deref);
        for c in category.into_iter().chain(["*"]) {
            if let Some((_, rule)) = t
                .defaults
                .get(c)
                .and_then(|rules| rules.iter().find(|(k, _)| *k == kind))
            {
                return Some(Applied {
                    rule,
                    source: RuleSource::Default { category: c, kind },
                });
            }
        }
        None
    }

    /// The supplier-items of an item, sorted by supplier id.
    pub fn offers(&self, tenant: &str, item: &str) -> &[Offer] {
        self.tenants
            .get(tenant)
            .and_then(|t| t.offers.get(item))
            .map_or(&[], Vec::as_slice)
    }

    /// The tenant's auto-approval limits; None: every order waits for a planner.
    pub fn auto_approval(&self, tenant: &str) -> Option<AutoApproval> {
        self.tenants.get(tenant)?.auto_approval
    }

    fn tenant(&mut self, tenant: &str) -> &mut TenantTables {
        if !self.tenants.contains_key(tenant) {
            self.tenants
                .insert(tenant.to_owned(), TenantTables::default());
        }
        self.tenants.get_mut(tenant).expect("inserted above")
    }
}

impl ReplenishmentTables {
    /// Whether a supplier may take orders (an unknown supplier may).
    fn supplier_active(&self, tenant: &str, supplier: &str) -> bool {
        self.tenants
            .get(tenant)
            .and_then(|t| t.suppliers.get(supplier))
            .is_none_or(|a| *a)
    }
}

impl TenantTables {
    /// Recomputes the active flag of a supplier's offers after the supplier changed: evaluation
    /// runs per stock update, a supplier changes rarely.
    fn follow_supplier(&mut self, supplier: &str) {
        let active = self.suppliers.get(supplier).is_none_or(|a| *a);
        for offers in self.offers.values_mut() {
            for o in offers
                .iter_mut()
                .filter(|o| o.terms.supplier_id == supplier)
            {
                o.terms.active = o.item_active && active;
            }
        }
    }
}

fn weekdays(days: &[Weekday]) -> Vec<Weekday> {
    let mut d = days.to_vec();
    d.sort_by_key(|w| *w as u8);
    d.dedup();
    d
}

impl From<&ReplenishmentRule> for Rule {
    fn from(r: &ReplenishmentRule) -> Self {
        Rule {
            policy: r.policy,
            supplier_id: Some(r.supplier_id.trim().to_owned()).filter(|s| !s.is_empty()),
            order_quantity: r.order_quantity,
            min_qty: r.min_qty,
            max_qty: r.max_qty,
            service_level: r.service_level,
            order_days: weekdays(&r.order_days),
        }
    }
}

impl From<&DefaultRule> for Rule {
    fn from(r: &DefaultRule) -> Self {
        Rule {
            policy: r.policy,
            supplier_id: r.supplier_id.clone().filter(|s| !s.trim().is_empty()),
            order_quantity: r.order_quantity,
            min_qty: r.min_qty,
            max_qty: r.max_qty,
            service_level: r.service_level,
            order_days: weekdays(&r.order_days),
        }
    }
}

/// The topics, in [`Tables::TOPICS`] order.
const ITEMS: usize = 0;
const LOCATIONS: usize = 1;
const SUPPLIERS: usize = 2;
const SUPPLIER_ITEMS: usize = 3;
const RULES: usize = 4;
const DEFAULTS: usize = 5;
const AUTO_APPROVAL: usize = 6;

impl Tables for ReplenishmentTables {
    const TOPICS: &'static [&'static str] = &[
        "catalog.items",
        "catalog.locations",
        "catalog.suppliers",
        "catalog.supplier-items",
        "replenishment.rules",
        "replenishment.default-rules",
        "replenishment.auto-approval",
    ];

    fn update(&mut self, index: usize, codec: &Codec, bytes: &[u8]) -> Result<(), DecodeError> {
        match index {
            ITEMS => {
                let i: Item = codec.decode(bytes)?;
                let category = i.category.filter(|c| !c.trim().is_empty());
                self.tenant(&i.tenant_id).items.insert(i.item_id, category);
            }
            LOCATIONS => {
                let l: Location = codec.decode(bytes)?;
                let zone = composerp_forecasting::zone::parse(&l.timezone).unwrap_or(Tz::UTC);
                let site = Site {
                    kind: l.location_type,
                    zone,
                };
                self.tenant(&l.tenant_id)
                    .locations
                    .insert(l.location_id, site);
            }
            SUPPLIERS => {
                let s: Supplier = codec.decode(bytes)?;
                let t = self.tenant(&s.tenant_id);
                t.suppliers.insert(s.supplier_id.clone(), s.active);
                t.follow_supplier(&s.supplier_id);
            }
            SUPPLIER_ITEMS => {
                let s: SupplierItem = codec.decode(bytes)?;
                let supplier_active = self.supplier_active(&s.tenant_id, &s.supplier_id);
                let offer = Offer {
                    terms: SupplierOffer {
                        supplier_id: s.supplier_id,
                        unit_cost: s.unit_cost.to_f64(),
                        lead_time: LeadTime {
                            mean_days: s.lead_time_mean_days,
                            std_days: s.lead_time_std_days,
                        },
                        sourcing: Sourcing {
                            moq: s.moq,
                            pack_size: s.pack_size,
                            max_order_qty: s.max_order_qty,
                        },
                        active: s.active && supplier_active,
                    },
                    unit_cost: s.unit_cost,
                    currency: s.currency,
                    order_days: weekdays(&s.order_days),
                    item_active: s.active,
                };
                let offers = self
                    .tenant(&s.tenant_id)
                    .offers
                    .entry(s.item_id)
                    .or_default();
                match offers.binary_search_by(|o| o.terms.supplier_id.cmp(&offer.terms.supplier_id))
                {
                    Ok(i) => offers[i] = offer,
                    Err(i) => offers.insert(i, offer),
                }
            }
            RULES => {
                let r: ReplenishmentRule = codec.decode(bytes)?;
                let rules = self
                    .tenant(&r.tenant_id)
                    .rules
                    .entry(r.location_id.clone())
                    .or_default();
                if r.active {
                    rules.insert(r.item_id.clone(), Rule::from(&r));
                } else {
                    rules.remove(&r.item_id);
                }
            }
            DEFAULTS => {
                let d: ReplenishmentDefaultRule = codec.decode(bytes)?;
                let rules: Vec<(LocationType, Rule)> = d
                    .rules
                    .iter()
                    .filter(|r| r.active)
                    .map(|r| (r.location_type, Rule::from(r)))
                    .collect();
                self.tenant(&d.tenant_id).defaults.insert(d.category, rules);
            }
            AUTO_APPROVAL => {
                let a: AutoApprovalRule = codec.decode(bytes)?;
                self.tenant(&a.tenant_id).auto_approval = a.active.then_some(AutoApproval {
                    max_value: a.max_value,
                    max_qty: a.max_qty,
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn delete(&mut self, index: usize, key: &str) {
        let mut parts = key.split('|');
        let Some(t) = parts.next().and_then(|t| self.tenants.get_mut(t)) else {
            return;
        };
        let (a, b) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        match index {
            ITEMS => {
                t.items.remove(a);
            }
            LOCATIONS => {
                t.locations.remove(a);
            }
            SUPPLIERS => {
                t.suppliers.remove(a);
                t.follow_supplier(a);
            }
            SUPPLIER_ITEMS => {
                if let Some(offers) = t.offers.get_mut(b) {
                    offers.retain(|o| o.terms.supplier_id != a);
                }
            }
            RULES => {
                if let Some(rules) = t.rules.get_mut(a) {
                    rules.remove(b);
                }
            }
            DEFAULTS => {
                t.defaults.remove(a);
            }
            AUTO_APPROVAL => t.auto_approval = None,
            _ => {}
        }
    }
}
