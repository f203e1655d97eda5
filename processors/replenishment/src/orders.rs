//! Purchase orders: the day's basket grouped into orders at the location's end of day, and the
//! lifecycle this processor alone moves them through (approve and cancel commands, receipts).
//!
//! DRAFT → APPROVED → SENT → PARTIALLY_RECEIVED → RECEIVED, or CANCELLED from any open state.
//! An approved order is handed to the supplier feed (the `replenishment.po-approved` topic) at
//! once, so it becomes SENT in the same step.

use composerp_events::{
    Date, EventId, Money, Timestamp,
    procurement::PurchaseOrderReceived,
    replenishment::{
        PurchaseOrderAction, PurchaseOrderApproved, PurchaseOrderCancelled, PurchaseOrderCommand,
        PurchaseOrderCommandRejected, PurchaseOrderCreated, PurchaseOrderLine,
        PurchaseOrderLineState, PurchaseOrderStatus as Status, PurchaseOrderStatusChanged,
    },
};

use crate::{
    evaluate::Ctx,
    state::{Approval, BasketLine, Line, Order, Slot, item_key, order_key, po_number},
};

const SOURCE: &str = "composerp:replenishment";
/// How many command ids an order remembers to ignore a repeated command.
const REMEMBERED_COMMANDS: usize = 32;

fn id(parts: &[&[u8]]) -> EventId {
    EventId::from_name_parts(parts)
}

/// Creates the day's orders from the basket: one per supplier, lines by item (an item
/// triggered twice is one line), approved at once when the tenant's rule allows.
pub fn release(
    ctx: Ctx<'_, '_>,
    tenant: &str,
    location: &str,
    day: i32,
    at: Timestamp,
    basket: Vec<BasketLine>,
) {
    let mut basket = basket;
    basket.sort_by(|a, b| (&a.supplier, &a.item).cmp(&(&b.supplier, &b.item)));
    let mut groups: Vec<Vec<BasketLine>> = Vec::new();
    for line in basket {
        match groups.last_mut() {
            Some(g) if g[0].supplier == line.supplier => g.push(line),
            _ => groups.push(vec![line]),
        }
    }
    let auto = ctx.tables().auto_approval(tenant);
    for group in groups {
        let supplier = group[0].supplier.clone();
        let number = po_number(location, &supplier, day);
        let key = order_key(tenant, &number);
        if ctx.peek(&key).is_some() {
            // Already created from this basket before a crash: the replay publishes nothing new.
            continue;
        }
        let mut lines: Vec<Line> = Vec::new();
        let mut lead_time: f64 = 0.0;
        for b in &group {
            lead_time = lead_time.max(b.lead_time_days);
            match lines.last_mut() {
                Some(l) if l.item == b.item => l.ordered += b.qty,
                _ => lines.push(Line {
                    line_number: lines.len() as i32 + 1,
                    item: b.item.clone(),
                    ordered: b.qty,
                    received: 0,
                    cancelled: false,
                    unit_cost: b.unit_cost,
                }),
            }
        }
        let mut order = Order {
            location: location.to_owned(),
            supplier,
            currency: group[0].currency.clone(),
            status: Status::DRAFT,
            lines,
            order_day: day,
            expected_day: day + lead_time.ceil() as i32,
            commands: Vec::new(),
            applied: Default::default(),
        };
        let (qty, value) = order.open_totals();
        let approved = auto.is_some_and(|a| qty <= a.max_qty && value <= a.max_value);
        let created = PurchaseOrderCreated {
            event_id: id(&[b"po-created", tenant.as_bytes(), number.as_bytes()]),
            tenant_id: tenant.to_owned(),
            occurred_at: at,
            produced_at: ctx.now(),
            source: SOURCE.into(),
            location_id: location.to_owned(),
            po_number: number.clone(),
            supplier_id: order.supplier.clone(),
            currency: order.currency.clone(),
            lines: event_lines(&order),
            status: Status::DRAFT,
            total_value: value,
            trigger_event_id: Some(group[0].trigger),
            expected_date: Some(Date(order.expected_day)),
            attributes: None,
        };
        ctx.emit(&created);
        changed(
            ctx,
            tenant,
            &number,
            &order,
            None,
            created.event_id,
            None,
            at,
        );
        for l in &order.lines {
            move_open(
                ctx,
                tenant,
                location,
                &l.item,
                &order.supplier,
                Some(&number),
            );
        }
        if approved {
            approve(
                ctx,
                tenant,
                &number,
                &mut order,
                "rule:auto-approval",
                true,
                None,
                at,
            );
        }
        metrics::counter!("composerp_purchase_orders_created_total", "auto_approved" => if approved { "true" } else { "false" })
            .increment(1);
        *ctx.state(&key) = Slot::Order(Box::new(order));
    }
}

fn event_lines(order: &Order) -> Vec<PurchaseOrderLine> {
    order
        .lines
        .iter()
        .filter(|l| !l.cancelled)
        .map(|l| PurchaseOrderLine {
            line_number: l.line_number,
            item_id: l.item.clone(),
            quantity: l.ordered,
            unit_cost: l.unit_cost,
        })
        .collect()
}

/// Publishes the order's new state.
#[allow(clippy::too_many_arguments)]
fn changed(
    ctx: Ctx<'_, '_>,
    tenant: &str,
    number: &str,
    order: &Order,
    previous: Option<Status>,
    cause: EventId,
    command: Option<EventId>,
    at: Timestamp,
) {
    let lines: Vec<PurchaseOrderLineState> = order
        .lines
        .iter()
        .map(|l| PurchaseOrderLineState {
            line_number: l.line_number,
            item_id: l.item.clone(),
            ordered: l.ordered,
            received: l.received,
            cancelled: l.cancelled,
            over_received: l.received > l.ordered,
        })
        .collect();
    let over_received = lines.iter().any(|l| l.over_received);
    let event = PurchaseOrderStatusChanged {
        event_id: id(&[
            b"po-status",
            tenant.as_bytes(),
            number.as_bytes(),
            cause.0.as_bytes(),
            order.status.symbol().as_bytes(),
        ]),
        tenant_id: tenant.to_owned(),
        occurred_at: at,
        produced_at: ctx.now(),
        source: SOURCE.into(),
        location_id: order.location.clone(),
        po_number: number.to_owned(),
        supplier_id: order.supplier.clone(),
        status: order.status,
        previous_status: previous,
        lines,
        over_received,
        cause_event_id: cause,
        command_id: command,
        expected_date: Some(Date(order.expected_day)),
    };
    ctx.emit(&event);
}

/// Moves an item's open basket quantity for `supplier` onto the created order.
fn move_open(
    ctx: Ctx<'_, '_>,
    tenant: &str,
    location: &str,
    item: &str,
    supplier: &str,
    number: Option<&str>,
) {
    if let Slot::Item(s) = ctx.state(&item_key(tenant, location, item)) {
        for l in s
            .open
            .iter_mut()
            .filter(|l| l.po_number.is_none() && l.supplier == supplier)
        {
            l.po_number = number.map(str::to_owned);
        }
    }
}

/// DRAFT → APPROVED → SENT: publishes the approval (the ledger puts it on order) and marks its
/// lines as on their way into the ledger's position.
#[allow(clippy::too_many_arguments)]
fn approve(
    ctx: Ctx<'_, '_>,
    tenant: &str,
    number: &str,
    order: &mut Order,
    by: &str,
    auto: bool,
    command: Option<EventId>,
    at: Timestamp,
) {
    let cause =
        command.unwrap_or_else(|| id(&[b"auto-approval", tenant.as_bytes(), number.as_bytes()]));
    let approved = PurchaseOrderApproved {
        event_id: id(&[b"po-approved", tenant.as_bytes(), number.as_bytes()]),
        tenant_id: tenant.to_owned(),
        occurred_at: at,
        produced_at: ctx.now(),
        source: SOURCE.into(),
        location_id: order.location.clone(),
        po_number: number.to_owned(),
        supplier_id: order.supplier.clone(),
        currency: order.currency.clone(),
        lines: event_lines(order),
        approved_by: by.to_owned(),
        auto_approved: auto,
        expected_date: Some(Date(order.expected_day)),
        attributes: None,
    };
    ctx.emit(&approved);
    let previous = order.status;
    order.status = Status::APPROVED;
    changed(
        ctx,
        tenant,
        number,
        order,
        Some(previous),
        cause,
        command,
        at,
    );
    order.status = Status::SENT;
    changed(
        ctx,
        tenant,
        number,
        order,
        Some(Status::APPROVED),
        approved.event_id,
        command,
        at,
    );
    for l in order.lines.iter().filter(|l| !l.cancelled) {
        if let Slot::Item(s) = ctx.state(&item_key(tenant, &order.location, &l.item)) {
            let on_order = s.buckets.map_or(0, |b| b.on_order);
            for open in s
                .open
                .iter_mut()
                .filter(|o| o.po_number.as_deref() == Some(number))
            {
                open.approval = Some(Approval {
                    event_id: approved.event_id,
                    on_order_before: on_order,
                });
            }
        }
    }
}

/// Drops an order's open lines from its items (cancelled, or received).
fn forget_open(ctx: Ctx<'_, '_>, tenant: &str, number: &str, order: &Order, items: &[&str]) {
    for item in items {
        if let Slot::Item(s) = ctx.state(&item_key(tenant, &order.location, item)) {
            s.open.retain(|o| o.po_number.as_deref() != Some(number));
        }
    }
}

/// Applies a planner's command, or publishes why it no longer applies.
pub fn command(ctx: Ctx<'_, '_>, c: &PurchaseOrderCommand) {
    let key = order_key(&c.tenant_id, &c.po_number);
    let source = ctx.source();
    let Some(Slot::Order(mut order)) = ctx.peek(&key).cloned() else {
        return reject(
            ctx,
            c,
            "UNKNOWN_ORDER",
            format!("no purchase order {} at {}", c.po_number, c.location_id),
            None,
        );
    };
    if order.applied.reflects(source) || order.commands.contains(&c.event_id) {
        return;
    }
    order.applied.mark(source);
    order.commands.push(c.event_id);
    if order.commands.len() > REMEMBERED_COMMANDS {
        order.commands.remove(0);
    }
    let status = order.status;
    let verdict = match (c.action, status) {
        // The planner decided on a state the order has left: of two racing commands that saw
        // the same state, the later one is rejected rather than applied on top.
        (_, now) if c.expected_status.is_some_and(|seen| seen != now) => Err((
            "STATUS_CHANGED",
            format!(
                "{} is {} now, not {} as when the command was given",
                c.po_number,
                now.symbol(),
                c.expected_status.map_or("", |s| s.symbol())
            ),
        )),
        (_, Status::CANCELLED) => Err((
            "ALREADY_CANCELLED",
            format!("{} was cancelled before this command", c.po_number),
        )),
        (_, Status::RECEIVED) => Err(("CLOSED", format!("{} is fully received", c.po_number))),
        (PurchaseOrderAction::APPROVE, Status::DRAFT) => Ok(()),
        (PurchaseOrderAction::APPROVE, _) => Err((
            "ALREADY_APPROVED",
            format!("{} is already {}", c.po_number, status.symbol()),
        )),
        (PurchaseOrderAction::CANCEL, _) => Ok(()),
    };
    if let Err((code, detail)) = verdict {
        *ctx.state(&key) = Slot::Order(order);
        return reject(ctx, c, code, detail, Some(status));
    }
    match c.action {
        PurchaseOrderAction::APPROVE => {
            approve(
                ctx,
                &c.tenant_id,
                &c.po_number,
                &mut order,
                &c.requested_by,
                false,
                Some(c.event_id),
                c.occurred_at,
            );
        }
        PurchaseOrderAction::CANCEL => {
            let open: Vec<i32> = order
                .lines
                .iter()
                .filter(|l| !l.cancelled)
                .map(|l| l.line_number)
                .collect();
            let chosen: Vec<i32> = if c.line_numbers.is_empty() {
                open.clone()
            } else {
                c.line_numbers.clone()
            };
            if let Some(n) = chosen.iter().find(|n| !open.contains(n)) {
                *ctx.state(&key) = Slot::Order(order);
                return reject(
                    ctx,
                    c,
                    "UNKNOWN_LINE",
                    format!("line {n} is not an open line of {}", c.po_number),
                    Some(status),
                );
            }
            if chosen.is_empty() {
                *ctx.state(&key) = Slot::Order(order);
                return reject(
                    ctx,
                    c,
                    "NO_OPEN_LINE",
                    format!("{} has no open line", c.po_number),
                    Some(status),
                );
            }
            let mut item_ids: Vec<String> = Vec::with_capacity(chosen.len());
            for l in order
                .lines
                .iter_mut()
                .filter(|l| chosen.contains(&l.line_number))
            {
                l.cancelled = true;
                item_ids.push(l.item.clone());
            }
            let items: Vec<&str> = item_ids.iter().map(String::as_str).collect();
            let cancelled = PurchaseOrderCancelled {
                event_id: id(&[
                    b"po-cancelled",
                    c.tenant_id.as_bytes(),
                    c.po_number.as_bytes(),
                    c.event_id.0.as_bytes(),
                ]),
                tenant_id: c.tenant_id.clone(),
                occurred_at: c.occurred_at,
                produced_at: ctx.now(),
                source: SOURCE.into(),
                location_id: order.location.clone(),
                po_number: c.po_number.clone(),
                supplier_id: order.supplier.clone(),
                line_numbers: chosen.clone(),
                cancelled_by: c.requested_by.clone(),
                reason: c.reason.clone().unwrap_or_else(|| "cancelled".into()),
                item_ids: item_ids.clone(),
            };
            ctx.emit(&cancelled);
            if order.lines.iter().all(|l| l.cancelled) {
                order.status = Status::CANCELLED;
            }
            changed(
                ctx,
                &c.tenant_id,
                &c.po_number,
                &order,
                Some(status),
                c.event_id,
                Some(c.event_id),
                c.occurred_at,
            );
            forget_open(ctx, &c.tenant_id, &c.po_number, &order, &items);
        }
    }
    *ctx.state(&key) = Slot::Order(order);
}

fn reject(
    ctx: Ctx<'_, '_>,
    c: &PurchaseOrderCommand,
    code: &str,
    detail: String,
    status: Option<Status>,
) {
    metrics::counter!("composerp_purchase_order_commands_rejected_total", "code" => code.to_owned()).increment(1);
    let event = PurchaseOrderCommandRejected {
        event_id: id(&[
            b"po-command-rejected",
            c.tenant_id.as_bytes(),
            c.event_id.0.as_bytes(),
        ]),
        tenant_id: c.tenant_id.clone(),
        occurred_at: c.occurred_at,
        produced_at: ctx.now(),
        source: SOURCE.into(),
        location_id: c.location_id.clone(),
        po_number: c.po_number.clone(),
        command_id: c.event_id,
        action: c.action,
        requested_by: c.requested_by.clone(),
        code: code.to_owned(),
        detail,
        status,
    };
    ctx.emit(&event);
}

/// Advances an order this processor owns by a receipt; over-receipts are allowed and flagged.
/// Receipts against orders created elsewhere are the ledger's alone.
pub fn receipt(ctx: Ctx<'_, '_>, r: &PurchaseOrderReceived) {
    let key = order_key(&r.tenant_id, &r.po_number);
    let source = ctx.source();
    let Some(Slot::Order(mut order)) = ctx.peek(&key).cloned() else {
        return;
    };
    if order.applied.reflects(source) {
        return;
    }
    order.applied.mark(source);
    let mut items: Vec<String> = Vec::new();
    for rl in &r.lines {
        if let Some(l) = order
            .lines
            .iter_mut()
            .find(|l| l.line_number == rl.po_line_number)
        {
            l.received = l.received.saturating_add(rl.quantity.max(0));
            items.push(l.item.clone());
        }
    }
    if items.is_empty() {
        // No line of this order: nothing moved, nothing to publish.
        *ctx.state(&key) = Slot::Order(order);
        return;
    }
    let previous = order.status;
    if !matches!(previous, Status::CANCELLED | Status::RECEIVED) {
        let open = order.lines.iter().filter(|l| !l.cancelled);
        order.status = if open.clone().all(|l| l.received >= l.ordered) {
            Status::RECEIVED
        } else if order.lines.iter().any(|l| l.received > 0) {
            Status::PARTIALLY_RECEIVED
        } else {
            previous
        };
    }
    if order.lines.iter().any(|l| l.received > l.ordered) {
        metrics::counter!("composerp_purchase_order_over_receipts_total").increment(1);
    }
    changed(
        ctx,
        &r.tenant_id,
        &r.po_number,
        &order,
        Some(previous),
        r.event_id,
        None,
        r.occurred_at,
    );
    let items: Vec<&str> = items.iter().map(String::as_str).collect();
    forget_open(ctx, &r.tenant_id, &r.po_number, &order, &items);
    *ctx.state(&key) = Slot::Order(order);
}

/// Value of `qty` units at `unit_cost`, saturating.
pub fn value(qty: i64, unit_cost: Money) -> Money {
    Money(qty.saturating_mul(unit_cost.0))
}
