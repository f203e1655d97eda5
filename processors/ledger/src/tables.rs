//! [`LedgerTables`]: the master data the ledger reads (location types, known items, reorder
//! points), filled from whole topics and shared by every partition.

use composerp_events::{
    Codec, DecodeError,
    catalog::{Item, Location, LocationType},
    replenishment::ReplenishmentRule,
};
use composerp_runtime::processor::Tables;

/// Per id: nested maps, so that lookups by `&str` build no key.
type ById<V> = foldhash::HashMap<String, V>;

/// Master data the ledger reads: location types, known items, reorder points.
#[derive(Debug, Default)]
pub struct LedgerTables {
    tenants: ById<TenantTables>,
}

/// One tenant's master data.
#[derive(Debug, Default)]
struct TenantTables {
    /// Locations, with or without a known type (a rule can name a location not yet seen).
    locations: ById<Site>,
    items: foldhash::HashSet<String>,
}

/// One location's type, if known, and the rules of its items.
#[derive(Debug, Default)]
struct Site {
    kind: Option<LocationType>,
    rules: ById<Rule>,
}

/// What the ledger needs to know of one item-location, found in one walk of the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup {
    /// Type of the location; None when unknown.
    pub location: Option<LocationType>,
    /// The item is in the catalog.
    pub known_item: bool,
    /// Its replenishment rule, if one sets a reorder point.
    pub rule: Option<Rule>,
}

/// The low-stock part of a replenishment rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Reorder point.
    pub reorder_point: i64,
    /// Re-arm margin.
    pub rearm_margin: i64,
}

impl LedgerTables {
    /// Type of a location, None when unknown.
    pub fn location(&self, tenant: &str, location: &str) -> Option<LocationType> {
        self.tenants.get(tenant)?.locations.get(location)?.kind
    }

    /// The reorder point of an item-location, if a rule sets one.
    pub fn rule(&self, tenant: &str, location: &str, item: &str) -> Option<Rule> {
        self.tenants
            .get(tenant)?
            .locations
            .get(location)?
            .rules
            .get(item)
            .copied()
    }

    /// Location type, catalog membership and rule of an item-location, with one lookup of the
    /// tenant and one of the location: it runs for every line and every position update.
    pub fn lookup(&self, tenant: &str, location: &str, item: &str) -> Lookup {
        let Some(t) = self.tenants.get(tenant) else {
            return Lookup {
                location: None,
                known_item: false,
                rule: None,
            };
        };
        let site = t.locations.get(location);
        Lookup {
            location: site.and_then(|s| s.kind),
            known_item: t.items.contains(item),
            rule: site.and_then(|s| s.rules.get(item)).copied(),
        }
    }
}

impl Tables for LedgerTables {
    const TOPICS: &'static [&'static str] =
        &["catalog.locations", "catalog.items", "replenishment.rules"];

    fn update(&mut self, index: usize, codec: &Codec, bytes: &[u8]) -> Result<(), DecodeError> {
        match index {
            0 => {
                let l: Location = codec.decode(bytes)?;
                self.tenants
                    .entry(l.tenant_id)
                    .or_default()
                    .locations
                    .entry(l.location_id)
                    .or_default()
                    .kind = Some(l.location_type);
            }
            1 => {
                let i: Item = codec.decode(bytes)?;
                self.tenants
                    .entry(i.tenant_id)
                    .or_default()
                    .items
                    .insert(i.item_id);
            }
            _ => {
                let r: ReplenishmentRule = codec.decode(bytes)?;
                match r.reorder_point.filter(|_| r.active) {
                    Some(reorder_point) => {
                        self.tenants
                            .entry(r.tenant_id)
                            .or_default()
                            .locations
                            .entry(r.location_id)
                            .or_default()
                            .rules
                            .insert(
                                r.item_id,
                                Rule {
                                    reorder_point,
                                    rearm_margin: r.rearm_margin,
                                },
                            );
                    }
                    None => {
                        if let Some(site) = self
                            .tenants
                            .get_mut(&r.tenant_id)
                            .and_then(|t| t.locations.get_mut(&r.location_id))
                        {
                            site.rules.remove(&r.item_id);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use composerp_events::samples;
    use composerp_runtime::driver::TestDriver;

    use super::*;
    use crate::InventoryLedger;

    #[test]
    fn one_lookup_finds_type_item_and_rule_whichever_arrived_first() {
        let mut d = TestDriver::new(InventoryLedger);
        let mut rule = samples::replenishment_rule();
        rule.tenant_id = "t1".into();
        rule.location_id = "s1".into();
        rule.item_id = "sku".into();
        rule.reorder_point = Some(5);
        rule.active = true;
        d.table(&rule);
        let t = d.tables();
        assert_eq!(
            t.location("t1", "s1"),
            None,
            "a rule does not make a location known"
        );
        let found = t.lookup("t1", "s1", "sku");
        assert_eq!(found.rule.map(|r| r.reorder_point), Some(5));
        assert!(!found.known_item && found.location.is_none());
        let mut location = samples::location();
        location.tenant_id = "t1".into();
        location.location_id = "s1".into();
        location.location_type = LocationType::STORE;
        d.table(&location);
        let mut item = samples::item();
        item.tenant_id = "t1".into();
        item.item_id = "sku".into();
        d.table(&item);
        let found = d.tables().lookup("t1", "s1", "sku");
        assert_eq!(found.location, Some(LocationType::STORE));
        assert!(found.known_item);
        assert_eq!(found.rule.map(|r| r.reorder_point), Some(5), "kept");
        assert_eq!(d.tables().lookup("t2", "s1", "sku").rule, None);
        rule.active = false;
        d.table(&rule);
        assert_eq!(
            d.tables().rule("t1", "s1", "sku"),
            None,
            "an inactive rule is removed"
        );
    }
}
