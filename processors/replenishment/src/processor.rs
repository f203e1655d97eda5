//! [`Replenishment`]: the processor that evaluates rules, groups triggered lines into purchase
//! orders at each location's end of day and owns every order's lifecycle.

use composerp_events::{
    EventId, Timestamp,
    forecasting::{DemandFeaturesUpdated, ForecastGenerated},
    inventory::InventoryUpdated,
    procurement::PurchaseOrderReceived,
    replenishment::PurchaseOrderCommand,
};
use composerp_forecasting::zone;
use composerp_replenishment_policy::{Buckets, z_for};
use composerp_runtime::{
    inputs,
    processor::{Context, Processor, Reject},
    timer::{Timer, TimerKind},
};

use crate::{
    evaluate::{Ctx, Occasion, Subject, evaluate},
    orders,
    state::{ItemState, Rate, SiteState, Slot, item_key, roster_key, site_key},
    tables::ReplenishmentTables,
};

inputs! {
    /// Stock positions, forecasts, demand features, planners' commands and receipts, all keyed
    /// tenant|location.
    pub enum ReplenishmentInput {
        "inventory.positions" => Stock(InventoryUpdated),
        "forecasting.forecasts" => Forecast(ForecastGenerated),
        "forecasting.demand-features" => Features(DemandFeaturesUpdated),
        "replenishment.po-commands" => Command(PurchaseOrderCommand),
        "procurement.receipts" => Receipt(PurchaseOrderReceived),
    }
}

/// Evaluates replenishment rules and owns purchase orders.
#[derive(Debug, Default, Clone, Copy)]
pub struct Replenishment;

impl Processor for Replenishment {
    const NAME: &'static str = "replenishment";
    type Input = ReplenishmentInput;
    type State = Slot;
    type Tables = ReplenishmentTables;

    fn process(
        &self,
        input: &ReplenishmentInput,
        ctx: &mut Context<'_, Slot, ReplenishmentTables>,
    ) -> Result<(), Reject> {
        match input {
            ReplenishmentInput::Stock(u) => {
                let s = subject(
                    ctx,
                    &u.tenant_id,
                    &u.location_id,
                    &u.item_id,
                    u.event_id,
                    u.occurred_at,
                );
                update(ctx, &s, "INVENTORY_UPDATED", |state| {
                    let buckets = Buckets {
                        on_hand: u.on_hand,
                        on_order: u.on_order,
                        in_transit: u.in_transit,
                        reserved: u.reserved,
                        backordered: u.backordered,
                        damaged: u.damaged,
                    };
                    // An approved line counts as open until the ledger shows it on order: it
                    // names the approval, or its on-order bucket grew by the line.
                    state.open.retain(|l| match &l.approval {
                        None => true,
                        Some(a) => {
                            a.event_id != u.last_source_event_id
                                && u.on_order < a.on_order_before + l.qty
                        }
                    });
                    state.buckets = Some(buckets);
                });
            }
            ReplenishmentInput::Forecast(f) => {
                let s = subject(
                    ctx,
                    &f.tenant_id,
                    &f.location_id,
                    &f.item_id,
                    f.event_id,
                    f.occurred_at,
                );
                let rate = forecast_rate(f);
                update(ctx, &s, "FORECAST", |state| state.forecast = Some(rate));
            }
            ReplenishmentInput::Features(f) => {
                let s = subject(
                    ctx,
                    &f.tenant_id,
                    &f.location_id,
                    &f.item_id,
                    f.event_id,
                    f.occurred_at,
                );
                let rate = f.mean_28.map(|mean| Rate {
                    means: vec![mean],
                    stds: vec![f.std_28.unwrap_or(0.0)],
                    source: "DEMAND_FEATURES".into(),
                });
                update(ctx, &s, "DEMAND_FEATURES", |state| state.features = rate);
            }
            ReplenishmentInput::Command(c) => orders::command(ctx, c),
            ReplenishmentInput::Receipt(r) => orders::receipt(ctx, r),
        }
        Ok(())
    }

    fn on_timer(&self, timer: &Timer, ctx: &mut Context<'_, Slot, ReplenishmentTables>) {
        end_of_day(ctx, timer);
    }
}

/// The forecast's daily means and each day's spread, read back from its intervals.
fn forecast_rate(f: &ForecastGenerated) -> Rate {
    let means: Vec<f64> = f.points.iter().map(|p| p.mean.max(0.0)).collect();
    let z = f
        .interval_level
        .and_then(|l| z_for(0.5 + f64::from(l) / 200.0).ok())
        .filter(|z| *z > 0.0);
    // The upper bound, since the lower one is floored at zero; a day without an interval
    // ends the spreads (the rest repeat the last one).
    let stds = z.map_or_else(Vec::new, |z| {
        f.points
            .iter()
            .map_while(|p| p.upper.map(|upper| ((upper - p.mean) / z).max(0.0)))
            .collect()
    });
    Rate {
        means,
        stds,
        source: format!("FORECAST {}", f.model.symbol().to_ascii_lowercase()),
    }
}

fn subject<'a>(
    ctx: Ctx<'_, '_>,
    tenant: &'a str,
    location: &'a str,
    item: &'a str,
    cause: EventId,
    at: Timestamp,
) -> Subject<'a> {
    let zone = ctx.tables().zone(tenant, location);
    Subject {
        tenant,
        location,
        item,
        cause,
        at,
        day: zone::day_of(zone, at),
    }
}

/// Applies one item-location input, then evaluates its continuous-review rule.
fn update(ctx: Ctx<'_, '_>, s: &Subject<'_>, on: &'static str, apply: impl FnOnce(&mut ItemState)) {
    let source = ctx.source();
    let key = item_key(s.tenant, s.location, s.item);
    let mut state = match std::mem::take(ctx.state(&key)) {
        Slot::Item(state) => state,
        _ => {
            ensure_site(ctx, s);
            Box::default()
        }
    };
    if !state.applied.reflects(source) {
        state.applied.mark(source);
        apply(&mut state);
        evaluate(ctx, s, &mut state, Occasion::Update(on));
    }
    *ctx.state(&key) = Slot::Item(state);
}

/// Creates the location's state and end-of-day timer on its first record, and lists the item.
fn ensure_site(ctx: Ctx<'_, '_>, s: &Subject<'_>) {
    let key = site_key(s.tenant, s.location);
    let fresh = !matches!(ctx.peek(&key), Some(Slot::Site(_)));
    if fresh {
        *ctx.state(&key) = Slot::Site(SiteState {
            day: s.day,
            ..SiteState::default()
        });
        let zone = ctx.tables().zone(s.tenant, s.location);
        ctx.set_timer(TimerKind::EventTime, &key, zone::end_of_day(zone, s.day));
    }
    let roster = ctx.state(&roster_key(s.tenant, s.location));
    if !matches!(roster, Slot::Roster(_)) {
        *roster = Slot::Roster(Vec::new());
    }
    if let Slot::Roster(items) = roster
        && let Err(i) = items.binary_search_by(|x| x.as_str().cmp(s.item))
    {
        items.insert(i, s.item.to_owned());
    }
}

/// The end of a location's open day: periodic reviews on order days, then the day's orders.
fn end_of_day(ctx: Ctx<'_, '_>, timer: &Timer) {
    let mut parts = timer.name.splitn(3, '|').skip(1);
    let (Some(tenant), Some(location)) = (parts.next(), parts.next()) else {
        return;
    };
    let Some(Slot::Site(mut site)) = ctx.peek(&timer.name).cloned() else {
        return;
    };
    let zone = ctx.tables().zone(tenant, location);
    let day = site.day;
    let end = zone::end_of_day(zone, day);
    let review = EventId::from_name_parts(&[
        b"review",
        tenant.as_bytes(),
        location.as_bytes(),
        &day.to_be_bytes(),
    ]);
    let items = match ctx.peek(&roster_key(tenant, location)) {
        Some(Slot::Roster(items)) => items.clone(),
        _ => Vec::new(),
    };
    for item in &items {
        let key = item_key(tenant, location, item);
        let Some(Slot::Item(_)) = ctx.peek(&key) else {
            continue;
        };
        let Slot::Item(mut state) = std::mem::take(ctx.state(&key)) else {
            continue;
        };
        let s = Subject {
            tenant,
            location,
            item,
            cause: review,
            at: Timestamp(end.0 - 1),
            day,
        };
        evaluate(ctx, &s, &mut state, Occasion::Review);
        *ctx.state(&key) = Slot::Item(state);
    }
    // The reviews added to the basket in the stored site; take it from there.
    let basket = match ctx.state(&timer.name) {
        Slot::Site(stored) => {
            let (now, later) = std::mem::take(&mut stored.basket)
                .into_iter()
                .partition(|l| l.day <= day);
            stored.basket = later;
            now
        }
        _ => Vec::new(),
    };
    orders::release(ctx, tenant, location, day, Timestamp(end.0 - 1), basket);
    if let Slot::Site(stored) = ctx.state(&timer.name) {
        stored.day = day + 1;
        site = stored.clone();
    }
    ctx.set_timer(
        TimerKind::EventTime,
        &timer.name,
        zone::end_of_day(zone, site.day),
    );
}
