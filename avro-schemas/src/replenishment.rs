//! Replenishment records (`composerp.replenishment.v1`): rules, triggers and purchase orders.

use serde::{Deserialize, Serialize};

use crate::{
    Date, EventId, Money,
    event::{avro_enum, event},
};

avro_enum! {
    /// Replenishment policy.
    ReplenishmentPolicy {
        /// Reorder point s, fixed quantity Q.
        S_Q,
        /// Reorder point s, order up to S.
        S_S,
        /// Review every R days, order up to S.
        R_S,
        /// Odoo-style min/max.
        MIN_MAX,
    }
}

avro_enum! {
    /// Outcome of a replenishment decision.
    TriggerOutcome { ORDER, SUPPRESSED_OPEN_ORDER }
}

avro_enum! {
    /// Purchase order lifecycle state.
    PurchaseOrderStatus { DRAFT, APPROVED, SENT, PARTIALLY_RECEIVED, RECEIVED, CANCELLED }
}

avro_enum! {
    /// Day of the week.
    Weekday { MON, TUE, WED, THU, FRI, SAT, SUN }
}

event! {
    /// A replenishment decision with its explanation (REPLENISHMENT_TRIGGERED).
    ReplenishmentTriggered = "composerp.replenishment.v1.ReplenishmentTriggered", key(location = location_id) {
        /// Location; part of the key.
        location_id: String,
        /// Item.
        item_id: String,
        /// Supplier to order from.
        supplier_id: String,
        /// Policy that decided.
        policy: ReplenishmentPolicy,
        /// Inventory position used.
        inventory_position: i64,
        /// Trigger level.
        reorder_level: f64,
        /// Order-up-to level, where the policy has one.
        order_up_to: Option<f64>,
        /// Safety stock.
        safety_stock: f64,
        /// Mean daily demand.
        demand_per_day: f64,
        /// Daily demand standard deviation.
        demand_std_per_day: f64,
        /// Mean lead time in days.
        lead_time_days: f64,
        /// Lead time standard deviation in days.
        lead_time_std_days: f64,
        /// Target cycle service level.
        service_level: f64,
        /// Units to order (0 when suppressed).
        order_quantity: i64,
        /// Decision outcome.
        outcome: TriggerOutcome,
        /// Human-readable explanation.
        explanation: String,
        /// Event that caused the review.
        source_event_id: EventId,
    }
}

/// One line of a purchase order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurchaseOrderLine {
    /// 1-based line number.
    pub line_number: i32,
    /// Item ordered.
    pub item_id: String,
    /// Units ordered; positive.
    pub quantity: i64,
    /// Agreed unit cost.
    pub unit_cost: Money,
}

event! {
    /// A purchase order was created (PURCHASE_ORDER_CREATED).
    PurchaseOrderCreated = "composerp.replenishment.v1.PurchaseOrderCreated", key(location = location_id) {
        /// Receiving location; part of the key.
        location_id: String,
        /// Purchase order number.
        po_number: String,
        /// Supplier.
        supplier_id: String,
        /// ISO 4217 currency.
        currency: String,
        /// Ordered lines.
        lines: Vec<PurchaseOrderLine>,
        /// DRAFT or APPROVED.
        status: PurchaseOrderStatus,
        /// Sum of quantity x unit_cost.
        total_value: Money,
        /// Trigger that caused it.
        #[serde(default)]
        trigger_event_id: Option<EventId>,
        /// Expected delivery day.
        #[serde(default)]
        expected_date: Option<Date>,
        /// Custom attributes as a JSON object.
        #[serde(default)]
        attributes: Option<String>,
    }
}

event! {
    /// A purchase order was approved and counts as on order (PURCHASE_ORDER_APPROVED).
    PurchaseOrderApproved = "composerp.replenishment.v1.PurchaseOrderApproved", key(location = location_id) {
        /// Receiving location; part of the key.
        location_id: String,
        /// Purchase order number.
        po_number: String,
        /// Supplier.
        supplier_id: String,
        /// ISO 4217 currency.
        currency: String,
        /// Ordered lines.
        lines: Vec<PurchaseOrderLine>,
        /// Approver, e.g. rule:auto-approval.
        approved_by: String,
        /// Approved by the tenant's rule.
        auto_approved: bool,
        /// Expected delivery day.
        #[serde(default)]
        expected_date: Option<Date>,
        /// Custom attributes as a JSON object.
        #[serde(default)]
        attributes: Option<String>,
    }
}

event! {
    /// A purchase order was cancelled (PO_CANCELLED).
    PurchaseOrderCancelled = "composerp.replenishment.v1.PurchaseOrderCancelled", key(location = location_id) {
        /// Receiving location; part of the key.
        location_id: String,
        /// Purchase order number.
        po_number: String,
        /// Supplier.
        supplier_id: String,
        /// Lines cancelled; empty cancels all.
        line_numbers: Vec<i32>,
        /// Who cancelled.
        cancelled_by: String,
        /// Why.
        reason: String,
        /// Items of the cancelled lines.
        item_ids: Vec<String>,
    }
}

fn default_service_level() -> f64 {
    0.95
}

fn default_true() -> bool {
    true
}

event! {
    /// Replenishment rule of one item-location (master data).
    ReplenishmentRule = "composerp.replenishment.v1.ReplenishmentRule", key(location = location_id, item = item_id) {
        /// Location.
        location_id: String,
        /// Item.
        item_id: String,
        /// Preferred supplier.
        supplier_id: String,
        /// Policy.
        policy: ReplenishmentPolicy,
        /// Static reorder point.
        #[serde(default)]
        reorder_point: Option<i64>,
        /// Order quantity Q.
        #[serde(default)]
        order_quantity: Option<i64>,
        /// min for min/max.
        #[serde(default)]
        min_qty: Option<i64>,
        /// max for min/max.
        #[serde(default)]
        max_qty: Option<i64>,
        /// Target cycle service level.
        #[serde(default = "default_service_level")]
        service_level: f64,
        /// Order days for (R,S).
        #[serde(default)]
        order_days: Vec<Weekday>,
        /// Low-stock re-arm margin.
        #[serde(default)]
        rearm_margin: i64,
        /// Alert on safety stock instead of the reorder point.
        #[serde(default)]
        alert_on_safety_stock: bool,
        /// False retires the rule.
        #[serde(default = "default_true")]
        active: bool,
        /// Custom attributes as a JSON object.
        #[serde(default)]
        attributes: Option<String>,
    }
}
