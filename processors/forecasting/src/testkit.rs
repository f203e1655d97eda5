//! Builders shared by the processors' tests: receipts, stock updates and locations at given
//! instants, and a driver with the locations' zones loaded.

use composerp_events::{
    EventId, Timestamp,
    catalog::Location,
    inventory::InventoryUpdated,
    pos::{SaleCompleted, SaleLineType},
    samples,
};
use composerp_runtime::{driver::TestDriver, processor::Processor};

use crate::{intake::DemandInput, tables::Zones};

/// Microseconds per hour.
pub const HOUR: i64 = 3_600_000_000;
/// Microseconds per day.
pub const DAY: i64 = 24 * HOUR;

/// The instant of an RFC 3339 text.
pub fn at(s: &str) -> Timestamp {
    Timestamp(
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("test instant")
            .timestamp_micros(),
    )
}

/// A receipt `n` at store `store` selling `lines` (item, units) at `when`.
pub fn sale(n: u64, store: &str, when: Timestamp, lines: &[(&str, i64)]) -> DemandInput {
    let mut s: SaleCompleted = samples::sale_completed(1);
    s.event_id = EventId::from_name(&format!("receipt-{n}"));
    s.receipt_id = format!("R{n}");
    s.store_id = store.into();
    s.occurred_at = when;
    let template = s.lines[0].clone();
    s.lines = lines
        .iter()
        .enumerate()
        .map(|(i, (item, units))| {
            let mut l = template.clone();
            l.line_number = i as i32 + 1;
            l.item_id = (*item).into();
            l.line_type = SaleLineType::SALE;
            l.quantity = *units;
            l.reservation_id = None;
            l
        })
        .collect();
    DemandInput::Sale(s)
}

/// The ledger's stock update `n` of `item` at `store`: `on_hand` units at `when`.
pub fn stock(n: u64, store: &str, item: &str, when: Timestamp, on_hand: i64) -> DemandInput {
    let mut u: InventoryUpdated = samples::inventory_updated();
    u.event_id = EventId::from_name(&format!("stock-{n}"));
    u.location_id = store.into();
    u.item_id = item.into();
    u.occurred_at = when;
    u.on_hand = on_hand;
    DemandInput::Stock(u)
}

/// A driver for `p` knowing each (store, zone).
pub fn driver<P: Processor<Tables = Zones, Input = DemandInput>>(
    p: P,
    zones: &[(&str, &str)],
) -> TestDriver<P> {
    let mut d = TestDriver::new(p);
    for (store, zone) in zones {
        let mut l: Location = samples::location();
        l.location_id = (*store).into();
        l.timezone = (*zone).into();
        d.table(&l);
    }
    d
}

/// Receipts selling `units[i]` of `item` at noon UTC of day `first + i` (days since 1970).
pub fn daily(first: i64, item: &str, units: &[i64], n0: u64) -> Vec<DemandInput> {
    units
        .iter()
        .enumerate()
        .filter(|(_, u)| **u > 0)
        .map(|(i, &u)| {
            sale(
                n0 + i as u64,
                "s1",
                Timestamp((first + i as i64) * DAY + 12 * HOUR),
                &[(item, u)],
            )
        })
        .collect()
}
