//! Replenishment: rules (the latest per item-location wins), triggers (facts), and purchase
//! orders with their lines, written by three topics that each fill their own columns.

use composerp_events::replenishment::{
    PurchaseOrderApproved, PurchaseOrderCancelled, PurchaseOrderCreated, PurchaseOrderLine,
    ReplenishmentRule, ReplenishmentTriggered,
};

use crate::{
    copy::{RowError, Rows},
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

    fn rows(e: &ReplenishmentRule, out: &mut Rows<'_>) -> Result<(), RowError> {
        let r = &mut out.row();
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

/// Replenishment decisions with their explanation; facts, one per event.
pub struct Triggers;

impl Table for Triggers {
    const TOPIC: &'static str = "replenishment.triggers";
    const TABLE: &'static str = "replenishment.triggers";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "event_id",
        "location_id",
        "item_id",
        "supplier_id",
        "policy",
        "outcome",
        "inventory_position",
        "reorder_level",
        "order_up_to",
        "safety_stock",
        "demand_per_day",
        "demand_std_per_day",
        "lead_time_days",
        "lead_time_std_days",
        "service_level",
        "order_quantity",
        "explanation",
        "source_event_id",
        "occurred_at",
    ];
    const KEY: &'static [&'static str] = &["tenant_id", "event_id"];
    const VERSION: Version = Version::InsertOnly;
    type Event = ReplenishmentTriggered;

    fn rows(e: &ReplenishmentTriggered, out: &mut Rows<'_>) -> Result<(), RowError> {
        let r = &mut out.row();
        r.text("tenant_id", &e.tenant_id)?
            .id(e.event_id)
            .text("location_id", &e.location_id)?
            .text("item_id", &e.item_id)?
            .text("supplier_id", &e.supplier_id)?
            .text("policy", e.policy.symbol())?
            .text("outcome", e.outcome.symbol())?
            .int(e.inventory_position)
            .float(e.reorder_level)
            .opt_float(e.order_up_to)
            .float(e.safety_stock)
            .float(e.demand_per_day)
            .float(e.demand_std_per_day)
            .float(e.lead_time_days)
            .float(e.lead_time_std_days)
            .float(e.service_level)
            .int(e.order_quantity)
            .text("explanation", &e.explanation)?
            .id(e.source_event_id)
            .time(e.occurred_at);
        Ok(())
    }
}

/// Purchase orders as created (status DRAFT or APPROVED, total value, trigger).
pub struct OrdersCreated;

impl Table for OrdersCreated {
    const TOPIC: &'static str = "replenishment.po-created";
    const TABLE: &'static str = "replenishment.purchase_orders";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "po_number",
        "location_id",
        "supplier_id",
        "currency",
        "expected_date",
        "attributes",
        "created_status",
        "total_value",
        "trigger_event_id",
        "created_event_id",
        "created_at",
    ];
    const KEY: &'static [&'static str] = &["tenant_id", "po_number"];
    const VERSION: Version = Version::Newer {
        column: "created_at",
        ties_replace: true,
    };
    type Event = PurchaseOrderCreated;

    fn rows(e: &PurchaseOrderCreated, out: &mut Rows<'_>) -> Result<(), RowError> {
        let r = &mut out.row();
        r.text("tenant_id", &e.tenant_id)?
            .text("po_number", &e.po_number)?
            .text("location_id", &e.location_id)?
            .text("supplier_id", &e.supplier_id)?
            .text("currency", &e.currency)?
            .opt_date(e.expected_date)
            .json("attributes", e.attributes.as_deref())?
            .text("created_status", e.status.symbol())?
            .money(e.total_value)
            .opt_id(e.trigger_event_id)
            .id(e.event_id)
            .time(e.occurred_at);
        Ok(())
    }
}

/// Lines of an order as created.
pub struct OrderLinesCreated;

impl Table for OrderLinesCreated {
    const TOPIC: &'static str = "replenishment.po-created";
    const TABLE: &'static str = "replenishment.purchase_order_lines";
    const COLUMNS: &'static [&'static str] = ORDER_LINE_COLUMNS;
    const KEY: &'static [&'static str] = ORDER_LINE_KEY;
    const VERSION: Version = ORDER_LINE_VERSION;
    type Event = PurchaseOrderCreated;

    fn rows(e: &PurchaseOrderCreated, out: &mut Rows<'_>) -> Result<(), RowError> {
        order_lines(&e.tenant_id, &e.po_number, &e.lines, e.occurred_at, out)
    }
}

/// Approvals: who approved an order, and when.
pub struct OrdersApproved;

impl Table for OrdersApproved {
    const TOPIC: &'static str = "replenishment.po-approved";
    const TABLE: &'static str = "replenishment.purchase_orders";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "po_number",
        "location_id",
        "supplier_id",
        "currency",
        "expected_date",
        "attributes",
        "approved_by",
        "auto_approved",
        "approved_event_id",
        "approved_at",
    ];
    const KEY: &'static [&'static str] = &["tenant_id", "po_number"];
    const VERSION: Version = Version::Newer {
        column: "approved_at",
        ties_replace: true,
    };
    type Event = PurchaseOrderApproved;

    fn rows(e: &PurchaseOrderApproved, out: &mut Rows<'_>) -> Result<(), RowError> {
        let r = &mut out.row();
        r.text("tenant_id", &e.tenant_id)?
            .text("po_number", &e.po_number)?
            .text("location_id", &e.location_id)?
            .text("supplier_id", &e.supplier_id)?
            .text("currency", &e.currency)?
            .opt_date(e.expected_date)
            .json("attributes", e.attributes.as_deref())?
            .text("approved_by", &e.approved_by)?
            .bool(e.auto_approved)
            .id(e.event_id)
            .time(e.occurred_at);
        Ok(())
    }
}

/// Lines of an order as approved.
pub struct OrderLinesApproved;

impl Table for OrderLinesApproved {
    const TOPIC: &'static str = "replenishment.po-approved";
    const TABLE: &'static str = "replenishment.purchase_order_lines";
    const COLUMNS: &'static [&'static str] = ORDER_LINE_COLUMNS;
    const KEY: &'static [&'static str] = ORDER_LINE_KEY;
    const VERSION: Version = ORDER_LINE_VERSION;
    type Event = PurchaseOrderApproved;

    fn rows(e: &PurchaseOrderApproved, out: &mut Rows<'_>) -> Result<(), RowError> {
        order_lines(&e.tenant_id, &e.po_number, &e.lines, e.occurred_at, out)
    }
}

/// Cancelled lines: every line of the order when the event names none.
pub struct OrderLinesCancelled;

impl Table for OrderLinesCancelled {
    const TOPIC: &'static str = "replenishment.po-cancelled";
    const TABLE: &'static str = "replenishment.purchase_order_lines";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "po_number",
        "line_number",
        "item_id",
        "cancelled_by",
        "cancel_reason",
        "cancel_event_id",
        "cancelled_at",
    ];
    const KEY: &'static [&'static str] = ORDER_LINE_KEY;
    const VERSION: Version = Version::Newer {
        column: "cancelled_at",
        ties_replace: true,
    };
    type Event = PurchaseOrderCancelled;

    fn rows(e: &PurchaseOrderCancelled, out: &mut Rows<'_>) -> Result<(), RowError> {
        for (i, item) in e.item_ids.iter().enumerate() {
            // As the ledger reads it: line numbers in item order, 1.. when none are given.
            let line = e.line_numbers.get(i).copied().unwrap_or(i as i32 + 1);
            let r = &mut out.row();
            r.text("tenant_id", &e.tenant_id)?
                .text("po_number", &e.po_number)?
                .int(line.into())
                .text("item_id", item)?
                .text("cancelled_by", &e.cancelled_by)?
                .text("cancel_reason", &e.reason)?
                .id(e.event_id)
                .time(e.occurred_at);
        }
        Ok(())
    }
}

const ORDER_LINE_COLUMNS: &[&str] = &[
    "tenant_id",
    "po_number",
    "line_number",
    "item_id",
    "quantity",
    "unit_cost",
    "lines_at",
];
const ORDER_LINE_KEY: &[&str] = &["tenant_id", "po_number", "line_number"];
const ORDER_LINE_VERSION: Version = Version::Newer {
    column: "lines_at",
    ties_replace: true,
};

fn order_lines(
    tenant: &str,
    po_number: &str,
    lines: &[PurchaseOrderLine],
    at: composerp_events::Timestamp,
    out: &mut Rows<'_>,
) -> Result<(), RowError> {
    for l in lines {
        let r = &mut out.row();
        r.text("tenant_id", tenant)?
            .text("po_number", po_number)?
            .int(l.line_number.into())
            .text("item_id", &l.item_id)?
            .int(l.quantity)
            .money(l.unit_cost)
            .time(at);
    }
    Ok(())
}
