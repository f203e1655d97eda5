//! [`seeds`]: the daily rows of each item-location as one `DemandHistorySeeded` record.
//!
//! A location's history ends on its newest day in the file (or `as_of`): every item of the
//! location gets days through it, zero where it sold nothing, so the location continues with
//! the next day. Only the newest [`WINDOW_DAYS`] days travel (the processors keep no more); the
//! last sale is kept even when it is older.

use chrono_tz::Tz;
use composerp_events::{Date, EventId, Timestamp, forecasting::DemandHistorySeeded};
use composerp_forecasting::{history::WINDOW_DAYS, zone};

use crate::daily::{DayRow, Zones};

/// One record per item-location of `rows` (ordered by tenant, location, item, day, as
/// [`crate::daily_demand`] returns them), ending on each location's newest day, or on `as_of`
/// when given (later days left out). `produced_at` stamps the records.
pub fn seeds(
    rows: &[DayRow],
    zones: &Zones,
    as_of: Option<i32>,
    produced_at: Timestamp,
) -> Vec<DemandHistorySeeded> {
    let rows: Vec<&DayRow> = rows
        .iter()
        .filter(|r| as_of.is_none_or(|a| r.day <= a))
        .collect();
    let mut out = Vec::new();
    let mut start = 0;
    while start < rows.len() {
        let (t, l) = (&rows[start].tenant, &rows[start].location);
        let end = start
            + rows[start..]
                .iter()
                .take_while(|r| &r.tenant == t && &r.location == l)
                .count();
        let location = &rows[start..end];
        let last = as_of.unwrap_or_else(|| location.iter().map(|r| r.day).max().unwrap_or(0));
        let zone = zones
            .get(&(t.clone(), l.clone()))
            .copied()
            .unwrap_or(Tz::UTC);
        let mut i = 0;
        while i < location.len() {
            let item = &location[i].item;
            let n = location[i..].iter().take_while(|r| &r.item == item).count();
            out.push(record(&location[i..i + n], last, zone, produced_at));
            i += n;
        }
        start = end;
    }
    out
}

fn record(days: &[&DayRow], as_of: i32, zone: Tz, produced_at: Timestamp) -> DemandHistorySeeded {
    let r = days[0];
    let first = days[0].day.max(as_of - WINDOW_DAYS as i32 + 1);
    let mut demand = vec![0i64; (as_of - first + 1).max(0) as usize];
    for d in days.iter().filter(|d| d.day >= first) {
        demand[(d.day - first) as usize] += d.units;
    }
    let id = format!(
        "demand-history|{}|{}|{}|{as_of}",
        r.tenant, r.location, r.item
    );
    DemandHistorySeeded {
        event_id: EventId::from_name(&id),
        tenant_id: r.tenant.clone(),
        occurred_at: zone::end_of_day(zone, as_of),
        produced_at,
        source: "composerp:backfill".into(),
        location_id: r.location.clone(),
        item_id: r.item.clone(),
        first_date: Date(first),
        as_of_date: Date(as_of),
        timezone: zone.name().to_owned(),
        demand,
        censored_dates: Vec::new(),
        last_sale_date: days.iter().rev().find(|d| d.units > 0).map(|d| Date(d.day)),
        sale_lines: days.iter().map(|d| d.lines).sum(),
    }
}
