//! Point-of-sale records (`composerp.pos.v1`).

use serde::{Deserialize, Serialize};

use crate::{
    Date, Money,
    event::{avro_enum, event},
};

avro_enum! {
    /// Kind of receipt line.
    SaleLineType {
        /// Units sold.
        SALE,
        /// Units taken back.
        RETURN,
    }
}

avro_enum! {
    /// State of returned goods.
    ReturnCondition {
        /// Back to sellable stock.
        SELLABLE,
        /// Into the damaged bucket.
        DAMAGED,
    }
}

avro_enum! {
    /// How a sale was fulfilled (schema version 2).
    SalesChannel {
        /// Sold over the counter.
        STORE,
        /// Ordered online, picked up in store.
        CLICK_AND_COLLECT,
        /// Ordered online, shipped from the store.
        SHIP_FROM_STORE,
    }
}

// Written by hand: avro_enum! derives no Default, as most enums have no default symbol.
#[allow(clippy::derivable_impls)]
impl Default for SalesChannel {
    fn default() -> Self {
        Self::STORE
    }
}

/// One line of a POS receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaleLine {
    /// 1-based line number within the receipt.
    pub line_number: i32,
    /// Item sold or returned.
    pub item_id: String,
    /// Kind of line.
    pub line_type: SaleLineType,
    /// Units on the line (a negative SALE quantity is a return).
    pub quantity: i64,
    /// Unit price before discount.
    pub unit_price: Money,
    /// Total discount on the line.
    pub discount: Money,
    /// For returns: the goods' condition; None means SELLABLE.
    #[serde(default)]
    pub return_condition: Option<ReturnCondition>,
    /// Reservation this sale fulfils.
    #[serde(default)]
    pub reservation_id: Option<String>,
}

event! {
    /// One completed POS receipt (SALE_COMPLETED).
    SaleCompleted = "composerp.pos.v1.SaleCompleted", key(location = store_id) {
        /// Store where the sale happened; part of the key.
        store_id: String,
        /// POS register.
        register_id: String,
        /// Receipt number as printed.
        receipt_id: String,
        /// ISO 4217 currency of the prices.
        currency: String,
        /// Receipt lines.
        lines: Vec<SaleLine>,
        /// Loyalty card presented at checkout (version 2).
        #[serde(default)]
        loyalty_id: Option<String>,
        /// Fulfilment channel (version 2).
        #[serde(default)]
        channel: SalesChannel,
        /// Custom attributes as a JSON object.
        #[serde(default)]
        attributes: Option<String>,
    }
}

event! {
    /// One item's sales at one store on one day (the worked example processor `daily-sales`).
    DailyItemSales = "composerp.pos.v1.DailyItemSales", key(location = location_id) {
        /// Store; part of the key.
        location_id: String,
        /// Item.
        item_id: String,
        /// UTC day the sales happened on.
        business_date: Date,
        /// Units sold on SALE lines that day.
        units_sold: i64,
        /// Units taken back on RETURN lines (and negative SALE lines) that day.
        units_returned: i64,
        /// Receipts with at least one line of the item.
        receipts: i64,
        /// Sales minus returns, after discounts.
        net_sales: Money,
        /// ISO 4217 currency of net_sales.
        currency: String,
    }
}
