//! One item-location's inventory position, by the rules of docs/domain.md (Stock buckets,
//! Movements, Stock ledger and valuation, Low-stock alerts).

use composerp_events::{Buckets, Timestamp, inventory::TransactionType};
use serde::{Deserialize, Serialize};

use crate::{movement::MovementKind, reject::Reject};

/// How far back (by event time, from the newest movement seen) a position remembers its
/// movements, so that a cycle count as of an earlier time can be applied exactly. A count older
/// than that is rejected rather than applied approximately.
pub const COUNT_LOOKBACK_MICROS: i64 = 7 * 24 * 3_600 * 1_000_000;

/// Reads remembered movements into time order.
fn time_ordered<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(i64, i64)>, D::Error> {
    let mut deltas = Vec::<(i64, i64)>::deserialize(d)?;
    deltas.sort_by_key(|d| d.0);
    Ok(deltas)
}

/// Counters of one document (PO line, transfer, reservation, customer order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Doc {
    key: String,
    /// ordered / shipped / reserved / backordered.
    opened: i64,
    /// received / received / released+sold / filled.
    closed: i64,
    /// PO line cancelled.
    cancelled: bool,
}

fn doc<'a>(docs: &'a mut Vec<Doc>, key: &str) -> &'a mut Doc {
    let i = match docs.iter().position(|d| d.key == key) {
        Some(i) => i,
        None => {
            docs.push(Doc {
                key: key.to_owned(),
                opened: 0,
                closed: 0,
                cancelled: false,
            });
            docs.len() - 1
        }
    };
    &mut docs[i]
}

fn open_sum(docs: &[Doc]) -> i64 {
    docs.iter()
        .filter(|d| !d.cancelled)
        .map(|d| (d.opened - d.closed).max(0))
        .sum()
}

/// One stock ledger entry produced by an on-hand movement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    /// Movement type.
    pub kind: TransactionType,
    /// Per item-location sequence number (1, 2, …).
    pub sequence: i64,
    /// Signed on-hand change (0 when superseded).
    pub actual_qty: i64,
    /// Running on_hand after the entry.
    pub qty_after: i64,
    /// Cost of incoming units, for incoming movements.
    pub incoming_rate: Option<f64>,
    /// Moving-average rate after the entry (0 when no cost is known yet).
    pub valuation_rate: f64,
    /// qty_after x valuation_rate.
    pub stock_value: f64,
    /// Change of stock value.
    pub stock_value_difference: f64,
    /// A later count superseded the movement: zero effect.
    pub superseded: bool,
    /// on_hand negative after the entry.
    pub negative_on_hand: bool,
}

/// The state of one item-location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    on_hand: i64,
    /// Time of the latest applied count.
    count_at: Option<Timestamp>,
    /// (event time, delta) of applied movements after the count and within the lookback, in
    /// time order (older states stored them in arrival order, so they are sorted as read).
    #[serde(deserialize_with = "time_ordered")]
    deltas: Vec<(i64, i64)>,
    /// Movements at or before this time are forgotten.
    window_start: i64,
    po_lines: Vec<Doc>,
    transfers: Vec<Doc>,
    reservations: Vec<Doc>,
    backorders: Vec<Doc>,
    damaged_in: i64,
    damaged_out: i64,
    rate: Option<f64>,
    cogs: f64,
    armed: bool,
    entries: i64,
    superseded: u32,
    negative: u32,
    alerts: u32,
}

impl Default for Position {
    fn default() -> Self {
        Position {
            on_hand: 0,
            count_at: None,
            deltas: Vec::new(),
            window_start: i64::MIN,
            po_lines: Vec::new(),
            transfers: Vec::new(),
            reservations: Vec::new(),
            backorders: Vec::new(),
            damaged_in: 0,
            damaged_out: 0,
            rate: None,
            cogs: 0.0,
            armed: true,
            entries: 0,
            superseded: 0,
            negative: 0,
            alerts: 0,
        }
    }
}

impl Position {
    /// Applies one validated movement; returns its stock ledger entry when it moves on_hand.
    pub fn apply(&mut self, kind: &MovementKind, at: Timestamp) -> Result<Option<Entry>, Reject> {
        use MovementKind::*;
        let entry = match kind {
            Sale { qty, reservation } => {
                if let Some(r) = reservation {
                    doc(&mut self.reservations, r).closed += qty;
                }
                Some(self.move_on_hand(TransactionType::SALE, at, -qty, None, Flow::Sale))
            }
            Return {
                qty,
                damaged,
                unit_cost,
            } => {
                if *damaged {
                    self.damaged_in += qty;
                }
                Some(self.move_on_hand(TransactionType::RETURN, at, *qty, *unit_cost, Flow::Return))
            }
            PoApproved { line, qty } => {
                doc(&mut self.po_lines, line).opened = *qty;
                None
            }
            PoCancelled { line } => {
                doc(&mut self.po_lines, line).cancelled = true;
                None
            }
            Receipt {
                line,
                qty,
                unit_cost,
            } => {
                doc(&mut self.po_lines, line).closed += qty;
                Some(self.move_on_hand(TransactionType::RECEIPT, at, *qty, *unit_cost, Flow::Other))
            }
            TransferOut { qty, .. } => {
                Some(self.move_on_hand(TransactionType::TRANSFER_OUT, at, -qty, None, Flow::Other))
            }
            TransferShippedIn { transfer, qty } => {
                doc(&mut self.transfers, transfer).opened += qty;
                None
            }
            TransferIn {
                transfer,
                qty,
                unit_cost,
            } => {
                doc(&mut self.transfers, transfer).closed += qty;
                Some(self.move_on_hand(
                    TransactionType::TRANSFER_IN,
                    at,
                    *qty,
                    *unit_cost,
                    Flow::Other,
                ))
            }
            Delta { qty, unit_cost } => Some(self.move_on_hand(
                TransactionType::ADJUSTMENT,
                at,
                *qty,
                *unit_cost,
                Flow::Other,
            )),
            Set { counted, unit_cost } => Some(self.count(at, *counted, *unit_cost)?),
            Damage { qty } => {
                self.damaged_in += qty;
                None
            }
            WriteOff { qty, damaged } => {
                if *damaged {
                    self.damaged_out += qty;
                }
                Some(self.move_on_hand(TransactionType::WRITE_OFF, at, -qty, None, Flow::Other))
            }
            Reserve { id, qty } => {
                doc(&mut self.reservations, id).opened += qty;
                None
            }
            Release { id, qty } => {
                doc(&mut self.reservations, id).closed += qty;
                None
            }
            Backorder { order, qty } => {
                doc(&mut self.backorders, order).opened += qty;
                None
            }
            BackorderFill { order, qty } => {
                doc(&mut self.backorders, order).closed += qty;
                None
            }
        };
        Ok(entry)
    }

    fn value(&self) -> f64 {
        self.on_hand as f64 * self.rate.unwrap_or(0.0)
    }

    /// Moving average (ERPNext): an incoming `delta` at cost `c` into prior quantity `prev`.
    fn value_in(&mut self, prev: i64, delta: i64, c: Option<f64>) {
        let Some(c) = c else { return };
        let new = prev + delta;
        if new >= 0 {
            self.rate = Some(match self.rate {
                Some(r) if prev > 0 => (prev as f64 * r + delta as f64 * c) / new as f64,
                _ => c,
            });
        } else if self.rate.is_none() {
            self.rate = Some(c);
        }
    }

    fn entry(
        &mut self,
        kind: TransactionType,
        actual: i64,
        incoming: Option<f64>,
        before: f64,
        superseded: bool,
    ) -> Entry {
        self.entries += 1;
        let negative = !superseded && self.on_hand < 0;
        if superseded {
            self.superseded += 1;
        } else if negative {
            self.negative += 1;
        }
        let stock_value = self.value();
        Entry {
            kind,
            sequence: self.entries,
            actual_qty: actual,
            qty_after: self.on_hand,
            incoming_rate: incoming,
            valuation_rate: self.rate.unwrap_or(0.0),
            stock_value,
            stock_value_difference: stock_value - before,
            superseded,
            negative_on_hand: negative,
        }
    }

    fn move_on_hand(
        &mut self,
        kind: TransactionType,
        at: Timestamp,
        delta: i64,
        unit_cost: Option<f64>,
        flow: Flow,
    ) -> Entry {
        let before = self.value();
        if self.count_at.is_some_and(|c| at <= c) {
            return self.entry(kind, 0, None, before, true);
        }
        let prev = self.on_hand;
        self.on_hand += delta;
        self.remember(at.0, delta);
        let mut incoming = None;
        if delta > 0 {
            let c = unit_cost.or(self.rate);
            incoming = c;
            self.value_in(prev, delta, c);
            if flow == Flow::Return {
                self.cogs -= delta as f64 * c.unwrap_or(0.0);
            }
        } else if flow == Flow::Sale {
            self.cogs += (-delta) as f64 * self.rate.unwrap_or(0.0);
        }
        self.entry(kind, delta, incoming, before, false)
    }

    fn remember(&mut self, at: i64, delta: i64) {
        // In time order, so both ends are at hand without scanning every remembered movement
        // (a scan per movement costs a twentieth of the engine thread). Movements mostly arrive
        // in order, so the last one is looked at first: each look is a cache miss in a cold
        // position.
        if self.deltas.last().is_none_or(|d| d.0 <= at) {
            self.deltas.push((at, delta));
        } else {
            let i = self.deltas.partition_point(|d| d.0 <= at);
            self.deltas.insert(i, (at, delta));
        }
        let (oldest, newest) = (self.deltas[0].0, self.deltas[self.deltas.len() - 1].0);
        let cut = newest.saturating_sub(COUNT_LOOKBACK_MICROS);
        if cut > self.window_start && oldest <= cut {
            let forgotten = self.deltas.partition_point(|d| d.0 <= cut);
            self.deltas.drain(..forgotten);
            self.window_start = cut;
        }
    }

    fn count(
        &mut self,
        at: Timestamp,
        counted: i64,
        unit_cost: Option<f64>,
    ) -> Result<Entry, Reject> {
        let before = self.value();
        if self.count_at.is_some_and(|c| at <= c) {
            return Ok(self.entry(TransactionType::ADJUSTMENT, 0, None, before, true));
        }
        if at.0 < self.window_start {
            return Err(Reject::CountTooOld {
                count_at: at,
                window_start: Timestamp(self.window_start),
            });
        }
        let prev = self.on_hand;
        self.count_at = Some(at);
        self.deltas.retain(|d| d.0 > at.0);
        self.on_hand = counted + self.deltas.iter().map(|d| d.1).sum::<i64>();
        let mut incoming = None;
        if self.on_hand > prev {
            let c = unit_cost.or(self.rate);
            incoming = c;
            self.value_in(prev, self.on_hand - prev, c);
        }
        Ok(self.entry(
            TransactionType::ADJUSTMENT,
            self.on_hand - prev,
            incoming,
            before,
            false,
        ))
    }

    /// The buckets, each summed from its open documents (docs/domain.md, Stock buckets).
    pub fn buckets(&self) -> Buckets {
        Buckets {
            on_hand: self.on_hand,
            on_order: open_sum(&self.po_lines),
            in_transit: open_sum(&self.transfers),
            reserved: open_sum(&self.reservations),
            damaged: (self.damaged_in - self.damaged_out).max(0),
            backordered: open_sum(&self.backorders),
        }
    }

    /// Low-stock hysteresis: true when available just crossed below `reorder_point` (the alert
    /// fires once, then re-arms at available >= reorder_point + rearm_margin).
    pub fn evaluate_alert(&mut self, reorder_point: i64, rearm_margin: i64) -> bool {
        let available = self.buckets().available();
        if self.armed && available < reorder_point {
            self.armed = false;
            self.alerts += 1;
            true
        } else {
            if !self.armed && available >= reorder_point + rearm_margin {
                self.armed = true;
            }
            false
        }
    }

    /// Moving-average unit cost, if any cost is known.
    pub fn valuation_rate(&self) -> Option<f64> {
        self.rate
    }

    /// Cost of goods sold so far.
    pub fn cogs(&self) -> f64 {
        self.cogs
    }

    /// Stock ledger entries written (the last entry's sequence).
    pub fn ledger_entries(&self) -> i64 {
        self.entries
    }

    /// Entries superseded by a count.
    pub fn superseded_entries(&self) -> u32 {
        self.superseded
    }

    /// Entries that left on_hand negative.
    pub fn negative_entries(&self) -> u32 {
        self.negative
    }

    /// Low-stock alerts fired.
    pub fn alerts(&self) -> u32 {
        self.alerts
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Sale,
    Return,
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000;

    fn t(h: i64) -> Timestamp {
        Timestamp(h * H)
    }

    #[test]
    fn sale_lowers_on_hand_and_a_receipt_raises_it() {
        let mut p = Position::default();
        let e = p
            .apply(
                &MovementKind::Receipt {
                    line: "P1#1".into(),
                    qty: 10,
                    unit_cost: Some(2.0),
                },
                t(1),
            )
            .expect("ok");
        assert_eq!(e.map(|e| (e.qty_after, e.valuation_rate)), Some((10, 2.0)));
        p.apply(
            &MovementKind::Sale {
                qty: 3,
                reservation: None,
            },
            t(2),
        )
        .expect("ok");
        assert_eq!(p.buckets().on_hand, 7);
        assert!((p.cogs() - 6.0).abs() < 1e-12);
    }

    #[test]
    fn over_receipt_closes_the_line_and_cancel_removes_it() {
        let mut p = Position::default();
        p.apply(
            &MovementKind::PoApproved {
                line: "A".into(),
                qty: 10,
            },
            t(1),
        )
        .expect("ok");
        p.apply(
            &MovementKind::PoApproved {
                line: "B".into(),
                qty: 5,
            },
            t(1),
        )
        .expect("ok");
        p.apply(
            &MovementKind::Receipt {
                line: "A".into(),
                qty: 12,
                unit_cost: None,
            },
            t(2),
        )
        .expect("ok");
        assert_eq!(p.buckets().on_order, 5);
        p.apply(&MovementKind::PoCancelled { line: "B".into() }, t(3))
            .expect("ok");
        assert_eq!(p.buckets().on_order, 0);
    }

    #[test]
    fn a_count_older_than_the_lookback_is_rejected_not_guessed() {
        let mut p = Position::default();
        p.apply(
            &MovementKind::Delta {
                qty: 5,
                unit_cost: None,
            },
            t(0),
        )
        .expect("ok");
        p.apply(
            &MovementKind::Delta {
                qty: 5,
                unit_cost: None,
            },
            t(24 * 10),
        )
        .expect("ok");
        let r = p.apply(
            &MovementKind::Set {
                counted: 3,
                unit_cost: None,
            },
            t(1),
        );
        assert!(matches!(r, Err(Reject::CountTooOld { .. })), "{r:?}");
        assert_eq!(p.buckets().on_hand, 10, "nothing changed");
        let ok = p
            .apply(
                &MovementKind::Set {
                    counted: 3,
                    unit_cost: None,
                },
                t(24 * 9),
            )
            .expect("within lookback");
        assert_eq!(ok.map(|e| e.qty_after), Some(8));
    }

    #[test]
    fn remembered_movements_stay_bounded() {
        let mut p = Position::default();
        for h in 0..24 * 60 {
            p.apply(
                &MovementKind::Delta {
                    qty: 1,
                    unit_cost: None,
                },
                t(h),
            )
            .expect("ok");
        }
        assert!(p.deltas.len() <= 24 * 7 + 1, "{}", p.deltas.len());
        assert_eq!(p.buckets().on_hand, 24 * 60);
    }

    #[test]
    fn a_count_sees_the_same_movements_whatever_order_they_arrived_in() {
        let delta = |qty| MovementKind::Delta {
            qty,
            unit_cost: None,
        };
        let count = MovementKind::Set {
            counted: 50,
            unit_cost: None,
        };
        let mut in_order = Position::default();
        let mut shuffled = Position::default();
        for (qty, h) in [(1, 1), (2, 2), (4, 30), (8, 31)] {
            in_order.apply(&delta(qty), t(h)).expect("ok");
        }
        for (qty, h) in [(8, 31), (1, 1), (4, 30), (2, 2)] {
            shuffled.apply(&delta(qty), t(h)).expect("ok");
        }
        assert_eq!(in_order.deltas, shuffled.deltas, "kept in time order");
        // A count at hour 10 keeps the movements after it: 50 + 4 + 8.
        for p in [&mut in_order, &mut shuffled] {
            let e = p.apply(&count, t(10)).expect("ok").expect("entry");
            assert_eq!(e.qty_after, 62);
        }
        // A state stored with its movements in arrival order reads back in time order.
        let stored = Position {
            deltas: vec![(t(31).0, 8), (t(1).0, 1), (t(30).0, 4)],
            ..Position::default()
        };
        let bytes = postcard::to_allocvec(&stored).expect("serialize");
        let back: Position = postcard::from_bytes(&bytes).expect("deserialize");
        assert_eq!(back.deltas, vec![(t(1).0, 1), (t(30).0, 4), (t(31).0, 8)]);
    }
}
