//! The Inventory Ledger's outputs: `inventory.positions`, `inventory.transactions` and
//! `inventory.low_stock_events`.

use composerp_events::inventory::{
    InventoryLowStock, InventoryTransactionCreated, InventoryUpdated,
};

use crate::{
    copy::{RowError, Rows},
    table::{Table, Version},
};

/// Current position per item-location: the InventoryUpdated with the highest sequence, its
/// buckets (docs/domain.md, Stock buckets) as published.
pub struct Positions;

impl Table for Positions {
    const TOPIC: &'static str = "inventory.positions";
    const TABLE: &'static str = "inventory.positions";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "location_id",
        "item_id",
        "sequence",
        "on_hand",
        "on_order",
        "in_transit",
        "reserved",
        "damaged",
        "backordered",
        "available",
        "available_raw",
        "inventory_position",
        "valuation_rate",
        "stock_value",
        "reorder_point",
        "negative_on_hand",
        "unknown_item",
        "unknown_location",
        "last_source_event_id",
        "event_id",
        "occurred_at",
    ];
    const KEY: &'static [&'static str] = &["tenant_id", "location_id", "item_id"];
    const VERSION: Version = Version::Newer {
        column: "sequence",
        ties_replace: false,
    };
    type Event = InventoryUpdated;

    fn rows(e: &InventoryUpdated, out: &mut Rows<'_>) -> Result<(), RowError> {
        let r = &mut out.row();
        r.text("tenant_id", &e.tenant_id)?
            .text("location_id", &e.location_id)?
            .text("item_id", &e.item_id)?;
        for v in [
            e.sequence,
            e.on_hand,
            e.on_order,
            e.in_transit,
            e.reserved,
            e.damaged,
            e.backordered,
            e.available,
            e.available_raw,
            e.inventory_position,
        ] {
            r.int(v);
        }
        r.money(e.valuation_rate)
            .money(e.stock_value)
            .opt_int(e.reorder_point)
            .bool(e.negative_on_hand)
            .bool(e.unknown_item)
            .bool(e.unknown_location)
            .id(e.last_source_event_id)
            .id(e.event_id)
            .time(e.occurred_at);
        Ok(())
    }
}

/// Stock ledger entries, one per applied input line.
pub struct Transactions;

impl Table for Transactions {
    const TOPIC: &'static str = "inventory.transactions";
    const TABLE: &'static str = "inventory.transactions";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "event_id",
        "location_id",
        "item_id",
        "ledger",
        "transaction_type",
        "source_event_id",
        "source_line",
        "document_ref",
        "sequence",
        "actual_qty",
        "qty_after_transaction",
        "incoming_rate",
        "valuation_rate",
        "stock_value",
        "stock_value_difference",
        "superseded",
        "negative_on_hand",
        "unknown_item",
        "unknown_location",
        "occurred_at",
    ];
    const KEY: &'static [&'static str] = &["tenant_id", "event_id"];
    const VERSION: Version = Version::InsertOnly;
    type Event = InventoryTransactionCreated;

    fn rows(e: &InventoryTransactionCreated, out: &mut Rows<'_>) -> Result<(), RowError> {
        let r = &mut out.row();
        r.text("tenant_id", &e.tenant_id)?
            .id(e.event_id)
            .text("location_id", &e.location_id)?
            .text("item_id", &e.item_id)?
            .text("ledger", e.ledger.symbol())?
            .text("transaction_type", e.transaction_type.symbol())?
            .id(e.source_event_id)
            .int(e.source_line.into())
            .opt_text("document_ref", e.document_ref.as_deref())?
            .int(e.sequence)
            .int(e.actual_qty)
            .int(e.qty_after_transaction)
            .opt_money(e.incoming_rate)
            .money(e.valuation_rate)
            .money(e.stock_value)
            .money(e.stock_value_difference)
            .bool(e.superseded)
            .bool(e.negative_on_hand)
            .bool(e.unknown_item)
            .bool(e.unknown_location)
            .time(e.occurred_at);
        Ok(())
    }
}

/// Low-stock alerts.
pub struct LowStock;

impl Table for LowStock {
    const TOPIC: &'static str = "inventory.low-stock";
    const TABLE: &'static str = "inventory.low_stock_events";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "event_id",
        "location_id",
        "item_id",
        "available",
        "inventory_position",
        "threshold",
        "threshold_kind",
        "source_event_id",
        "occurred_at",
    ];
    const KEY: &'static [&'static str] = &["tenant_id", "event_id"];
    const VERSION: Version = Version::InsertOnly;
    type Event = InventoryLowStock;

    fn rows(e: &InventoryLowStock, out: &mut Rows<'_>) -> Result<(), RowError> {
        let r = &mut out.row();
        r.text("tenant_id", &e.tenant_id)?
            .id(e.event_id)
            .text("location_id", &e.location_id)?
            .text("item_id", &e.item_id)?
            .int(e.available)
            .int(e.inventory_position)
            .int(e.threshold)
            .text("threshold_kind", e.threshold_kind.symbol())?
            .id(e.source_event_id)
            .time(e.occurred_at);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use composerp_events::{Buckets, samples};

    use super::*;

    #[test]
    fn position_rows_hold_each_bucket_in_its_named_column() {
        let mut e = samples::inventory_updated();
        e.available_raw = -7;
        let mut text = String::new();
        let mut rows = Rows::new(&mut text);
        Positions::rows(&e, &mut rows).expect("row");
        rows.finish();
        let fields: Vec<&str> = text.trim_end().split('\t').collect();
        assert_eq!(fields.len(), Positions::COLUMNS.len());
        let column = |name: &str| {
            let at = Positions::COLUMNS.iter().position(|c| *c == name);
            fields[at.expect(name)]
        };
        for (name, value) in Buckets::NAMES.into_iter().zip(e.buckets()) {
            assert_eq!(column(name), value.to_string(), "{name}");
        }
        assert_eq!(column("available_raw"), "-7");
    }
}
