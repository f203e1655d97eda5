//! Goods receipt records (`composerp.procurement.v1`).

use serde::{Deserialize, Serialize};

use crate::{Date, Money, event::event};

/// One received line of a goods receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLine {
    /// 1-based line number within the receipt.
    pub line_number: i32,
    /// Purchase order line being received.
    pub po_line_number: i32,
    /// Item received.
    pub item_id: String,
    /// Units received; positive.
    pub quantity: i64,
    /// Landed unit cost.
    pub unit_cost: Money,
    /// Supplier lot number.
    #[serde(default)]
    pub lot_number: Option<String>,
    /// Expiry date of the lot.
    #[serde(default)]
    pub expiry_date: Option<Date>,
}

event! {
    /// Goods received against a purchase order (PURCHASE_ORDER_RECEIVED).
    PurchaseOrderReceived = "composerp.procurement.v1.PurchaseOrderReceived", key(location = location_id) {
        /// Receiving location; part of the key.
        location_id: String,
        /// Purchase order being received.
        po_number: String,
        /// Goods receipt number.
        receipt_id: String,
        /// Supplier that delivered.
        #[serde(default)]
        supplier_id: Option<String>,
        /// ISO 4217 currency of costs.
        currency: String,
        /// Received lines.
        lines: Vec<ReceiptLine>,
        /// Custom attributes as a JSON object.
        #[serde(default)]
        attributes: Option<String>,
    }
}
