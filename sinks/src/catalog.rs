//! Master data: `catalog.items`, `catalog.locations`, `catalog.suppliers` and
//! `catalog.supplier_items`; the latest event per key wins.

use composerp_events::catalog::{Item, Location, Supplier, SupplierItem};

use crate::{
    copy::{RowError, Rows},
    table::{Table, Version},
};

/// Master data rows carry the business time of their last change; a later one replaces them.
const BY_TIME: Version = Version::Newer {
    column: "occurred_at",
    ties_replace: true,
};

/// Items.
pub struct Items;

impl Table for Items {
    const TOPIC: &'static str = "catalog.items";
    const TABLE: &'static str = "catalog.items";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "item_id",
        "sku",
        "name",
        "category",
        "uom",
        "uom_scale",
        "standard_cost",
        "active",
        "attributes",
        "event_id",
        "occurred_at",
    ];
    const KEY: &'static [&'static str] = &["tenant_id", "item_id"];
    const VERSION: Version = BY_TIME;
    type Event = Item;

    fn rows(e: &Item, out: &mut Rows<'_>) -> Result<(), RowError> {
        let r = &mut out.row();
        r.text("tenant_id", &e.tenant_id)?
            .text("item_id", &e.item_id)?
            .text("sku", &e.sku)?
            .text("name", &e.name)?
            .opt_text("category", e.category.as_deref())?
            .text("uom", e.uom.symbol())?
            .int(e.uom_scale.into())
            .opt_money(e.standard_cost)
            .bool(e.active)
            .json("attributes", e.attributes.as_deref())?
            .id(e.event_id)
            .time(e.occurred_at);
        Ok(())
    }
}

/// Locations.
pub struct Locations;

impl Table for Locations {
    const TOPIC: &'static str = "catalog.locations";
    const TABLE: &'static str = "catalog.locations";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "location_id",
        "name",
        "location_type",
        "timezone",
        "active",
        "attributes",
        "event_id",
        "occurred_at",
    ];
    const KEY: &'static [&'static str] = &["tenant_id", "location_id"];
    const VERSION: Version = BY_TIME;
    type Event = Location;

    fn rows(e: &Location, out: &mut Rows<'_>) -> Result<(), RowError> {
        let r = &mut out.row();
        r.text("tenant_id", &e.tenant_id)?
            .text("location_id", &e.location_id)?
            .text("name", &e.name)?
            .text("location_type", e.location_type.symbol())?
            .text("timezone", &e.timezone)?
            .bool(e.active)
            .json("attributes", e.attributes.as_deref())?
            .id(e.event_id)
            .time(e.occurred_at);
        Ok(())
    }
}

/// Suppliers.
pub struct Suppliers;

impl Table for Suppliers {
    const TOPIC: &'static str = "catalog.suppliers";
    const TABLE: &'static str = "catalog.suppliers";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "supplier_id",
        "name",
        "contact_email",
        "contact_phone",
        "currency",
        "active",
        "attributes",
        "event_id",
        "occurred_at",
    ];
    const KEY: &'static [&'static str] = &["tenant_id", "supplier_id"];
    const VERSION: Version = BY_TIME;
    type Event = Supplier;

    fn rows(e: &Supplier, out: &mut Rows<'_>) -> Result<(), RowError> {
        let r = &mut out.row();
        r.text("tenant_id", &e.tenant_id)?
            .text("supplier_id", &e.supplier_id)?
            .text("name", &e.name)?
            .opt_text("contact_email", e.contact_email.as_deref())?
            .opt_text("contact_phone", e.contact_phone.as_deref())?
            .text("currency", &e.currency)?
            .bool(e.active)
            .json("attributes", e.attributes.as_deref())?
            .id(e.event_id)
            .time(e.occurred_at);
        Ok(())
    }
}

/// What each supplier sells: lead times, order constraints, cost.
pub struct SupplierItems;

impl Table for SupplierItems {
    const TOPIC: &'static str = "catalog.supplier-items";
    const TABLE: &'static str = "catalog.supplier_items";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "supplier_id",
        "item_id",
        "lead_time_mean_days",
        "lead_time_std_days",
        "moq",
        "pack_size",
        "max_order_qty",
        "unit_cost",
        "currency",
        "active",
        "attributes",
        "event_id",
        "occurred_at",
        "order_days",
    ];
    const KEY: &'static [&'static str] = &["tenant_id", "supplier_id", "item_id"];
    const VERSION: Version = BY_TIME;
    type Event = SupplierItem;

    fn rows(e: &SupplierItem, out: &mut Rows<'_>) -> Result<(), RowError> {
        let days: Vec<&str> = e.order_days.iter().map(|d| d.symbol()).collect();
        let r = &mut out.row();
        r.text("tenant_id", &e.tenant_id)?
            .text("supplier_id", &e.supplier_id)?
            .text("item_id", &e.item_id)?
            .float(e.lead_time_mean_days)
            .float(e.lead_time_std_days)
            .int(e.moq)
            .int(e.pack_size)
            .opt_int(e.max_order_qty)
            .money(e.unit_cost)
            .text("currency", &e.currency)?
            .bool(e.active)
            .json("attributes", e.attributes.as_deref())?
            .id(e.event_id)
            .time(e.occurred_at)
            .words(&days);
        Ok(())
    }
}
