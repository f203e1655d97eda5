//! Replenishment: rules (the latest per item-location wins), category default and
//! auto-approval rules, triggers (facts), purchase orders with their lines (written by three
//! topics that each fill their own columns), and the processor's answers: each order's status
//! changes (history and newest state) and the commands it rejected.

use composerp_events::replenishment::{
    AutoApprovalRule, PurchaseOrderApproved, PurchaseOrderCancelled, PurchaseOrderCommandRejected,
    PurchaseOrderCreated, PurchaseOrderLine, PurchaseOrderStatus, PurchaseOrderStatusChanged,
    ReplenishmentDefaultRule, ReplenishmentRule, ReplenishmentTriggered,
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
        "evaluated_on",
        "rule_source",
        "demand_source",
        "supplier_reason",
        "position_before_open_orders",
        "open_order_quantity",
        "on_hand",
        "on_order",
        "in_transit",
        "reserved",
        "backordered",
        "damaged",
        "z",
        "protection_days",
        "review_period_days",
        "lots",
        "raw_need",
        "quantity_after_moq",
        "quantity_after_pack",
        "capped",
        "moq",
        "pack_size",
        "max_order_qty",
        "unit_cost",
        "order_value",
        "po_number",
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
        // A v1 record defaults these to "": not a value, so NULL like the rows before them.
        for (field, v) in [
            ("evaluated_on", &e.evaluated_on),
            ("rule_source", &e.rule_source),
            ("demand_source", &e.demand_source),
            ("supplier_reason", &e.supplier_reason),
        ] {
            r.opt_text(field, Some(v.as_str()).filter(|v| !v.is_empty()))?;
        }
        r.int(e.position_before_open_orders)
            .int(e.open_order_quantity)
            .int(e.on_hand)
            .int(e.on_order)
            .int(e.in_transit)
            .int(e.reserved)
            .int(e.backordered)
            .int(e.damaged)
            .opt_float(e.z)
            .opt_float(e.protection_days)
            .opt_int(e.review_period_days.map(i64::from))
            .opt_int(e.lots)
            .opt_float(e.raw_need)
            .opt_int(e.quantity_after_moq)
            .opt_int(e.quantity_after_pack)
            .bool(e.capped)
            .int(e.moq)
            .int(e.pack_size)
            .opt_int(e.max_order_qty)
            .opt_money(e.unit_cost)
            .opt_money(e.order_value)
            .opt_text("po_number", e.po_number.as_deref())?;
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

/// The newest status of each order, with its lines' received units; a change replaces it only
/// when the order has come at least as far ([`progress`]).
pub struct OrderLifecycle;

impl Table for OrderLifecycle {
    const TOPIC: &'static str = "replenishment.po-status";
    const TABLE: &'static str = "replenishment.purchase_order_lifecycle";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "po_number",
        "location_id",
        "supplier_id",
        "status",
        "previous_status",
        "lines",
        "received_quantity",
        "over_received",
        "command_id",
        "expected_date",
        "status_event_id",
        "status_at",
        "progress",
    ];
    const KEY: &'static [&'static str] = &["tenant_id", "po_number"];
    const VERSION: Version = Version::Newer {
        column: "progress",
        ties_replace: true,
    };
    type Event = PurchaseOrderStatusChanged;

    fn rows(e: &PurchaseOrderStatusChanged, out: &mut Rows<'_>) -> Result<(), RowError> {
        let r = &mut out.row();
        r.text("tenant_id", &e.tenant_id)?
            .text("po_number", &e.po_number)?
            .text("location_id", &e.location_id)?
            .text("supplier_id", &e.supplier_id)?
            .text("status", e.status.symbol())?
            .opt_text("previous_status", e.previous_status.map(|s| s.symbol()))?
            .serialized("lines", &e.lines)?
            .int(received(e))
            .bool(e.over_received)
            .opt_id(e.command_id)
            .opt_date(e.expected_date)
            .id(e.event_id)
            .time(e.occurred_at)
            .text("progress", &progress(e))?;
        Ok(())
    }
}

/// Every status change as published: an order's history, and the change a command caused.
pub struct OrderStatusChanges;

impl Table for OrderStatusChanges {
    const TOPIC: &'static str = "replenishment.po-status";
    const TABLE: &'static str = "replenishment.purchase_order_status_changes";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "event_id",
        "location_id",
        "po_number",
        "supplier_id",
        "status",
        "previous_status",
        "lines",
        "received_quantity",
        "over_received",
        "cause_event_id",
        "command_id",
        "expected_date",
        "occurred_at",
    ];
    const KEY: &'static [&'static str] = &["tenant_id", "event_id"];
    const VERSION: Version = Version::InsertOnly;
    type Event = PurchaseOrderStatusChanged;

    fn rows(e: &PurchaseOrderStatusChanged, out: &mut Rows<'_>) -> Result<(), RowError> {
        let r = &mut out.row();
        r.text("tenant_id", &e.tenant_id)?
            .id(e.event_id)
            .text("location_id", &e.location_id)?
            .text("po_number", &e.po_number)?
            .text("supplier_id", &e.supplier_id)?
            .text("status", e.status.symbol())?
            .opt_text("previous_status", e.previous_status.map(|s| s.symbol()))?
            .serialized("lines", &e.lines)?
            .int(received(e))
            .bool(e.over_received)
            .id(e.cause_event_id)
            .opt_id(e.command_id)
            .opt_date(e.expected_date)
            .time(e.occurred_at);
        Ok(())
    }
}

/// Units received on all lines of the order.
fn received(e: &PurchaseOrderStatusChanged) -> i64 {
    e.lines
        .iter()
        .fold(0i64, |n, l| n.saturating_add(l.received))
}

/// How far an order has come with a change, as a numeric literal whose order is that of the
/// tuple (stage, units received, lines cancelled, event time): fixed-width digit groups. An
/// order only moves forward (DOMAIN.md §8), so a change that has come less far is older news
/// whatever its timestamp, and changes stamped alike (a creation and its auto-approval) still
/// order by stage.
fn progress(e: &PurchaseOrderStatusChanged) -> String {
    use PurchaseOrderStatus as S;
    let stage = match e.status {
        S::DRAFT => 0,
        S::APPROVED => 1,
        S::SENT => 2,
        S::PARTIALLY_RECEIVED => 3,
        S::RECEIVED => 4,
        S::CANCELLED => 5,
    };
    let received = received(e).max(0);
    let cancelled = e
        .lines
        .iter()
        .filter(|l| l.cancelled)
        .count()
        .min(9_999_999_999);
    // Microseconds since the epoch with the sign bit flipped: unsigned, in the same order.
    let time = (e.occurred_at.0 as u64) ^ (1 << 63);
    format!("{stage}{received:019}{cancelled:010}{time:020}")
}

/// Commands the order's owner refused, with why and the order's status then.
pub struct CommandRejections;

impl Table for CommandRejections {
    const TOPIC: &'static str = "replenishment.po-rejections";
    const TABLE: &'static str = "replenishment.purchase_order_command_rejections";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "event_id",
        "location_id",
        "po_number",
        "command_id",
        "action",
        "requested_by",
        "code",
        "detail",
        "status",
        "occurred_at",
    ];
    const KEY: &'static [&'static str] = &["tenant_id", "event_id"];
    const VERSION: Version = Version::InsertOnly;
    type Event = PurchaseOrderCommandRejected;

    fn rows(e: &PurchaseOrderCommandRejected, out: &mut Rows<'_>) -> Result<(), RowError> {
        let r = &mut out.row();
        r.text("tenant_id", &e.tenant_id)?
            .id(e.event_id)
            .text("location_id", &e.location_id)?
            .text("po_number", &e.po_number)?
            .id(e.command_id)
            .text("action", e.action.symbol())?
            .text("requested_by", &e.requested_by)?
            .text("code", &e.code)?
            .text("detail", &e.detail)?
            .opt_text("status", e.status.map(|s| s.symbol()))?
            .time(e.occurred_at);
        Ok(())
    }
}

/// The rules a category's items inherit per kind of location (the newest per category wins).
pub struct DefaultRules;

impl Table for DefaultRules {
    const TOPIC: &'static str = "replenishment.default-rules";
    const TABLE: &'static str = "replenishment.default_rules";
    const COLUMNS: &'static [&'static str] =
        &["tenant_id", "category", "rules", "event_id", "occurred_at"];
    const KEY: &'static [&'static str] = &["tenant_id", "category"];
    const VERSION: Version = Version::Newer {
        column: "occurred_at",
        ties_replace: true,
    };
    type Event = ReplenishmentDefaultRule;

    fn rows(e: &ReplenishmentDefaultRule, out: &mut Rows<'_>) -> Result<(), RowError> {
        let r = &mut out.row();
        r.text("tenant_id", &e.tenant_id)?
            .text("category", &e.category)?
            .serialized("rules", &e.rules)?
            .id(e.event_id)
            .time(e.occurred_at);
        Ok(())
    }
}

/// Each tenant's auto-approval rule (the newest wins).
pub struct AutoApprovalRules;

impl Table for AutoApprovalRules {
    const TOPIC: &'static str = "replenishment.auto-approval";
    const TABLE: &'static str = "replenishment.auto_approval_rules";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "max_value",
        "max_qty",
        "active",
        "event_id",
        "occurred_at",
    ];
    const KEY: &'static [&'static str] = &["tenant_id"];
    const VERSION: Version = Version::Newer {
        column: "occurred_at",
        ties_replace: true,
    };
    type Event = AutoApprovalRule;

    fn rows(e: &AutoApprovalRule, out: &mut Rows<'_>) -> Result<(), RowError> {
        let r = &mut out.row();
        r.text("tenant_id", &e.tenant_id)?
            .money(e.max_value)
            .int(e.max_qty)
            .bool(e.active)
            .id(e.event_id)
            .time(e.occurred_at);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use composerp_events::{Timestamp, samples};

    use super::*;

    fn change(status: PurchaseOrderStatus, received: i64, at: i64) -> PurchaseOrderStatusChanged {
        let mut e = samples::purchase_order_status_changed();
        e.status = status;
        e.lines[0].received = received;
        e.lines[1].received = 0;
        e.occurred_at = Timestamp(at);
        e
    }

    #[test]
    fn progress_orders_by_stage_then_receipts_then_time() {
        use PurchaseOrderStatus as S;
        // Fixed-width digits: text order is numeric order.
        let p = |s, received, at| progress(&change(s, received, at));
        // Stamped alike: the approval is further than the creation.
        assert!(p(S::APPROVED, 0, 5) > p(S::DRAFT, 0, 5));
        // A receipt stamped earlier (the goods' time) is still further than the approval.
        assert!(p(S::PARTIALLY_RECEIVED, 3, 1) > p(S::SENT, 0, 9));
        assert!(p(S::PARTIALLY_RECEIVED, 5, 1) > p(S::PARTIALLY_RECEIVED, 3, 9));
        // Nothing else moved: the later change wins, also before 1970.
        assert!(p(S::SENT, 0, 2) > p(S::SENT, 0, 1));
        assert!(p(S::SENT, 0, 1) > p(S::SENT, 0, -1));
        let mut cancelled = change(S::SENT, 0, 1);
        cancelled.lines[1].cancelled = true;
        assert!(progress(&cancelled) > progress(&change(S::SENT, 0, 9)));
        assert_eq!(progress(&change(S::RECEIVED, i64::MAX, i64::MAX)).len(), 50);
    }
}
