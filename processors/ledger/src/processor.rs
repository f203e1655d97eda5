//! [`InventoryLedger`]: the ledger as a stream processor.
//!
//! State keys (per partition): `p|tenant|location|item` holds a [`PositionState`]. Repeated
//! events are dropped before they reach the ledger by the runtime's deduplication window
//! ([`DEDUPE_WINDOW`], by the records' topic timestamps); a replayed record (after a crash) is
//! recognised per position by the input offsets the position reflects.

use composerp_events::{
    EventId, Money, Timestamp,
    catalog::LocationType,
    inventory::{
        InventoryLowStock, InventoryTransactionCreated, InventoryUpdated, LedgerKind, ThresholdKind,
    },
};
use composerp_runtime::processor::{self as runtime, Context, Processor};
use serde::{Deserialize, Serialize};

use crate::{
    movement::{LedgerInput, Movement, MovementKind, Movements},
    position::{Entry, Position},
    reject::Reject,
    tables::{LedgerTables, Lookup},
};

/// A position with what its events need besides the buckets.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PositionState {
    /// The buckets and counters.
    pub position: Position,
    /// Applied movements (the InventoryUpdated sequence).
    pub version: i64,
    /// Latest input event applied.
    pub last_event: Option<EventId>,
    /// Its business time.
    pub last_at: Timestamp,
    /// Currency of the latest priced input (for rounding stock value).
    pub currency: Option<String>,
    /// Per input topic, the offset after the last record applied here: a replayed record below
    /// it is already reflected, so recovery can apply every changelog entry it finds.
    pub applied: Vec<i64>,
}

/// How long the runtime remembers the ledger's input event ids: a repeat written to its topic
/// within 7 days of the newest record there is dropped.
pub const DEDUPE_WINDOW: i64 = 7 * 24 * 3_600 * 1_000_000;

/// One key's state in the ledger's store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LedgerState {
    /// An item-location.
    Position(Box<PositionState>),
    /// An applied event id, as older stores and changelogs hold it: read so that they restore,
    /// never written (the runtime's deduplication window drops repeats).
    Seen {
        /// Business time.
        at: i64,
        /// Input topic index of the first occurrence.
        input: u32,
        /// Offset of the first occurrence.
        offset: i64,
    },
}

impl Default for LedgerState {
    fn default() -> Self {
        LedgerState::Position(Box::default())
    }
}

/// Keeps every item-location's stock position, writes the stock ledgers and raises low-stock
/// alerts.
#[derive(Debug, Default, Clone, Copy)]
pub struct InventoryLedger;

/// Minor-unit decimals of a currency (ISO 4217), for rounding published stock values.
fn minor_units(currency: Option<&str>) -> u32 {
    // Matched as three bytes, one comparison each: this runs for every line and every position
    // update.
    match currency.map(str::as_bytes) {
        Some(&[a, b, c]) => match [a, b, c] {
            [b'J', b'P', b'Y']
            | [b'K', b'R', b'W']
            | [b'C', b'L', b'P']
            | [b'I', b'S', b'K']
            | [b'V', b'N', b'D'] => 0,
            [b'B', b'H', b'D']
            | [b'K', b'W', b'D']
            | [b'O', b'M', b'R']
            | [b'J', b'O', b'D']
            | [b'T', b'N', b'D']
            | [b'L', b'Y', b'D']
            | [b'I', b'Q', b'D'] => 3,
            _ => 2,
        },
        _ => 2,
    }
}

/// `p|tenant|location|item`, built at its size: `format!` costs more than the lookups it keys.
fn position_key(tenant: &str, location: &str, item: &str) -> String {
    let mut key = String::with_capacity(4 + tenant.len() + location.len() + item.len());
    for part in ["p|", tenant, "|", location, "|", item] {
        key.push_str(part);
    }
    key
}

impl Processor for InventoryLedger {
    const NAME: &'static str = "ledger";
    type Input = LedgerInput;
    type State = LedgerState;
    type Tables = LedgerTables;
    /// Repeated events are dropped by the runtime when written within this long of the newest
    /// record of their topic.
    const DEDUPE_WINDOW_MICROS: i64 = DEDUPE_WINDOW;

    fn process(
        &self,
        input: &LedgerInput,
        ctx: &mut Context<'_, LedgerState, LedgerTables>,
    ) -> Result<(), runtime::Reject> {
        use composerp_runtime::processor::Input;
        let event_id = input.event_id();
        let at = input.occurred_at();
        let Movements {
            tenant,
            currency,
            lines,
        } = Movements::of(input)?;
        let (input_index, offset) = ctx.source();
        // One look at each line's position, before anything is applied:
        // - a count that would be rejected rejects the event, which then changes nothing;
        // - after a crash the record may be replayed onto positions whose stored state already
        //   reflects it (their changelog entry was written, the batch's marker was not). This is
        //   decided per position before applying, as one record can have several lines for one.
        let mut keyed: Vec<(String, bool)> = Vec::with_capacity(lines.len());
        for l in &lines {
            let key = position_key(tenant, l.location, l.item);
            let mut reflected = false;
            if let Some(LedgerState::Position(p)) = ctx.peek(&key) {
                if let MovementKind::Set { .. } = l.kind {
                    let mut probe = p.position.clone();
                    probe.apply(&l.kind, at).map_err(|e| e.on_line(l.line))?;
                }
                reflected = p
                    .applied
                    .get(input_index)
                    .is_some_and(|&next| offset < next);
            }
            keyed.push((key, reflected));
        }
        for (l, (key, reflected)) in lines.into_iter().zip(keyed) {
            if !reflected {
                apply_line(ctx, tenant, key, event_id, at, currency, l)?;
            }
        }
        if let LedgerInput::Shipped(t) = input {
            ctx.emit_to(
                "ledger.transfer-inbound",
                &format!("{}|{}", t.tenant_id, t.to_location_id),
                t,
            );
        }
        Ok(())
    }

    fn end_batch(&self, ctx: &mut Context<'_, LedgerState, LedgerTables>) {
        for id in ctx.changed_keys() {
            let (key, Some(LedgerState::Position(p))) = ctx.changed_state(id) else {
                continue;
            };
            let mut parts = key.splitn(4, '|').skip(1);
            let (Some(tenant), Some(location), Some(item)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let event = updated(ctx.tables(), tenant, location, item, p, ctx.now());
            ctx.emit(&event);
        }
    }
}

/// Applies one line to its position, whose state key is `key`.
fn apply_line(
    ctx: &mut Context<'_, LedgerState, LedgerTables>,
    tenant: &str,
    key: String,
    event_id: EventId,
    at: Timestamp,
    currency: Option<&str>,
    l: Movement<'_>,
) -> Result<(), Reject> {
    let Lookup {
        location: kind,
        known_item,
        rule,
    } = ctx.tables().lookup(tenant, l.location, l.item);
    let unknown_location = kind.is_none();
    let unknown_item = !known_item;
    let now = ctx.now();
    let (input_index, offset) = ctx.source();
    let LedgerState::Position(state) = ctx.state(&key) else {
        return Err(Reject::KeyCollision(key));
    };
    let entry = state
        .position
        .apply(&l.kind, at)
        .map_err(|e| e.on_line(l.line))?;
    if state.applied.len() <= input_index {
        state.applied.resize(input_index + 1, 0);
    }
    state.applied[input_index] = offset + 1;
    state.version += 1;
    state.last_event = Some(event_id);
    state.last_at = state.last_at.max(at);
    if let Some(c) = currency
        && state.currency.as_deref() != Some(c)
    {
        state.currency = Some(c.to_owned());
    }
    let fired = match rule {
        Some(r)
            if state
                .position
                .evaluate_alert(r.reorder_point, r.rearm_margin) =>
        {
            // The buckets only for the alert: they sum the position's open documents.
            Some((r, state.position.buckets()))
        }
        _ => None,
    };
    let places = minor_units(state.currency.as_deref());
    let ledger = match kind {
        Some(LocationType::WAREHOUSE | LocationType::DC) => LedgerKind::WSLE,
        _ => LedgerKind::SSLE,
    };
    let line_bytes = l.line.to_be_bytes();
    if let Some(e) = entry {
        ctx.emit(&transaction(
            tenant,
            &l,
            event_id,
            at,
            ledger,
            &e,
            places,
            unknown_item,
            unknown_location,
        ));
    }
    if let Some((rule, buckets)) = fired {
        ctx.emit(&InventoryLowStock {
            event_id: event_id.derive(&[
                b"low",
                &line_bytes,
                l.location.as_bytes(),
                l.item.as_bytes(),
            ]),
            tenant_id: tenant.to_owned(),
            occurred_at: at,
            produced_at: now,
            source: "composerp:ledger".into(),
            location_id: l.location.to_owned(),
            item_id: l.item.to_owned(),
            available: buckets.available(),
            inventory_position: buckets.inventory_position(),
            threshold: rule.reorder_point,
            threshold_kind: ThresholdKind::REORDER_POINT,
            source_event_id: event_id,
        });
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn transaction(
    tenant: &str,
    l: &Movement<'_>,
    event_id: EventId,
    at: Timestamp,
    ledger: LedgerKind,
    e: &Entry,
    places: u32,
    unknown_item: bool,
    unknown_location: bool,
) -> InventoryTransactionCreated {
    let line_bytes = l.line.to_be_bytes();
    InventoryTransactionCreated {
        event_id: event_id.derive(&[
            b"itc",
            &line_bytes,
            l.location.as_bytes(),
            l.item.as_bytes(),
        ]),
        tenant_id: tenant.to_owned(),
        occurred_at: at,
        produced_at: at,
        source: "composerp:ledger".into(),
        location_id: l.location.to_owned(),
        item_id: l.item.to_owned(),
        ledger,
        transaction_type: e.kind,
        source_event_id: event_id,
        source_line: l.line,
        document_ref: l.document.map(str::to_owned),
        sequence: e.sequence,
        actual_qty: e.actual_qty,
        qty_after_transaction: e.qty_after,
        incoming_rate: e.incoming_rate.map(Money::from_f64),
        valuation_rate: Money::from_f64(e.valuation_rate),
        stock_value: Money::from_f64(e.stock_value).round_to(places),
        stock_value_difference: Money::from_f64(e.stock_value_difference).round_to(places),
        superseded: e.superseded,
        negative_on_hand: e.negative_on_hand,
        unknown_item,
        unknown_location,
    }
}

fn updated(
    tables: &LedgerTables,
    tenant: &str,
    location: &str,
    item: &str,
    p: &PositionState,
    now: Timestamp,
) -> InventoryUpdated {
    let b = p.position.buckets();
    let rate = p.position.valuation_rate().unwrap_or(0.0);
    let places = minor_units(p.currency.as_deref());
    let found = tables.lookup(tenant, location, item);
    InventoryUpdated {
        // Same id as `from_name("composerp:ledger/updated/{tenant}/{location}/{item}/{version}")`.
        event_id: EventId::from_name_parts(&[
            b"composerp:ledger/updated/",
            tenant.as_bytes(),
            b"/",
            location.as_bytes(),
            b"/",
            item.as_bytes(),
            b"/",
            itoa::Buffer::new().format(p.version).as_bytes(),
        ]),
        tenant_id: tenant.to_owned(),
        occurred_at: p.last_at,
        produced_at: now,
        source: "composerp:ledger".into(),
        location_id: location.to_owned(),
        item_id: item.to_owned(),
        sequence: p.version,
        on_hand: b.on_hand,
        on_order: b.on_order,
        in_transit: b.in_transit,
        reserved: b.reserved,
        damaged: b.damaged,
        backordered: b.backordered,
        available: b.available(),
        available_raw: b.available_raw(),
        inventory_position: b.inventory_position(),
        valuation_rate: Money::from_f64(rate),
        stock_value: Money::from_f64(b.on_hand as f64 * rate).round_to(places),
        reorder_point: found.rule.map(|r| r.reorder_point),
        negative_on_hand: b.on_hand < 0,
        unknown_item: !found.known_item,
        unknown_location: found.location.is_none(),
        last_source_event_id: p.last_event.unwrap_or(EventId::NIL),
    }
}

#[cfg(test)]
mod tests {
    use composerp_events::{
        Codec,
        inventory::{TransactionType, TransferLine},
        pos::{SaleLine, SaleLineType},
        procurement::ReceiptLine,
        replenishment::ReplenishmentRule,
        samples,
    };
    use composerp_runtime::driver::TestDriver;

    use super::*;

    fn id(n: &str) -> EventId {
        EventId::from_name(n)
    }

    fn sale(n: &str, store: &str, item: &str, qty: i64) -> LedgerInput {
        let mut s = samples::sale_completed(1);
        s.event_id = id(n);
        s.tenant_id = "t1".into();
        s.store_id = store.into();
        s.lines = vec![SaleLine {
            line_number: 1,
            item_id: item.into(),
            line_type: SaleLineType::SALE,
            quantity: qty,
            unit_price: Money(25_000),
            discount: Money::ZERO,
            return_condition: None,
            reservation_id: None,
        }];
        LedgerInput::Sale(s)
    }

    fn receipt(n: &str, loc: &str, item: &str, qty: i64) -> LedgerInput {
        let mut r = samples::purchase_order_received();
        r.event_id = id(n);
        r.tenant_id = "t1".into();
        r.location_id = loc.into();
        r.lines = vec![ReceiptLine {
            line_number: 1,
            po_line_number: 1,
            item_id: item.into(),
            quantity: qty,
            unit_cost: Money(20_000),
            lot_number: None,
            expiry_date: None,
        }];
        LedgerInput::Receipt(r)
    }

    fn position(d: &TestDriver<InventoryLedger>, loc: &str, item: &str) -> PositionState {
        match d.state(&position_key("t1", loc, item)) {
            Some(LedgerState::Position(p)) => (**p).clone(),
            other => panic!("no position: {other:?}"),
        }
    }

    fn store(d: &mut TestDriver<InventoryLedger>, loc: &str, kind: LocationType) {
        let mut l = samples::location();
        l.tenant_id = "t1".into();
        l.location_id = loc.into();
        l.location_type = kind;
        d.table(&l);
    }

    /// An active rule of t1 with reorder point 5 for `sku` at `s1`.
    fn rule_at_s1() -> ReplenishmentRule {
        let mut rule = samples::replenishment_rule();
        rule.tenant_id = "t1".into();
        rule.location_id = "s1".into();
        rule.item_id = "sku".into();
        rule.reorder_point = Some(5);
        rule.active = true;
        rule
    }

    #[test]
    fn minor_units_follow_iso_4217() {
        assert_eq!(minor_units(Some("JPY")), 0);
        assert_eq!(minor_units(Some("VND")), 0);
        assert_eq!(minor_units(Some("KWD")), 3);
        assert_eq!(minor_units(Some("IQD")), 3);
        assert_eq!(minor_units(Some("EUR")), 2);
        assert_eq!(minor_units(Some("JPYX")), 2);
        assert_eq!(minor_units(Some("jpy")), 2);
        assert_eq!(minor_units(None), 2);
    }

    #[test]
    fn sale_lowers_on_hand() {
        let mut d = TestDriver::new(InventoryLedger);
        d.pipe([receipt("r1", "s1", "sku", 10), sale("s1", "s1", "sku", 3)]);
        assert_eq!(position(&d, "s1", "sku").position.buckets().on_hand, 7);
        let entries = d.outputs::<InventoryTransactionCreated>();
        assert_eq!(
            entries
                .iter()
                .map(|e| (e.transaction_type, e.qty_after_transaction))
                .collect::<Vec<_>>(),
            vec![(TransactionType::RECEIPT, 10), (TransactionType::SALE, 7)]
        );
        assert_eq!(entries[1].valuation_rate, Money(20_000));
        assert_eq!(entries[1].stock_value, Money(140_000));
    }

    #[test]
    fn a_repeated_event_id_changes_nothing() {
        let mut d = TestDriver::new(InventoryLedger);
        d.pipe([receipt("r1", "s1", "sku", 10), sale("s1", "s1", "sku", 3)]);
        let before = d.raw_outputs().len();
        d.pipe([sale("s1", "s1", "sku", 3), receipt("r1", "s1", "sku", 99)]);
        assert_eq!(position(&d, "s1", "sku").position.buckets().on_hand, 7);
        assert_eq!(d.raw_outputs().len(), before, "no output for duplicates");
    }

    #[test]
    fn repeats_within_the_window_are_dropped_and_late_events_still_apply() {
        const DAY: i64 = 86_400_000_000;
        let mut d = TestDriver::new(InventoryLedger);
        d.pipe([receipt("r1", "s1", "sku", 10), sale("s1", "s1", "sku", 2)]);
        // The test driver stamps records with its clock, as the broker stamps them on write.
        d.advance_wall_clock(6 * DAY);
        let mut late = sale("late", "s1", "sku", 1);
        if let LedgerInput::Sale(l) = &mut late {
            l.occurred_at = Timestamp(l.occurred_at.0 - 40 * DAY);
        }
        d.pipe([sale("s1", "s1", "sku", 2), late.clone()]);
        assert!(
            d.dead_letters().is_empty(),
            "an event late by 40 days is new"
        );
        assert_eq!(
            position(&d, "s1", "sku").position.buckets().on_hand,
            7,
            "the repeat 6 days later is dropped, the late sale applied"
        );
        d.pipe([late]);
        assert_eq!(position(&d, "s1", "sku").position.buckets().on_hand, 7);
    }

    #[test]
    fn a_record_beyond_the_window_applies_only_when_redriven_and_then_once() {
        const DAY: i64 = 86_400_000_000;
        let mut d = TestDriver::new(InventoryLedger);
        let start = Timestamp(0);
        d.pipe([receipt("r1", "s1", "sku", 10)]);
        d.advance_wall_clock(8 * DAY);
        d.pipe([sale("s1", "s1", "sku", 1)]);
        let old = sale("old", "s1", "sku", 2);
        d.pipe_written(old.clone(), start, false);
        let reasons: Vec<&str> = d.dead_letters().iter().map(|l| l.reject.reason).collect();
        assert_eq!(reasons, vec!["beyond_dedupe_window"]);
        assert_eq!(position(&d, "s1", "sku").position.buckets().on_hand, 9);

        // Re-driven as written (dlq replay keeps no timestamp, but a topic's window can stay
        // ahead of the replay's time when a producer's clock ran fast).
        d.pipe_written(old.clone(), start, true);
        assert_eq!(d.dead_letters().len(), 1, "applied, not dead-lettered");
        assert_eq!(position(&d, "s1", "sku").position.buckets().on_hand, 7);
        let before = d.raw_outputs().len();
        d.pipe_written(old.clone(), start, true);
        d.pipe([old]);
        assert_eq!(
            position(&d, "s1", "sku").position.buckets().on_hand,
            7,
            "further copies, re-driven or not, are duplicates"
        );
        assert_eq!(d.raw_outputs().len(), before);
        assert_eq!(d.dead_letters().len(), 1);
    }

    #[test]
    fn poison_records_go_to_the_dead_letters_and_the_rest_applies() {
        let mut d = TestDriver::new(InventoryLedger);
        d.pipe([receipt("r1", "s1", "sku", 10)]);
        d.pipe_raw("pos.sales", b"garbage bytes".to_vec());
        let mut wrong = Codec::embedded().encode(&samples::item()).expect("item");
        wrong[4] = 0x51; // an id that exists nowhere
        d.pipe_raw("pos.sales", wrong);
        d.pipe([receipt("r2", "s1", "sku", -4), sale("s2", "s1", "sku", 2)]);
        let reasons: Vec<&str> = d.dead_letters().iter().map(|l| l.reject.reason).collect();
        assert_eq!(
            reasons,
            vec![
                "not_confluent_framed",
                "unknown_schema_id",
                "non_positive_quantity"
            ]
        );
        assert_eq!(d.dead_letters()[2].topic, "procurement.receipts");
        assert_eq!(
            d.dead_letters()[2].reject.detail,
            "line 1: RECEIPT quantity -4 must be positive"
        );
        assert_eq!(position(&d, "s1", "sku").position.buckets().on_hand, 8);
    }

    #[test]
    fn one_update_per_position_and_batch_with_the_latest_buckets() {
        let mut d = TestDriver::new(InventoryLedger);
        d.pipe([
            receipt("r1", "s1", "a", 10),
            sale("s1", "s1", "a", 1),
            sale("s2", "s1", "a", 2),
            sale("s3", "s1", "b", 1),
        ]);
        let updates = d.outputs::<InventoryUpdated>();
        assert_eq!(updates.len(), 2);
        let a = updates.iter().find(|u| u.item_id == "a").expect("a");
        assert_eq!((a.on_hand, a.sequence), (7, 3));
        let b = updates.iter().find(|u| u.item_id == "b").expect("b");
        assert_eq!((b.on_hand, b.negative_on_hand), (-1, true));
    }

    #[test]
    fn low_stock_fires_once_and_rearms_above_the_point() {
        let mut d = TestDriver::new(InventoryLedger);
        let mut rule = rule_at_s1();
        rule.rearm_margin = 0;
        d.table(&rule);
        d.pipe([
            receipt("r1", "s1", "sku", 10),
            sale("s1", "s1", "sku", 6),
            sale("s2", "s1", "sku", 1),
        ]);
        assert_eq!(d.outputs::<InventoryLowStock>().len(), 1);
        d.pipe([receipt("r2", "s1", "sku", 10), sale("s3", "s1", "sku", 12)]);
        let alerts = d.outputs::<InventoryLowStock>();
        assert_eq!(alerts.len(), 2);
        assert_eq!((alerts[1].available, alerts[1].threshold), (1, 5));
    }

    #[test]
    fn a_transfer_moves_stock_through_the_destination_in_transit() {
        let mut d = TestDriver::new(InventoryLedger);
        store(&mut d, "dc1", LocationType::DC);
        store(&mut d, "s1", LocationType::STORE);
        d.pipe([receipt("r1", "dc1", "sku", 50)]);
        let mut t = samples::transfer_shipped();
        t.event_id = id("ts1");
        t.tenant_id = "t1".into();
        t.lines = vec![TransferLine {
            line_number: 1,
            item_id: "sku".into(),
            quantity: 12,
        }];
        d.pipe([LedgerInput::Shipped(t.clone())]);
        assert_eq!(position(&d, "dc1", "sku").position.buckets().on_hand, 38);
        let inbound: Vec<_> = d
            .raw_outputs()
            .iter()
            .filter(|o| o.topic == "composerp.ledger.transfer-inbound.v1")
            .collect();
        assert_eq!(inbound.len(), 1);
        assert_eq!(inbound[0].key, "t1|s1");
        // The destination's partition reads it back from the internal topic.
        d.pipe([LedgerInput::Inbound(t.clone()), LedgerInput::Inbound(t)]);
        assert_eq!(
            position(&d, "s1", "sku").position.buckets().in_transit,
            12,
            "applied once"
        );
        let mut r = samples::transfer_received();
        r.event_id = id("tr1");
        r.tenant_id = "t1".into();
        r.lines = vec![TransferLine {
            line_number: 1,
            item_id: "sku".into(),
            quantity: 10,
        }];
        d.pipe([LedgerInput::Received(r)]);
        let b = position(&d, "s1", "sku").position.buckets();
        assert_eq!(
            (b.on_hand, b.in_transit),
            (10, 2),
            "a short receipt leaves the rest in transit"
        );
        let entries = d.outputs::<InventoryTransactionCreated>();
        assert!(
            entries.iter().any(|e| e.ledger == LedgerKind::WSLE
                && e.transaction_type == TransactionType::TRANSFER_OUT)
        );
        assert!(
            entries.iter().any(|e| e.ledger == LedgerKind::SSLE
                && e.transaction_type == TransactionType::TRANSFER_IN)
        );
    }

    #[test]
    fn replaying_the_same_inputs_gives_the_same_output_ids() {
        let run = || {
            let mut d = TestDriver::new(InventoryLedger);
            d.pipe([receipt("r1", "s1", "a", 10), sale("s1", "s1", "a", 4)]);
            d.raw_outputs().clone()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn unknown_items_and_locations_are_applied_and_flagged() {
        let mut d = TestDriver::new(InventoryLedger);
        store(&mut d, "s1", LocationType::STORE);
        d.pipe([
            sale("s1", "s1", "ghost", 1),
            sale("s2", "nowhere", "ghost", 1),
        ]);
        let updates = d.outputs::<InventoryUpdated>();
        let known_loc = updates.iter().find(|u| u.location_id == "s1").expect("s1");
        assert!(known_loc.unknown_item && !known_loc.unknown_location);
        let unknown_loc = updates
            .iter()
            .find(|u| u.location_id == "nowhere")
            .expect("nowhere");
        assert!(unknown_loc.unknown_location && unknown_loc.on_hand == -1);
    }
}
