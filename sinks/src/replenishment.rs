//! Replenishment: `replenishment.rules`; the latest rule per item-location wins.

use composerp_events::replenishment::ReplenishmentRule;

use crate::{
    copy::{Row, RowError},
    table::{Table, Version},
};

/// Replenishment rules.
pub struct Rules;

impl Table for Rules {
    const TOPIC: &'static str = "replenishment.rules";
    const TABLE: &'static str = "replenishment.rules";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "location_id",
        "item_id",
        "supplier_id",
        "policy",
        "reorder_point",
        "order_quantity",
        "min_qty",
        "max_qty",
        "service_level",
        "order_days",
        "rearm_margin",
        "alert_on_safety_stock",
        "active",
        "attributes",
        "event_id",
        "occurred_at",
    ];
    const KEY: &'static [&'static str] = &["tenant_id", "location_id", "item_id"];
    const VERSION: Version = Version::Newer {
        column: "occurred_at",
        ties_replace: true,
    };
    type Event = ReplenishmentRule;

    fn row(e: &ReplenishmentRule, r: &mut Row<'_>) -> Result<(), RowError> {
        let days: Vec<&str> = e.order_days.iter().map(|d| d.symbol()).collect();
        r.text("tenant_id", &e.tenant_id)?
            .text("location_id", &e.location_id)?
            .text("item_id", &e.item_id)?
            .text("supplier_id", &e.supplier_id)?
            .text("policy", e.policy.symbol())?
            .opt_int(e.reorder_point)
            .opt_int(e.order_quantity)
            .opt_int(e.min_qty)
            .opt_int(e.max_qty)
            .float(e.service_level)
            .words(&days)
            .int(e.rearm_margin)
            .bool(e.alert_on_safety_stock)
            .bool(e.active)
            .json("attributes", e.attributes.as_deref())?
            .id(e.event_id)
            .time(e.occurred_at);
        Ok(())
    }
}
