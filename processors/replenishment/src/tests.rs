//! The processor through the test driver: triggers, orders, commands, receipts and replays.

use composerp_events::{
    EventId, Money, Timestamp,
    catalog::LocationType,
    forecasting::DemandFeaturesUpdated,
    inventory::InventoryUpdated,
    procurement::{PurchaseOrderReceived, ReceiptLine},
    replenishment::{
        AutoApprovalRule, PurchaseOrderAction, PurchaseOrderApproved, PurchaseOrderCancelled,
        PurchaseOrderCommand, PurchaseOrderCommandRejected, PurchaseOrderCreated,
        PurchaseOrderStatus, PurchaseOrderStatusChanged, ReplenishmentPolicy,
        ReplenishmentTriggered, TriggerOutcome, Weekday,
    },
    samples,
};
use composerp_runtime::driver::TestDriver;

use crate::{Replenishment, ReplenishmentInput as In};

/// 2024-05-01 (a Wednesday) 08:00 UTC, 10:00 in Berlin.
const T0: i64 = 1_714_550_400_000_000;
const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;

fn at(offset: i64) -> Timestamp {
    Timestamp(T0 + offset)
}

/// A Berlin store, an item of category produce, one supplier with the first reference case's
/// terms (L 5 ± 1 days, MOQ 24, pack 24, 2.50 a unit) and an (s,Q) rule with Q = 96 at 95 %.
fn driver() -> TestDriver<Replenishment> {
    let mut d = TestDriver::new(Replenishment);
    d.table(&samples::location());
    d.table(&samples::item());
    d.table(&samples::supplier());
    let mut si = samples::supplier_item();
    si.lead_time_mean_days = 5.0;
    si.lead_time_std_days = 1.0;
    si.moq = 24;
    si.pack_size = 24;
    si.max_order_qty = None;
    si.unit_cost = Money(25_000);
    si.order_days = vec![];
    d.table(&si);
    d.table(&rule(ReplenishmentPolicy::S_Q));
    d
}

fn rule(policy: ReplenishmentPolicy) -> composerp_events::replenishment::ReplenishmentRule {
    let mut r = samples::replenishment_rule();
    r.policy = policy;
    r.order_quantity = Some(96);
    r.service_level = 0.95;
    r.order_days = vec![];
    r
}

/// Demand features of 12 ± 4 a day.
fn features(offset: i64) -> In {
    let mut f: DemandFeaturesUpdated = samples::demand_features_updated();
    f.event_id = EventId::from_name(&format!("features{offset}"));
    f.occurred_at = at(offset);
    f.mean_28 = Some(12.0);
    f.std_28 = Some(4.0);
    In::Features(f)
}

fn stock(offset: i64, on_hand: i64, on_order: i64, cause: EventId) -> In {
    let mut u: InventoryUpdated = samples::inventory_updated();
    u.event_id = EventId::from_name(&format!("stock{offset}-{on_hand}-{on_order}"));
    u.occurred_at = at(offset);
    u.on_hand = on_hand;
    u.on_order = on_order;
    u.in_transit = 0;
    u.reserved = 3;
    u.backordered = 0;
    u.damaged = 0;
    u.last_source_event_id = cause;
    In::Stock(u)
}

fn command(offset: i64, po: &str, action: PurchaseOrderAction, n: &str) -> In {
    let mut c: PurchaseOrderCommand = samples::purchase_order_command();
    c.event_id = EventId::from_name(n);
    c.occurred_at = at(offset);
    c.po_number = po.into();
    c.action = action;
    c.line_numbers = vec![];
    c.expected_status = None;
    In::Command(c)
}

/// A command given by a planner who saw the order in `seen`.
fn seen(mut c: In, seen: PurchaseOrderStatus) -> In {
    if let In::Command(c) = &mut c {
        c.expected_status = Some(seen);
    }
    c
}

#[test]
fn of_an_approve_and_a_cancel_that_saw_the_same_draft_the_later_is_rejected() {
    let mut d = driver();
    d.pipe([features(0), stock(HOUR, 40, 20, EventId::NIL)]);
    d.pipe([stock(DAY, 40, 20, EventId::NIL)]);
    let draft = PurchaseOrderStatus::DRAFT;
    d.pipe([
        seen(
            command(DAY + HOUR, PO, PurchaseOrderAction::APPROVE, "approve"),
            draft,
        ),
        seen(
            command(DAY + HOUR, PO, PurchaseOrderAction::CANCEL, "cancel"),
            draft,
        ),
    ]);
    assert_eq!(d.outputs::<PurchaseOrderApproved>().len(), 1);
    assert!(d.outputs::<PurchaseOrderCancelled>().is_empty());
    let rejected = d.outputs::<PurchaseOrderCommandRejected>();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].code, "STATUS_CHANGED");
    assert_eq!(rejected[0].command_id, EventId::from_name("cancel"));
    assert_eq!(rejected[0].status, Some(PurchaseOrderStatus::SENT));
    // A cancel given after seeing the order sent applies.
    d.pipe([seen(
        command(
            DAY + 2 * HOUR,
            PO,
            PurchaseOrderAction::CANCEL,
            "cancel-sent",
        ),
        PurchaseOrderStatus::SENT,
    )]);
    assert_eq!(d.outputs::<PurchaseOrderCancelled>().len(), 1);
    assert_eq!(statuses(&d).last(), Some(&PurchaseOrderStatus::CANCELLED));
}

fn receipt(offset: i64, po: &str, qty: i64, n: &str) -> In {
    let mut r: PurchaseOrderReceived = samples::purchase_order_received();
    r.event_id = EventId::from_name(n);
    r.occurred_at = at(offset);
    r.location_id = "s1".into();
    r.po_number = po.into();
    r.lines = vec![ReceiptLine {
        line_number: 1,
        po_line_number: 1,
        item_id: "i1".into(),
        quantity: qty,
        unit_cost: Money(25_000),
        lot_number: None,
        expiry_date: None,
    }];
    In::Receipt(r)
}

const PO: &str = "PO-s1-sup1-20240501";

fn statuses(d: &TestDriver<Replenishment>) -> Vec<PurchaseOrderStatus> {
    d.outputs::<PurchaseOrderStatusChanged>()
        .iter()
        .map(|s| s.status)
        .collect()
}

#[test]
fn an_s_q_trigger_explains_itself_and_joins_the_days_order() {
    let mut d = driver();
    d.pipe([features(0), stock(HOUR, 40, 20, EventId::NIL)]);
    let t = d.outputs::<ReplenishmentTriggered>();
    assert_eq!(t.len(), 1);
    let t = &t[0];
    // The first reference case: IP 57 < s 84.62, one lot of 96.
    assert_eq!(t.outcome, TriggerOutcome::ORDER);
    assert_eq!((t.inventory_position, t.order_quantity), (57, 96));
    assert!((t.reorder_level - 84.617_914_893_779_54).abs() < 1e-9);
    assert!((t.safety_stock - 24.617_914_893_779_54).abs() < 1e-9);
    assert_eq!(t.lots, Some(1));
    assert_eq!((t.on_hand, t.on_order, t.reserved), (40, 20, 3));
    assert_eq!(t.rule_source, "item-location");
    assert_eq!(t.demand_source, "DEMAND_FEATURES");
    assert_eq!(t.supplier_reason, "RULE_SUPPLIER");
    assert_eq!(t.evaluated_on, "INVENTORY_UPDATED");
    assert_eq!(t.po_number.as_deref(), Some(PO));
    assert_eq!(t.order_value, Some(Money(96 * 25_000)));
    assert!(t.explanation.contains("57"), "{}", t.explanation);

    // The open line counts: the next update below s is suppressed once, then quiet.
    d.pipe([stock(2 * HOUR, 38, 20, EventId::NIL)]);
    d.pipe([stock(3 * HOUR, 36, 20, EventId::NIL)]);
    let t = d.outputs::<ReplenishmentTriggered>();
    assert_eq!(t.len(), 2, "{t:#?}");
    assert_eq!(t[1].outcome, TriggerOutcome::SUPPRESSED_OPEN_ORDER);
    assert_eq!(
        (t[1].position_before_open_orders, t[1].open_order_quantity),
        (55, 96)
    );
    assert_eq!(t[1].order_quantity, 0);
    assert!(
        d.outputs::<PurchaseOrderCreated>().is_empty(),
        "released at the end of day"
    );

    // The next morning's update closes the day: one DRAFT order (no auto-approval rule).
    d.pipe([stock(DAY, 36, 20, EventId::NIL)]);
    let created = d.outputs::<PurchaseOrderCreated>();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].po_number, PO);
    assert_eq!(created[0].status, PurchaseOrderStatus::DRAFT);
    assert_eq!(created[0].lines.len(), 1);
    assert_eq!(created[0].lines[0].quantity, 96);
    assert_eq!(created[0].total_value, Money(96 * 25_000));
    assert_eq!(created[0].expected_date.map(|d| d.0), Some(19_844 + 5));
    assert_eq!(statuses(&d), [PurchaseOrderStatus::DRAFT]);
}

#[test]
fn a_cancel_racing_an_approve_wins_once_and_the_loser_is_rejected() {
    let mut d = driver();
    d.pipe([features(0), stock(HOUR, 40, 20, EventId::NIL)]);
    d.pipe([stock(DAY, 40, 20, EventId::NIL)]);
    d.pipe([
        command(DAY + HOUR, PO, PurchaseOrderAction::CANCEL, "cancel"),
        command(DAY + HOUR, PO, PurchaseOrderAction::APPROVE, "approve"),
        command(DAY + HOUR, PO, PurchaseOrderAction::CANCEL, "cancel-again"),
        command(
            DAY + HOUR,
            "PO-nope",
            PurchaseOrderAction::APPROVE,
            "unknown",
        ),
    ]);
    assert_eq!(d.outputs::<PurchaseOrderCancelled>().len(), 1);
    assert!(d.outputs::<PurchaseOrderApproved>().is_empty());
    let rejected = d.outputs::<PurchaseOrderCommandRejected>();
    let codes: Vec<(&str, EventId)> = rejected
        .iter()
        .map(|r| (r.code.as_str(), r.command_id))
        .collect();
    assert_eq!(
        codes,
        [
            ("ALREADY_CANCELLED", EventId::from_name("approve")),
            ("ALREADY_CANCELLED", EventId::from_name("cancel-again")),
            ("UNKNOWN_ORDER", EventId::from_name("unknown")),
        ]
    );
    assert_eq!(
        statuses(&d),
        [PurchaseOrderStatus::DRAFT, PurchaseOrderStatus::CANCELLED]
    );
    // The cancelled line no longer counts: the position orders again.
    d.pipe([stock(DAY + 2 * HOUR, 30, 20, EventId::NIL)]);
    let t = d.outputs::<ReplenishmentTriggered>();
    assert_eq!(t.last().map(|t| t.outcome), Some(TriggerOutcome::ORDER));
}

#[test]
fn approval_sends_the_order_and_receipts_advance_it_flagging_over_receipts() {
    let mut d = driver();
    d.pipe([features(0), stock(HOUR, 40, 20, EventId::NIL)]);
    d.pipe([stock(DAY, 40, 20, EventId::NIL)]);
    d.pipe([
        command(DAY + HOUR, PO, PurchaseOrderAction::APPROVE, "approve"),
        command(
            DAY + HOUR,
            PO,
            PurchaseOrderAction::APPROVE,
            "approve-twice",
        ),
    ]);
    let approved = d.outputs::<PurchaseOrderApproved>();
    assert_eq!(approved.len(), 1);
    assert!(!approved[0].auto_approved);
    let rejected = d.outputs::<PurchaseOrderCommandRejected>();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].code, "ALREADY_APPROVED");
    assert_eq!(rejected[0].status, Some(PurchaseOrderStatus::SENT));
    let applied = d.outputs::<PurchaseOrderStatusChanged>();
    assert_eq!(
        applied[1].command_id,
        Some(EventId::from_name("approve")),
        "the status change names the command it applied"
    );

    // Until the ledger shows the approval on order, the line still counts as open.
    d.pipe([stock(DAY + 2 * HOUR, 30, 20, EventId::NIL)]);
    let orders = |d: &TestDriver<Replenishment>| {
        d.outputs::<ReplenishmentTriggered>()
            .iter()
            .filter(|t| t.outcome == TriggerOutcome::ORDER)
            .count()
    };
    assert_eq!(orders(&d), 1);
    d.pipe([stock(DAY + 3 * HOUR, 30, 116, approved[0].event_id)]);
    assert_eq!(orders(&d), 1, "IP 143 with the order on the ledger's books");

    d.pipe([receipt(3 * DAY, PO, 50, "gr1")]);
    d.pipe([receipt(4 * DAY, PO, 60, "gr2")]);
    let s = d.outputs::<PurchaseOrderStatusChanged>();
    let tail: Vec<(PurchaseOrderStatus, i64, bool)> = s
        .iter()
        .skip(3)
        .map(|s| (s.status, s.lines[0].received, s.over_received))
        .collect();
    assert_eq!(
        tail,
        [
            (PurchaseOrderStatus::PARTIALLY_RECEIVED, 50, false),
            (PurchaseOrderStatus::RECEIVED, 110, true),
        ]
    );
    d.pipe([command(
        5 * DAY,
        PO,
        PurchaseOrderAction::CANCEL,
        "late-cancel",
    )]);
    let rejected = d.outputs::<PurchaseOrderCommandRejected>();
    assert_eq!(rejected.last().map(|r| r.code.as_str()), Some("CLOSED"));
}

#[test]
fn the_tenants_rule_approves_small_orders_at_creation() {
    let mut d = driver();
    let mut auto: AutoApprovalRule = samples::auto_approval_rule();
    auto.max_value = Money(5_000 * 10_000);
    auto.max_qty = 500;
    d.table(&auto);
    d.pipe([features(0), stock(HOUR, 40, 20, EventId::NIL)]);
    d.pipe([stock(DAY, 40, 20, EventId::NIL)]);
    let approved = d.outputs::<PurchaseOrderApproved>();
    assert_eq!(approved.len(), 1);
    assert!(approved[0].auto_approved);
    assert_eq!(approved[0].approved_by, "rule:auto-approval");
    assert_eq!(
        statuses(&d),
        [
            PurchaseOrderStatus::DRAFT,
            PurchaseOrderStatus::APPROVED,
            PurchaseOrderStatus::SENT
        ]
    );
    // Above the limit the order waits for a person.
    auto.max_qty = 50;
    d.table(&auto);
    // The ledger applied the approval (named as the cause), and the stock is gone.
    d.pipe([stock(DAY + HOUR, 0, 0, approved[0].event_id)]);
    d.pipe([stock(2 * DAY, 0, 0, EventId::NIL)]);
    let created = d.outputs::<PurchaseOrderCreated>();
    assert_eq!(created.len(), 2);
    assert_eq!(created[1].po_number, "PO-s1-sup1-20240502");
    assert_eq!(d.outputs::<PurchaseOrderApproved>().len(), 1);
}

#[test]
fn a_category_default_reviews_periodically_on_the_suppliers_order_days() {
    let mut d = driver();
    d.table_delete("replenishment.rules", "t1|s1|i1");
    let mut defaults = samples::replenishment_default_rule();
    defaults.category = "produce".into();
    defaults.rules[0].location_type = LocationType::STORE;
    defaults.rules[0].policy = ReplenishmentPolicy::R_S;
    defaults.rules[0].order_days = vec![];
    defaults.rules[0].supplier_id = None;
    d.table(&defaults);
    let mut si = samples::supplier_item();
    si.lead_time_mean_days = 2.0;
    si.lead_time_std_days = 0.5;
    si.moq = 12;
    si.pack_size = 12;
    si.max_order_qty = None;
    si.order_days = vec![Weekday::MON, Weekday::THU];
    d.table(&si);
    // Wednesday: below S, but not an order day; nothing until Thursday's end.
    d.pipe([features(0), stock(HOUR, 10, 0, EventId::NIL)]);
    assert!(d.outputs::<ReplenishmentTriggered>().is_empty());
    d.pipe([stock(DAY, 10, 0, EventId::NIL)]);
    assert!(
        d.outputs::<ReplenishmentTriggered>().is_empty(),
        "Wednesday closed"
    );
    d.pipe([stock(2 * DAY, 10, 0, EventId::NIL)]);
    let t = d.outputs::<ReplenishmentTriggered>();
    assert_eq!(t.len(), 1, "Thursday's end reviews");
    assert_eq!(t[0].evaluated_on, "REVIEW_DAY");
    assert_eq!(t[0].review_period_days, Some(4), "Thursday to Monday");
    assert_eq!(
        t[0].rule_source,
        "default category=produce location_type=STORE"
    );
    assert_eq!(t[0].supplier_reason, "ONLY");
    assert_eq!(t[0].po_number.as_deref(), Some("PO-s1-sup1-20240502"));
    assert_eq!(t[0].order_quantity % 12, 0);
    assert_eq!(
        d.outputs::<PurchaseOrderCreated>().len(),
        1,
        "released at once"
    );
}

#[test]
fn a_replay_after_a_crash_publishes_the_same_history() {
    let inputs = || {
        vec![
            vec![features(0), stock(HOUR, 40, 20, EventId::NIL)],
            vec![stock(2 * HOUR, 38, 20, EventId::NIL)],
            vec![stock(DAY, 36, 20, EventId::NIL)],
            vec![command(DAY + HOUR, PO, PurchaseOrderAction::APPROVE, "a")],
            vec![receipt(2 * DAY, PO, 96, "gr")],
        ]
    };
    let mut clean = driver();
    for batch in inputs() {
        clean.pipe(batch);
    }
    let mut crashed = driver();
    let batches = inputs();
    crashed.pipe(batches[0].clone());
    crashed.commit();
    crashed.pipe(batches[1].clone());
    crashed.pipe(batches[2].clone());
    crashed.crash_after_states();
    for batch in inputs().into_iter().skip(1) {
        crashed.pipe(batch);
    }
    let codec = composerp_events::Codec::embedded();
    let by_id = |d: &TestDriver<Replenishment>| {
        let mut seen = std::collections::BTreeMap::new();
        for o in d.raw_outputs().iter() {
            let json = composerp_events::kinds::KINDS
                .iter()
                .find_map(|k| k.record_to_json(&codec, o.payload).ok());
            let mut json = json.unwrap_or_default();
            if let Some(m) = json.as_object_mut() {
                m.remove("produced_at");
            }
            let id = json["event_id"].to_string();
            if let Some(previous) = seen.insert(id.clone(), json.clone()) {
                assert_eq!(previous, json, "a repeat of {id} differs");
            }
        }
        seen
    };
    assert_eq!(by_id(&crashed), by_id(&clean));
}
