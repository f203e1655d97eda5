//! Replenishment records (`composerp.replenishment.v1`): rules, triggers and purchase orders.

use serde::{Deserialize, Serialize};

use crate::{
    Date, EventId, Money,
    catalog::LocationType,
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
    /// What a planner asks of a purchase order.
    PurchaseOrderAction { APPROVE, CANCEL }
}

/// Day of the week (an order day); defined with the master data that also uses it.
pub use crate::catalog::Weekday;

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
        /// What made the rule run: INVENTORY_UPDATED, FORECAST or REVIEW_DAY.
        #[serde(default)]
        evaluated_on: String,
        /// Which rule applied: the item-location's own or a category default.
        #[serde(default)]
        rule_source: String,
        /// Where the demand rate came from: FORECAST (with its model) or DEMAND_FEATURES.
        #[serde(default)]
        demand_source: String,
        /// Why this supplier: RULE_SUPPLIER, CHEAPEST or ONLY.
        #[serde(default)]
        supplier_reason: String,
        /// Inventory position from the ledger's buckets alone.
        #[serde(default)]
        position_before_open_orders: i64,
        /// Open DRAFT quantity counted in `inventory_position`.
        #[serde(default)]
        open_order_quantity: i64,
        /// Ledger on hand.
        #[serde(default)]
        on_hand: i64,
        /// Ledger on order.
        #[serde(default)]
        on_order: i64,
        /// Ledger in transit.
        #[serde(default)]
        in_transit: i64,
        /// Ledger reserved.
        #[serde(default)]
        reserved: i64,
        /// Ledger backordered.
        #[serde(default)]
        backordered: i64,
        /// Ledger damaged.
        #[serde(default)]
        damaged: i64,
        /// z for the service level (None for min/max).
        #[serde(default)]
        z: Option<f64>,
        /// Protection period P in days (None for min/max).
        #[serde(default)]
        protection_days: Option<f64>,
        /// R, days to the next order day, for (R,S).
        #[serde(default)]
        review_period_days: Option<i32>,
        /// Lots ordered, for (s,Q).
        #[serde(default)]
        lots: Option<i64>,
        /// Units needed before rounding.
        #[serde(default)]
        raw_need: Option<f64>,
        /// ceil(need) raised to the MOQ.
        #[serde(default)]
        quantity_after_moq: Option<i64>,
        /// Then rounded up to whole packs.
        #[serde(default)]
        quantity_after_pack: Option<i64>,
        /// The maximum order quantity cut the quantity.
        #[serde(default)]
        capped: bool,
        /// MOQ used.
        #[serde(default)]
        moq: i64,
        /// Pack size used.
        #[serde(default)]
        pack_size: i64,
        /// Maximum order quantity, if any.
        #[serde(default)]
        max_order_qty: Option<i64>,
        /// Unit cost of the supplier-item.
        #[serde(default)]
        unit_cost: Option<Money>,
        /// order_quantity x unit_cost.
        #[serde(default)]
        order_value: Option<Money>,
        /// Purchase order the line goes into.
        #[serde(default)]
        po_number: Option<String>,
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

event! {
    /// A planner's approve or cancel, applied in order by the order's owner; `event_id` is the
    /// command id (PURCHASE_ORDER_COMMAND).
    PurchaseOrderCommand = "composerp.replenishment.v1.PurchaseOrderCommand", key(location = location_id) {
        /// Receiving location of the order; part of the key.
        location_id: String,
        /// Purchase order number.
        po_number: String,
        /// Approve or cancel.
        action: PurchaseOrderAction,
        /// Who asked.
        requested_by: String,
        /// Why (cancel).
        #[serde(default)]
        reason: Option<String>,
        /// Lines to cancel; empty means every open line.
        #[serde(default)]
        line_numbers: Vec<i32>,
        /// The status the planner saw: the command is rejected if the order moved since.
        #[serde(default)]
        expected_status: Option<PurchaseOrderStatus>,
    }
}

event! {
    /// A command that no longer applied and changed nothing (PURCHASE_ORDER_COMMAND_REJECTED).
    PurchaseOrderCommandRejected = "composerp.replenishment.v1.PurchaseOrderCommandRejected", key(location = location_id) {
        /// Receiving location; part of the key.
        location_id: String,
        /// Purchase order number.
        po_number: String,
        /// The rejected command's event id.
        command_id: EventId,
        /// What was asked.
        action: PurchaseOrderAction,
        /// Who asked.
        requested_by: String,
        /// Why, as a code (UNKNOWN_ORDER, ALREADY_APPROVED, ALREADY_CANCELLED, ...).
        code: String,
        /// Why, for a person.
        detail: String,
        /// The order's status when the command arrived.
        #[serde(default)]
        status: Option<PurchaseOrderStatus>,
    }
}

/// One line's ordered, received and cancelled state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurchaseOrderLineState {
    /// 1-based line number.
    pub line_number: i32,
    /// Item.
    pub item_id: String,
    /// Units ordered.
    pub ordered: i64,
    /// Units received so far.
    pub received: i64,
    /// Line cancelled.
    pub cancelled: bool,
    /// More received than ordered (allowed, flagged).
    pub over_received: bool,
}

event! {
    /// A purchase order moved in its lifecycle or received goods
    /// (PURCHASE_ORDER_STATUS_CHANGED).
    PurchaseOrderStatusChanged = "composerp.replenishment.v1.PurchaseOrderStatusChanged", key(location = location_id) {
        /// Receiving location; part of the key.
        location_id: String,
        /// Purchase order number.
        po_number: String,
        /// Supplier.
        supplier_id: String,
        /// Status after the change.
        status: PurchaseOrderStatus,
        /// Status before (None for a new order).
        #[serde(default)]
        previous_status: Option<PurchaseOrderStatus>,
        /// Every line with what it has received.
        lines: Vec<PurchaseOrderLineState>,
        /// Some line received more than ordered.
        over_received: bool,
        /// Event that caused the change: a trigger, command or receipt.
        cause_event_id: EventId,
        /// Command applied, when a planner caused it.
        #[serde(default)]
        command_id: Option<EventId>,
        /// Expected delivery day.
        #[serde(default)]
        expected_date: Option<Date>,
    }
}

/// The rule a category's items inherit at one kind of location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultRule {
    /// Kind of location it applies to.
    pub location_type: LocationType,
    /// Preferred supplier; None picks the cheapest valid supplier-item.
    #[serde(default)]
    pub supplier_id: Option<String>,
    /// Policy.
    pub policy: ReplenishmentPolicy,
    /// Lot size Q for (s,Q) and (s,S).
    #[serde(default)]
    pub order_quantity: Option<i64>,
    /// min for min/max.
    #[serde(default)]
    pub min_qty: Option<i64>,
    /// max for min/max.
    #[serde(default)]
    pub max_qty: Option<i64>,
    /// Target cycle service level.
    #[serde(default = "default_service_level")]
    pub service_level: f64,
    /// Order days for (R,S); empty uses the supplier-item's.
    #[serde(default)]
    pub order_days: Vec<Weekday>,
    /// False retires the rule.
    #[serde(default = "default_true")]
    pub active: bool,
}

event! {
    /// The rules a category's items inherit per kind of location unless the item-location has
    /// its own (master data); category `*` covers every category without its own.
    ReplenishmentDefaultRule = "composerp.replenishment.v1.ReplenishmentDefaultRule", key(category = category) {
        /// Item category, or `*`; part of the key.
        category: String,
        /// One rule per kind of location.
        rules: Vec<DefaultRule>,
    }
}

event! {
    /// A tenant's rule for approving small purchase orders without a person (master data).
    AutoApprovalRule = "composerp.replenishment.v1.AutoApprovalRule", key() {
        /// Largest order value approved automatically.
        max_value: Money,
        /// Largest order quantity (all lines) approved automatically.
        max_qty: i64,
        /// False: every order waits for a planner.
        #[serde(default = "default_true")]
        active: bool,
    }
}
