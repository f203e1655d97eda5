//! Inventory records (`composerp.inventory.v1`): adjustments and transfers in, ledger outputs.

use serde::{Deserialize, Serialize};

use crate::{
    EventId, Money,
    event::{avro_enum, event},
};

avro_enum! {
    /// Movement type of an adjustment (docs/domain.md, Movements).
    AdjustmentType {
        /// Cycle count: on_hand set to the counted quantity as of occurred_at.
        COUNT_SET,
        /// Signed change of on_hand.
        DELTA,
        /// Units found damaged (stay in on_hand).
        DAMAGE,
        /// Units removed from stock.
        WRITE_OFF,
        /// Units reserved for a customer.
        RESERVE,
        /// Reservation released.
        RELEASE,
        /// Customer demand waiting for stock.
        BACKORDER,
        /// Backorder filled.
        BACKORDER_FILL,
    }
}

avro_enum! {
    /// Which stock a write-off removes.
    WriteOffSource {
        /// Sellable units.
        SELLABLE,
        /// Damaged units.
        DAMAGED,
    }
}

event! {
    /// A stock adjustment at one item-location.
    InventoryAdjusted = "composerp.inventory.v1.InventoryAdjusted", key(location = location_id) {
        /// Location adjusted; part of the key.
        location_id: String,
        /// Item adjusted.
        item_id: String,
        /// Kind of adjustment.
        adjustment_type: AdjustmentType,
        /// Counted quantity (COUNT_SET), signed delta (DELTA) or positive units.
        quantity: i64,
        /// Why, e.g. CYCLE_COUNT or SHRINK.
        reason_code: String,
        /// For WRITE_OFF: which stock; None means SELLABLE.
        #[serde(default)]
        write_off_source: Option<WriteOffSource>,
        /// For RESERVE and RELEASE.
        #[serde(default)]
        reservation_id: Option<String>,
        /// For BACKORDER and BACKORDER_FILL.
        #[serde(default)]
        order_ref: Option<String>,
        /// For positive DELTA: cost of the units found.
        #[serde(default)]
        unit_cost: Option<Money>,
        /// Free text.
        #[serde(default)]
        note: Option<String>,
        /// Custom attributes as a JSON object.
        #[serde(default)]
        attributes: Option<String>,
    }
}

/// One line of a stock transfer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferLine {
    /// 1-based line number.
    pub line_number: i32,
    /// Item moved.
    pub item_id: String,
    /// Units; positive.
    pub quantity: i64,
}

event! {
    /// Stock left a location for another (TRANSFER_OUT).
    TransferShipped = "composerp.inventory.v1.TransferShipped", key(location = from_location_id) {
        /// Transfer document id.
        transfer_id: String,
        /// Shipping location; part of the key.
        from_location_id: String,
        /// Destination location.
        to_location_id: String,
        /// Shipped lines.
        lines: Vec<TransferLine>,
        /// Custom attributes as a JSON object.
        #[serde(default)]
        attributes: Option<String>,
    }
}

event! {
    /// A transfer arrived at its destination (TRANSFER_IN).
    TransferReceived = "composerp.inventory.v1.TransferReceived", key(location = to_location_id) {
        /// Transfer document id.
        transfer_id: String,
        /// Location that shipped.
        from_location_id: String,
        /// Receiving location; part of the key.
        to_location_id: String,
        /// Received lines.
        lines: Vec<TransferLine>,
        /// Custom attributes as a JSON object.
        #[serde(default)]
        attributes: Option<String>,
    }
}

avro_enum! {
    /// Which stock ledger an entry belongs to.
    LedgerKind {
        /// Store stock ledger (STORE locations).
        SSLE,
        /// Warehouse stock ledger (WAREHOUSE and DC).
        WSLE,
    }
}

avro_enum! {
    /// On-hand movement type of a ledger entry.
    TransactionType {
        /// Sale.
        SALE,
        /// Customer return.
        RETURN,
        /// Goods receipt.
        RECEIPT,
        /// Transfer shipped from here.
        TRANSFER_OUT,
        /// Transfer received here.
        TRANSFER_IN,
        /// Count or delta adjustment.
        ADJUSTMENT,
        /// Write-off.
        WRITE_OFF,
    }
}

event! {
    /// One stock ledger entry (INVENTORY_TRANSACTION_CREATED).
    InventoryTransactionCreated = "composerp.inventory.v1.InventoryTransactionCreated", key(location = location_id) {
        /// Location; part of the key.
        location_id: String,
        /// Item.
        item_id: String,
        /// Ledger the entry belongs to.
        ledger: LedgerKind,
        /// Movement type.
        transaction_type: TransactionType,
        /// Input event it derives from.
        source_event_id: EventId,
        /// Line of the input event.
        source_line: i32,
        /// Business document reference.
        document_ref: Option<String>,
        /// Per item-location sequence number.
        sequence: i64,
        /// Signed change to on_hand.
        actual_qty: i64,
        /// Running on_hand after this entry.
        qty_after_transaction: i64,
        /// Unit cost of incoming units.
        incoming_rate: Option<Money>,
        /// Moving-average unit cost after the entry.
        valuation_rate: Money,
        /// qty_after_transaction x valuation_rate.
        stock_value: Money,
        /// Change of stock value.
        stock_value_difference: Money,
        /// Superseded by a later count: zero effect.
        superseded: bool,
        /// on_hand negative after the entry.
        negative_on_hand: bool,
        /// Item unknown to the item master.
        unknown_item: bool,
        /// Location unknown to the location master.
        unknown_location: bool,
    }
}

event! {
    /// Current position of one item-location (INVENTORY_UPDATED).
    InventoryUpdated = "composerp.inventory.v1.InventoryUpdated", key(location = location_id) {
        /// Location; part of the key.
        location_id: String,
        /// Item.
        item_id: String,
        /// Version; higher is newer.
        sequence: i64,
        /// Units at the location.
        on_hand: i64,
        /// Open purchase order quantity.
        on_order: i64,
        /// Inbound transfer quantity.
        in_transit: i64,
        /// Reserved units.
        reserved: i64,
        /// Damaged units.
        damaged: i64,
        /// Backordered units.
        backordered: i64,
        /// max(0, available_raw).
        available: i64,
        /// on_hand - reserved - damaged.
        available_raw: i64,
        /// Inventory position.
        inventory_position: i64,
        /// Moving-average unit cost.
        valuation_rate: Money,
        /// on_hand x valuation_rate.
        stock_value: Money,
        /// Reorder point of the rule, if any.
        reorder_point: Option<i64>,
        /// on_hand negative.
        negative_on_hand: bool,
        /// Item unknown.
        unknown_item: bool,
        /// Location unknown.
        unknown_location: bool,
        /// Latest input event included.
        last_source_event_id: EventId,
    }
}

avro_enum! {
    /// Which level a low-stock alert watches.
    ThresholdKind {
        /// The reorder point.
        REORDER_POINT,
        /// The safety stock.
        SAFETY_STOCK,
    }
}

event! {
    /// Available stock crossed below the reorder point (INVENTORY_LOW_STOCK).
    InventoryLowStock = "composerp.inventory.v1.InventoryLowStock", key(location = location_id) {
        /// Location; part of the key.
        location_id: String,
        /// Item.
        item_id: String,
        /// Available units.
        available: i64,
        /// Inventory position.
        inventory_position: i64,
        /// Level crossed.
        threshold: i64,
        /// Kind of level.
        threshold_kind: ThresholdKind,
        /// Input event causing the crossing.
        source_event_id: EventId,
    }
}

impl InventoryUpdated {
    /// The eight buckets as published, in [`crate::Buckets::NAMES`] order.
    pub fn buckets(&self) -> [i64; 8] {
        [
            self.on_hand,
            self.on_order,
            self.in_transit,
            self.reserved,
            self.damaged,
            self.backordered,
            self.available,
            self.inventory_position,
        ]
    }
}
