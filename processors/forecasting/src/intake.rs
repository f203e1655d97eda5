//! What both forecasting processors share: their inputs (sales and the ledger's stock updates),
//! their keyed state, and the bookkeeping of local days. A processor built on it says only what
//! happens when an item-location's day closes ([`Closer::closed`]) and when a closed day
//! changes after the fact ([`Closer::late`]).
//!
//! State keys: `tenant|location` holds the location's [`Store`] (its active items and newest
//! closed day); `tenant|location|item` holds the item-location's [`Tracked`] history. Each
//! location has one event-time timer, named by its key, due when its oldest open local day
//! ends; when the partition's watermark passes it, that day closes for every active item of
//! the location, and the timer moves to the next day's end. Days without sales close too: they
//! are days of zero demand.

use std::fmt::Debug;

use chrono_tz::Tz;
use composerp_events::{
    Timestamp,
    forecasting::DemandHistorySeeded,
    inventory::InventoryUpdated,
    pos::{SaleCompleted, SaleLineType},
};
use composerp_runtime::{
    inputs,
    processor::{Context, Reject},
    timer::{Timer, TimerKind},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    history::{Added, History},
    tables::Zones,
    zone,
};

inputs! {
    /// Sales lines, the ledger's stock updates, and backfilled histories, all keyed
    /// tenant|location.
    pub enum DemandInput {
        "pos.sales" => Sale(SaleCompleted),
        "inventory.positions" => Stock(InventoryUpdated),
        "forecasting.demand-history" => Seed(DemandHistorySeeded),
    }
}

/// One location's bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Store {
    /// Items with a sale within the window, sorted.
    pub items: Vec<String>,
    /// Newest closed local day.
    pub closed: i32,
}

/// One item-location: its history and what the processor keeps beside it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tracked<X> {
    /// Daily demand and stock-outs.
    pub history: History,
    /// The processor's own memory of this item-location.
    pub extra: X,
    /// Per input topic, the offset after the last record applied here: after a crash a record
    /// may be replayed onto a state that was stored with it already applied.
    applied: Vec<i64>,
}

impl<X> Tracked<X> {
    /// Whether the record at `source` (input index, offset) is already applied here.
    fn reflects(&self, (index, offset): (usize, i64)) -> bool {
        self.applied.get(index).is_some_and(|&next| offset < next)
    }

    /// Notes the record at `source` as applied.
    fn mark(&mut self, (index, offset): (usize, i64)) {
        if self.applied.len() <= index {
            self.applied.resize(index + 1, 0);
        }
        self.applied[index] = offset + 1;
    }
}

/// A keyed state of a forecasting processor.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub enum Slot<X> {
    /// Nothing yet.
    #[default]
    Empty,
    /// A location (key `tenant|location`).
    Location(Store),
    /// An item-location (key `tenant|location|item`).
    Item(Tracked<X>),
}

/// Which item-location a call is about.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Location.
    pub location: &'a str,
    /// Item.
    pub item: &'a str,
    /// The location's zone.
    pub zone: Tz,
}

/// The context a closer works through.
pub type Ctx<'c, 'a, X> = &'c mut Context<'a, Slot<X>, Zones>;

/// What a processor does with closed days.
pub trait Closer: Send + Sync + 'static {
    /// What it keeps per item-location beside the history.
    type Extra: Serialize + DeserializeOwned + Default + Clone + Debug + Send + 'static;

    /// Local day `day` (ended at `end`) closed for `place`, an active item-location whose
    /// history holds at least one day through `day`.
    fn closed(
        &self,
        place: &Place<'_>,
        tracked: &mut Tracked<Self::Extra>,
        day: i32,
        end: Timestamp,
        ctx: Ctx<'_, '_, Self::Extra>,
    );

    /// A sale changed the already closed `day` of `place`.
    fn late(
        &self,
        _place: &Place<'_>,
        _tracked: &mut Tracked<Self::Extra>,
        _day: i32,
        _ctx: Ctx<'_, '_, Self::Extra>,
    ) {
    }
}

/// Applies one input record.
pub fn process<C: Closer>(
    closer: &C,
    name: &'static str,
    input: &DemandInput,
    ctx: Ctx<'_, '_, C::Extra>,
) -> Result<(), Reject> {
    match input {
        DemandInput::Sale(sale) => {
            sold(closer, name, sale, ctx);
            Ok(())
        }
        DemandInput::Seed(h) => seeded(closer, h, ctx),
        DemandInput::Stock(u) => {
            let key = format!("{}|{}|{}", u.tenant_id, u.location_id, u.item_id);
            let source = ctx.source();
            if let Slot::Item(t) = item_slot(ctx, &key)
                && !t.reflects(source)
            {
                t.history.add_stock(u.occurred_at, u.on_hand);
                t.mark(source);
            }
            Ok(())
        }
    }
}

/// The item-location state of `key`, created empty.
fn item_slot<'c, X: Default + Clone>(
    ctx: &'c mut Context<'_, Slot<X>, Zones>,
    key: &str,
) -> &'c mut Slot<X> {
    let slot = ctx.state(key);
    if matches!(slot, Slot::Empty) {
        *slot = Slot::Item(Tracked::default());
    }
    slot
}

fn sold<C: Closer>(
    closer: &C,
    name: &'static str,
    sale: &SaleCompleted,
    ctx: Ctx<'_, '_, C::Extra>,
) {
    let (tenant, location) = (sale.tenant_id.as_str(), sale.store_id.as_str());
    let zone = ctx.tables().zone(tenant, location);
    let day = zone::day_of(zone, sale.occurred_at);
    // Gross units per item: returns are not netted, and a receipt may list an item twice.
    let mut units: Vec<(&str, u32)> = Vec::new();
    for line in &sale.lines {
        if line.line_type != SaleLineType::SALE || line.quantity <= 0 {
            continue;
        }
        let q = u32::try_from(line.quantity).unwrap_or(u32::MAX);
        match units.iter_mut().find(|(i, _)| *i == line.item_id) {
            Some((_, u)) => *u = u.saturating_add(q),
            None => units.push((&line.item_id, q)),
        }
    }
    if units.is_empty() {
        return;
    }
    let source = ctx.source();
    let store_key = format!("{tenant}|{location}");
    let closed = match ctx.state(&store_key) {
        Slot::Location(s) => s.closed,
        slot => {
            *slot = Slot::Location(Store {
                items: Vec::new(),
                closed: day - 1,
            });
            ctx.set_timer(
                TimerKind::EventTime,
                &store_key,
                zone::end_of_day(zone, day),
            );
            day - 1
        }
    };
    for (item, q) in units {
        let key = format!("{store_key}|{item}");
        let Slot::Item(mut t) = std::mem::take(item_slot(ctx, &key)) else {
            continue;
        };
        if t.reflects(source) {
            *ctx.state(&key) = Slot::Item(t);
            continue;
        }
        t.mark(source);
        t.history.follow(closed);
        let added = t.history.add_sale(day, q);
        if added != Added::Open {
            metrics::counter!("composerp_demand_late_lines_total", "processor" => name)
                .increment(1);
        }
        if added == Added::Late {
            let place = Place {
                tenant,
                location,
                item,
                zone,
            };
            closer.late(&place, &mut t, day, ctx);
        }
        *ctx.state(&key) = Slot::Item(t);
        if let Slot::Location(s) = ctx.state(&store_key)
            && let Err(i) = s.items.binary_search_by(|x| x.as_str().cmp(item))
        {
            s.items.insert(i, item.to_owned());
        }
    }
}

/// Starts an item-location from a backfilled history: its days through `as_of_date` are
/// closed, its location continues after them, and the processor handles `as_of_date` as a day
/// that just closed (features, a first forecast).
fn seeded<C: Closer>(
    closer: &C,
    h: &DemandHistorySeeded,
    ctx: Ctx<'_, '_, C::Extra>,
) -> Result<(), Reject> {
    let (tenant, location, item) = (
        h.tenant_id.as_str(),
        h.location_id.as_str(),
        h.item_id.as_str(),
    );
    let zone = ctx.tables().zone(tenant, location);
    if zone.name() != h.timezone {
        return Err(Reject::new(
            "zone_mismatch",
            format!(
                "the history of {item} at {location} was bucketed in {}, the location is in {}",
                h.timezone,
                zone.name()
            ),
        ));
    }
    let as_of = h.as_of_date.0;
    let mut demand = Vec::with_capacity(h.demand.len());
    for &u in &h.demand {
        demand.push(u32::try_from(u).map_err(|_| {
            Reject::new(
                "invalid_history",
                format!("daily demand {u} is not a unit count"),
            )
        })?);
    }
    let store_key = format!("{tenant}|{location}");
    let slot = ctx.state(&store_key);
    let mut store = match std::mem::take(slot) {
        Slot::Location(s) => s,
        _ => Store {
            items: Vec::new(),
            closed: as_of,
        },
    };
    store.closed = store.closed.max(as_of);
    if let Err(i) = store.items.binary_search_by(|x| x.as_str().cmp(item)) {
        store.items.insert(i, item.to_owned());
    }
    let next = store.closed + 1;
    *slot = Slot::Location(store);
    ctx.set_timer(
        TimerKind::EventTime,
        &store_key,
        zone::end_of_day(zone, next),
    );
    let key = format!("{store_key}|{item}");
    let Slot::Item(mut t) = std::mem::take(item_slot(ctx, &key)) else {
        return Ok(());
    };
    if t.reflects(ctx.source()) {
        *ctx.state(&key) = Slot::Item(t);
        return Ok(());
    }
    t.mark(ctx.source());
    let censored: Vec<i32> = h.censored_dates.iter().map(|d| d.0).collect();
    t.history.seed(
        h.first_date.0,
        &demand,
        &censored,
        h.last_sale_date.map(|d| d.0),
        as_of,
    );
    if t.history.series_len(as_of) > 0 && t.history.active(as_of) {
        let place = Place {
            tenant,
            location,
            item,
            zone,
        };
        closer.closed(&place, &mut t, as_of, zone::end_of_day(zone, as_of), ctx);
    }
    *ctx.state(&key) = Slot::Item(t);
    Ok(())
}

/// The state of `key` moved out (left empty, to be written back or removed) when `kind` accepts
/// it; otherwise untouched.
fn take<X: Default + Clone>(
    ctx: &mut Context<'_, Slot<X>, Zones>,
    key: &str,
    kind: impl Fn(&Slot<X>) -> bool,
) -> Option<Slot<X>> {
    if !ctx.peek(key).is_some_and(kind) {
        return None;
    }
    Some(std::mem::take(ctx.state(key)))
}

/// Closes the oldest open day of the location the timer is named after.
pub fn close_day<C: Closer>(closer: &C, timer: &Timer, ctx: Ctx<'_, '_, C::Extra>) {
    let Some((tenant, location)) = timer.name.split_once('|') else {
        return;
    };
    // Taken out of the store rather than cloned: every item's history is rewritten anyway.
    let Some(Slot::Location(mut store)) =
        take(ctx, &timer.name, |s| matches!(s, Slot::Location(_)))
    else {
        return;
    };
    let zone = ctx.tables().zone(tenant, location);
    let day = store.closed + 1;
    let end = zone::end_of_day(zone, day);
    let mut kept = Vec::with_capacity(store.items.len());
    for item in std::mem::take(&mut store.items) {
        let key = format!("{}|{item}", timer.name);
        let Some(Slot::Item(mut t)) = take(ctx, &key, |s| matches!(s, Slot::Item(_))) else {
            continue;
        };
        t.history.close(day, end);
        if !t.history.active(day) {
            ctx.remove(&key);
            continue;
        }
        if t.history.series_len(day) > 0 {
            let place = Place {
                tenant,
                location,
                item: &item,
                zone,
            };
            closer.closed(&place, &mut t, day, end, ctx);
        }
        *ctx.state(&key) = Slot::Item(t);
        kept.push(item);
    }
    if kept.is_empty() {
        ctx.remove(&timer.name);
        return;
    }
    store.items = kept;
    store.closed = day;
    *ctx.state(&timer.name) = Slot::Location(store);
    ctx.set_timer(
        TimerKind::EventTime,
        &timer.name,
        zone::end_of_day(zone, day + 1),
    );
}
