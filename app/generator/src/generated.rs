//! [`Generated`]: the events a run emits, and [`Stats`], what was counted of them.

use composerp_events::{
    EventId, Timestamp,
    catalog::{Item, Location, Supplier, SupplierItem},
    inventory::{InventoryAdjusted, TransferReceived, TransferShipped},
    pos::SaleCompleted,
    procurement::PurchaseOrderReceived,
    replenishment::{PurchaseOrderApproved, ReplenishmentRule},
};

/// One generated event, typed.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Generated {
    /// Item master.
    Item(Item),
    /// Location master.
    Location(Location),
    /// Supplier master.
    Supplier(Supplier),
    /// Supplier terms.
    SupplierItem(SupplierItem),
    /// Replenishment rule.
    Rule(ReplenishmentRule),
    /// POS receipt.
    Sale(SaleCompleted),
    /// Purchase order approval (opens on_order).
    PoApproved(PurchaseOrderApproved),
    /// Goods receipt.
    Receipt(PurchaseOrderReceived),
    /// Write-off.
    Adjustment(InventoryAdjusted),
    /// Transfer shipped.
    Shipped(TransferShipped),
    /// Transfer received.
    Received(TransferReceived),
}

impl Generated {
    /// Business time of the event.
    pub fn occurred_at(&self) -> Timestamp {
        match self {
            Generated::Item(e) => e.occurred_at,
            Generated::Location(e) => e.occurred_at,
            Generated::Supplier(e) => e.occurred_at,
            Generated::SupplierItem(e) => e.occurred_at,
            Generated::Rule(e) => e.occurred_at,
            Generated::Sale(e) => e.occurred_at,
            Generated::PoApproved(e) => e.occurred_at,
            Generated::Receipt(e) => e.occurred_at,
            Generated::Adjustment(e) => e.occurred_at,
            Generated::Shipped(e) => e.occurred_at,
            Generated::Received(e) => e.occurred_at,
        }
    }

    /// Event id.
    pub fn event_id(&self) -> EventId {
        match self {
            Generated::Item(e) => e.event_id,
            Generated::Location(e) => e.event_id,
            Generated::Supplier(e) => e.event_id,
            Generated::SupplierItem(e) => e.event_id,
            Generated::Rule(e) => e.event_id,
            Generated::Sale(e) => e.event_id,
            Generated::PoApproved(e) => e.event_id,
            Generated::Receipt(e) => e.event_id,
            Generated::Adjustment(e) => e.event_id,
            Generated::Shipped(e) => e.event_id,
            Generated::Received(e) => e.event_id,
        }
    }
}

/// Counts of what was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Events emitted, duplicates included.
    pub events: u64,
    /// Distinct events.
    pub distinct_events: u64,
    /// On-hand movement lines of distinct events: each yields one stock ledger entry.
    pub ledger_lines: u64,
    /// Ids emitted twice (second copy identical).
    pub duplicate_ids: Vec<EventId>,
    /// Ids emitted later than events with a later business time.
    pub late_ids: Vec<EventId>,
}
