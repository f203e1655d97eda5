//! Checks every reference case in `fixtures/replenishment_cases.json` (a
//! verbatim copy of the cases the rules are specified by, generated with
//! scipy and numpy): each decision case through `decide` and `approval`, and
//! each simulation case through `simulate` and `measure`.
//!
//! Every field of each case's `expected` is compared, whatever fields and
//! however many cases the file holds: reals within 1e-9·max(1, |expected|),
//! integers and everything else exactly, nulls as absent values.

use chrono::Weekday;
use composerp_replenishment_policy::{
    AutoApprove, Buckets, DemandRate, LeadTime, OrderDays, Policy, Request, SimConfig, SimPolicy,
    Sourcing, approval, decide, parse_weekday, simulate,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

const FIXTURE: &str = include_str!("fixtures/replenishment_cases.json");

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
    simulation_cases: Vec<SimCase>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    inputs: Inputs,
    expected: Map<String, Value>,
}

#[derive(Deserialize)]
struct Inputs {
    policy: String,
    avg_daily_demand: Option<f64>,
    sigma_daily_demand: Option<f64>,
    lead_time_days: Option<f64>,
    sigma_lead_time_days: Option<f64>,
    service_level: Option<f64>,
    lot_size: Option<i64>,
    order_days: Option<OrderDays>,
    today: Option<String>,
    min_qty: Option<i64>,
    max_qty: Option<i64>,
    moq: i64,
    pack_size: i64,
    max_order_qty: Option<i64>,
    buckets: Buckets,
    open_order: Option<OpenOrder>,
    unit_cost: f64,
    auto_approve: AutoApprove,
}

#[derive(Deserialize)]
struct OpenOrder {
    exists: bool,
    draft_qty: i64,
}

#[derive(Deserialize)]
struct SimCase {
    name: String,
    policy: SimPolicy,
    lead_time_days: u32,
    initial_on_hand: i64,
    warmup_days: u32,
    demand: Vec<i64>,
    expected: Map<String, Value>,
}

fn fixture() -> Fixture {
    serde_json::from_str(FIXTURE).expect("the reference fixture parses")
}

fn need<T>(case: &str, field: &str, value: Option<T>) -> T {
    value.unwrap_or_else(|| panic!("{case}: input `{field}` is missing"))
}

fn request(case: &str, i: &Inputs) -> Request {
    let policy = match i.policy.as_str() {
        "sQ" => Policy::SQ {
            lot_size: need(case, "lot_size", i.lot_size),
        },
        "sS" => Policy::SS {
            lot_size: need(case, "lot_size", i.lot_size),
        },
        "RS" => Policy::RS {
            order_days: need(case, "order_days", i.order_days),
        },
        "minmax" => Policy::MinMax {
            min: need(case, "min_qty", i.min_qty),
            max: need(case, "max_qty", i.max_qty),
        },
        other => panic!("{case}: unknown policy {other}"),
    };
    let today = match &i.today {
        Some(code) => parse_weekday(code).unwrap_or_else(|| panic!("{case}: bad today {code}")),
        // Only (R,S) looks at the weekday; any day serves the others.
        None => Weekday::Mon,
    };
    // min/max cases carry no statistics; the policy ignores these values.
    Request {
        policy,
        service_level: i.service_level.unwrap_or(0.5),
        demand: DemandRate {
            mean: i.avg_daily_demand.unwrap_or(0.0),
            std: i.sigma_daily_demand.unwrap_or(0.0),
        },
        lead_time: LeadTime {
            mean_days: i.lead_time_days.unwrap_or(0.0),
            std_days: i.sigma_lead_time_days.unwrap_or(0.0),
        },
        sourcing: Sourcing {
            moq: i.moq,
            pack_size: i.pack_size,
            max_order_qty: i.max_order_qty,
        },
        buckets: i.buckets,
        open_draft_qty: i
            .open_order
            .as_ref()
            .filter(|o| o.exists)
            .map(|o| o.draft_qty),
        today,
    }
}

/// Compares `expected` with `actual` at `path`, recording every mismatch.
fn compare(path: &str, expected: &Value, actual: &Value, failures: &mut Vec<String>) {
    let ok = match (expected, actual) {
        (Value::Null, Value::Null) => true,
        (Value::Number(e), Value::Number(a)) if a.is_f64() => match e.as_f64() {
            Some(e) => (a.as_f64().unwrap_or(f64::NAN) - e).abs() <= 1e-9 * e.abs().max(1.0),
            None => false,
        },
        // Quantities are integers on our side and must match exactly.
        (Value::Number(e), Value::Number(a)) => e.as_i64().is_some() && e.as_i64() == a.as_i64(),
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (k, (e, a)) in e.iter().zip(a).enumerate() {
                compare(&format!("{path}[{k}]"), e, a, failures);
            }
            true
        }
        (Value::Object(e), Value::Object(a)) => {
            for (key, e) in e {
                match a.get(key) {
                    Some(a) => compare(&format!("{path}.{key}"), e, a, failures),
                    None => failures.push(format!("{path}.{key}: expected {e}, not produced")),
                }
            }
            true
        }
        (e, a) => e == a,
    };
    if !ok {
        failures.push(format!("{path}: expected {expected}, got {actual}"));
    }
}

#[test]
fn every_decision_case_matches() {
    let fx = fixture();
    assert!(!fx.cases.is_empty(), "the fixture has no decision cases");
    let mut failures = Vec::new();
    for case in &fx.cases {
        let req = request(&case.name, &case.inputs);
        let decision =
            decide(&req).unwrap_or_else(|e| panic!("{}: decide refused it: {e}", case.name));
        let mut actual = serde_json::to_value(&decision).expect("a decision serializes");
        // Value and PO status exist only for an order, as in the fixture.
        let (value, status) = if decision.should_order {
            let a = approval(
                decision.order_qty,
                case.inputs.unit_cost,
                &case.inputs.auto_approve,
            );
            (json!(a.order_value), json!(a.status))
        } else {
            (Value::Null, Value::Null)
        };
        if let Value::Object(map) = &mut actual {
            map.insert("order_value".into(), value);
            map.insert("po_status".into(), status);
        }
        compare(
            &case.name,
            &Value::Object(case.expected.clone()),
            &actual,
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_simulation_case_matches() {
    let fx = fixture();
    assert!(
        !fx.simulation_cases.is_empty(),
        "the fixture has no simulation cases"
    );
    let mut failures = Vec::new();
    for case in &fx.simulation_cases {
        let config = SimConfig {
            policy: case.policy,
            lead_time_days: case.lead_time_days,
            initial_on_hand: case.initial_on_hand,
            warmup_days: case.warmup_days,
        };
        let run = simulate(&config, &case.demand)
            .unwrap_or_else(|e| panic!("{}: simulate refused it: {e}", case.name));
        let m = &run.measures;
        let actual = json!({
            "orders_placed": run.orders.len(),
            "order_log": run.orders,
            "total_demand": m.total_demand,
            "served": m.served,
            "lost": m.lost,
            "fill_rate": m.fill_rate,
            "in_stock_day_rate": m.in_stock_day_rate,
            "cycles_counted": m.cycles_counted,
            "cycles_without_stockout": m.cycles_without_stockout,
            "cycle_service_level": m.cycle_service_level,
            "end_on_hand": run.end_on_hand,
        });
        compare(
            &case.name,
            &Value::Object(case.expected.clone()),
            &actual,
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
