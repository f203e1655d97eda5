//! Rule evaluation for one item-location: the rule that applies, the supplier, the demand rate,
//! the decision of [`composerp_replenishment_policy::decide`], and what it publishes.

use chrono::{Datelike, Weekday as Day};
use composerp_events::{
    EventId, Money, Timestamp,
    replenishment::{ReplenishmentPolicy, ReplenishmentTriggered, TriggerOutcome, Weekday},
};
use composerp_replenishment_policy::{
    DemandRate, OrderDays, Policy, Reason, Request, choose_supplier, days_to_next_order_day,
    decide, explain,
};
use composerp_runtime::processor::Context;

use crate::{
    state::{BasketLine, ItemState, OpenLine, Slot, po_number, site_key},
    tables::ReplenishmentTables,
};

/// The context the processor works through.
pub type Ctx<'c, 'a> = &'c mut Context<'a, Slot, ReplenishmentTables>;

/// What made a rule run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    /// A stock update, forecast or features (continuous review: (s,Q), (s,S), min/max).
    Update(&'static str),
    /// The location's end of an order day ((R,S) only).
    Review,
}

impl Occasion {
    fn label(self) -> &'static str {
        match self {
            Occasion::Update(on) => on,
            Occasion::Review => "REVIEW_DAY",
        }
    }
}

/// Which item-location, when and why.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Location.
    pub location: &'a str,
    /// Item.
    pub item: &'a str,
    /// The event that made it run.
    pub cause: EventId,
    /// Its business time.
    pub at: Timestamp,
    /// The local day it falls in (days since 1970-01-01).
    pub day: i32,
}

fn day_of_week(w: Weekday) -> Day {
    match w {
        Weekday::MON => Day::Mon,
        Weekday::TUE => Day::Tue,
        Weekday::WED => Day::Wed,
        Weekday::THU => Day::Thu,
        Weekday::FRI => Day::Fri,
        Weekday::SAT => Day::Sat,
        Weekday::SUN => Day::Sun,
    }
}

/// Why a rule could not be evaluated, counted in `composerp_replenishment_skipped_total`.
fn skipped(reason: &'static str) {
    metrics::counter!("composerp_replenishment_skipped_total", "reason" => reason).increment(1);
}

/// Evaluates the rule of `s` on `state` when `occasion` is one its policy reviews on, and
/// publishes the trigger and basket line an order needs.
pub fn evaluate(ctx: Ctx<'_, '_>, s: &Subject<'_>, state: &mut ItemState, occasion: Occasion) {
    let tables = ctx.tables();
    let Some(applied) = tables.rule(s.tenant, s.location, s.item) else {
        return;
    };
    let (rule, rule_source) = (applied.rule, applied.source);
    let periodic = rule.policy == ReplenishmentPolicy::R_S;
    if periodic != (occasion == Occasion::Review) {
        return;
    }
    let Some(buckets) = state.buckets else {
        return skipped("no_position");
    };
    let offers = tables.offers(s.tenant, s.item);
    let Some((chosen, why)) = choose_supplier(offers, rule.supplier_id.as_deref()) else {
        return skipped("no_supplier");
    };
    let terms = &offers[chosen];
    let today = composerp_forecasting::zone::date(s.day).weekday();
    let policy = match rule.policy {
        ReplenishmentPolicy::S_Q | ReplenishmentPolicy::S_S => {
            let Some(lot_size) = rule.order_quantity.filter(|q| *q >= 1) else {
                return skipped("rule_without_lot_size");
            };
            if rule.policy == ReplenishmentPolicy::S_Q {
                Policy::SQ { lot_size }
            } else {
                Policy::SS { lot_size }
            }
        }
        ReplenishmentPolicy::R_S => {
            let days = if rule.order_days.is_empty() {
                &terms.order_days
            } else {
                &rule.order_days
            };
            let days: Vec<Day> = days.iter().copied().map(day_of_week).collect();
            Policy::RS {
                order_days: OrderDays::new(&days),
            }
        }
        ReplenishmentPolicy::MIN_MAX => match (rule.min_qty, rule.max_qty) {
            (Some(min), Some(max)) if max >= min => Policy::MinMax { min, max },
            _ => return skipped("rule_without_min_max"),
        },
    };
    let lead_time = terms.terms.lead_time;
    let demand = match (policy.is_statistical(), state.rate()) {
        (true, None) => return skipped("no_demand_rate"),
        (true, Some(rate)) => {
            // Sized over the protection period the policy covers: L, or R + L for (R,S).
            let review = match policy {
                Policy::RS { order_days } => {
                    days_to_next_order_day(&order_days, today).unwrap_or(1) as f64
                }
                _ => 0.0,
            };
            let horizon = lead_time.mean_days + review;
            rate.over(horizon)
        }
        (false, _) => DemandRate::default(),
    };
    let supplier = terms.terms.supplier_id.as_str();
    let open: i64 = state
        .open
        .iter()
        .filter(|l| l.approval.is_some() || l.supplier == supplier)
        .map(|l| l.qty)
        .sum();
    let request = Request {
        policy,
        service_level: rule.service_level,
        demand,
        lead_time,
        sourcing: terms.terms.sourcing,
        buckets,
        open_draft_qty: (!state.open.is_empty()).then_some(open),
        today,
    };
    let decision = match decide(&request) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(tenant = s.tenant, location = s.location, item = s.item, error = %e, "Replenishment rule not evaluated.");
            return skipped("invalid_input");
        }
    };
    let outcome = match decision.reason {
        Reason::Order => TriggerOutcome::ORDER,
        Reason::SuppressedOpenOrder if state.suppressed_at != Some(open) => {
            state.suppressed_at = Some(open);
            TriggerOutcome::SUPPRESSED_OPEN_ORDER
        }
        Reason::SuppressedOpenOrder => return,
        Reason::AboveTrigger | Reason::NotReviewDay => {
            state.suppressed_at = None;
            return;
        }
    };
    let unit_cost = terms.unit_cost;
    let ordered = outcome == TriggerOutcome::ORDER;
    // A line joins the order of the location's open day; an update from the next local day
    // that arrives before the open day's end fired (the watermark trails) joins the next one.
    let site_day = match ctx.peek(&site_key(s.tenant, s.location)) {
        Some(Slot::Site(site)) => site.day,
        _ => s.day,
    };
    let order_day = s.day.max(site_day);
    let po = ordered.then(|| po_number(s.location, supplier, order_day));
    let event_id = EventId::from_name_parts(&[
        b"replenishment-triggered",
        s.tenant.as_bytes(),
        s.location.as_bytes(),
        s.item.as_bytes(),
        s.cause.0.as_bytes(),
        occasion.label().as_bytes(),
    ]);
    let b = decision.buckets;
    let trigger = ReplenishmentTriggered {
        event_id,
        tenant_id: s.tenant.to_owned(),
        occurred_at: s.at,
        produced_at: ctx.now(),
        source: "composerp:replenishment".into(),
        location_id: s.location.to_owned(),
        item_id: s.item.to_owned(),
        supplier_id: supplier.to_owned(),
        policy: rule.policy,
        inventory_position: decision.effective_ip,
        reorder_level: decision.trigger_level,
        order_up_to: decision.order_up_to,
        safety_stock: decision.safety_stock.unwrap_or(0.0),
        demand_per_day: demand.mean,
        demand_std_per_day: demand.std,
        lead_time_days: lead_time.mean_days,
        lead_time_std_days: lead_time.std_days,
        service_level: rule.service_level,
        order_quantity: if ordered { decision.order_qty } else { 0 },
        outcome,
        explanation: explain(&decision),
        source_event_id: s.cause,
        evaluated_on: occasion.label().into(),
        rule_source: rule_source.to_string(),
        demand_source: match state.rate() {
            Some(rate) if policy.is_statistical() => rate.source.clone(),
            _ => "NONE (min/max)".to_owned(),
        },
        supplier_reason: why.code().into(),
        position_before_open_orders: decision.inventory_position,
        open_order_quantity: decision.effective_ip - decision.inventory_position,
        on_hand: b.on_hand,
        on_order: b.on_order,
        in_transit: b.in_transit,
        reserved: b.reserved,
        backordered: b.backordered,
        damaged: b.damaged,
        z: decision.z,
        protection_days: decision.protection_days,
        review_period_days: decision.review_period_days.map(|r| r as i32),
        lots: decision.lots,
        raw_need: decision.raw_need,
        quantity_after_moq: decision.qty_after_moq,
        quantity_after_pack: decision.qty_after_pack,
        capped: decision.capped,
        moq: terms.terms.sourcing.moq,
        pack_size: terms.terms.sourcing.pack_size,
        max_order_qty: terms.terms.sourcing.max_order_qty,
        unit_cost: Some(unit_cost),
        order_value: ordered.then(|| Money(decision.order_qty.saturating_mul(unit_cost.0))),
        po_number: po.clone(),
    };
    ctx.emit(&trigger);
    if !ordered {
        return;
    }
    metrics::counter!("composerp_replenishment_orders_total").increment(1);
    state.suppressed_at = None;
    state.open.push(OpenLine {
        supplier: supplier.to_owned(),
        po_number: None,
        qty: decision.order_qty,
        approval: None,
    });
    let line = BasketLine {
        supplier: supplier.to_owned(),
        item: s.item.to_owned(),
        qty: decision.order_qty,
        unit_cost,
        currency: terms.currency.clone(),
        lead_time_days: lead_time.mean_days,
        trigger: event_id,
        day: order_day,
    };
    if let Slot::Site(site) = ctx.state(&site_key(s.tenant, s.location)) {
        site.basket.push(line);
    }
}
