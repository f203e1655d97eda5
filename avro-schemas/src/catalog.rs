//! Master data records (`composerp.catalog.v1`), published on compacted topics.

use crate::{
    Money,
    event::{avro_enum, event},
};

avro_enum! {
    /// Day of the week.
    Weekday { MON, TUE, WED, THU, FRI, SAT, SUN }
}

avro_enum! {
    /// Stock unit of an item.
    UnitOfMeasure { EACH, KILOGRAM, LITRE, METRE }
}

avro_enum! {
    /// Kind of location.
    LocationType {
        /// A store; uses the store stock ledger.
        STORE,
        /// A warehouse; uses the warehouse stock ledger.
        WAREHOUSE,
        /// A distribution centre; uses the warehouse stock ledger.
        DC,
    }
}

fn default_true() -> bool {
    true
}

event! {
    /// An item of the assortment.
    Item = "composerp.catalog.v1.Item", key(item = item_id) {
        /// Item id; part of the key.
        item_id: String,
        /// Stock keeping unit code.
        sku: String,
        /// Display name.
        name: String,
        /// Merchandise category.
        #[serde(default)]
        category: Option<String>,
        /// Stock unit.
        uom: UnitOfMeasure,
        /// Decimal places of quantities.
        #[serde(default)]
        uom_scale: i32,
        /// Standard unit cost.
        #[serde(default)]
        standard_cost: Option<Money>,
        /// False when delisted.
        #[serde(default = "default_true")]
        active: bool,
        /// Custom attributes as a JSON object.
        #[serde(default)]
        attributes: Option<String>,
    }
}

event! {
    /// A store, warehouse or distribution centre.
    Location = "composerp.catalog.v1.Location", key(location = location_id) {
        /// Location id; part of the key.
        location_id: String,
        /// Display name.
        name: String,
        /// Kind of location.
        location_type: LocationType,
        /// IANA time zone.
        timezone: String,
        /// False when closed.
        #[serde(default = "default_true")]
        active: bool,
        /// Custom attributes as a JSON object.
        #[serde(default)]
        attributes: Option<String>,
    }
}

event! {
    /// A supplier.
    Supplier = "composerp.catalog.v1.Supplier", key(supplier = supplier_id) {
        /// Supplier id; part of the key.
        supplier_id: String,
        /// Display name.
        name: String,
        /// Order contact e-mail (PII).
        #[serde(default)]
        contact_email: Option<String>,
        /// Order contact phone (PII).
        #[serde(default)]
        contact_phone: Option<String>,
        /// ISO 4217 currency.
        currency: String,
        /// False when no longer used.
        #[serde(default = "default_true")]
        active: bool,
        /// Custom attributes as a JSON object.
        #[serde(default)]
        attributes: Option<String>,
    }
}

event! {
    /// Terms on which a supplier delivers an item.
    SupplierItem = "composerp.catalog.v1.SupplierItem", key(supplier = supplier_id, item = item_id) {
        /// Supplier.
        supplier_id: String,
        /// Item.
        item_id: String,
        /// Mean lead time in days.
        lead_time_mean_days: f64,
        /// Lead time standard deviation in days.
        lead_time_std_days: f64,
        /// Minimum order quantity.
        moq: i64,
        /// Pack size.
        pack_size: i64,
        /// Largest quantity per order.
        #[serde(default)]
        max_order_qty: Option<i64>,
        /// Agreed unit cost.
        unit_cost: Money,
        /// ISO 4217 currency.
        currency: String,
        /// False when no longer delivered.
        #[serde(default = "default_true")]
        active: bool,
        /// Custom attributes as a JSON object.
        #[serde(default)]
        attributes: Option<String>,
        /// Days the supplier takes orders; empty means every day.
        #[serde(default)]
        order_days: Vec<Weekday>,
    }
}
