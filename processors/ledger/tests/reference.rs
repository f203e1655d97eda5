//! The reference cases of `tests/fixtures/ledger_cases.json`, computed by an independent
//! implementation of docs/domain.md, run through the ledger core.

use std::collections::{BTreeMap, HashSet};

use composerp_events::{EventId, Timestamp};
use composerp_ledger::{MovementKind, Position};
use serde_json::Value;

struct Loc {
    kind: String,
    reorder_point: i64,
    rearm_margin: i64,
    position: Position,
}

/// The input as the reference writes it, mapped to a movement; None when it is not a valid
/// movement at all (unknown type, a quantity that is not an integer, a missing field).
fn movement(ev: &Value) -> Option<(String, Timestamp, MovementKind)> {
    let s = |k: &str| ev.get(k).and_then(Value::as_str).map(str::to_owned);
    let qty = || ev.get("qty").and_then(Value::as_i64);
    let cost = ev.get("unit_cost").and_then(Value::as_f64);
    let at = chrono::DateTime::parse_from_rfc3339(&s("event_time")?).ok()?;
    let location = s("location")?;
    s("event_id")?;
    let kind = match s("type")?.as_str() {
        "SALE" => MovementKind::Sale {
            qty: qty()?,
            reservation: s("reservation_id"),
        },
        "RETURN" => MovementKind::Return {
            qty: qty()?,
            damaged: s("condition").as_deref() == Some("DAMAGED"),
            unit_cost: cost,
        },
        "RECEIPT" => MovementKind::Receipt {
            line: s("po_line")?,
            qty: qty()?,
            unit_cost: cost,
        },
        "PO_APPROVED" => MovementKind::PoApproved {
            line: s("po_line")?,
            qty: qty()?,
        },
        "PO_CANCELLED" => MovementKind::PoCancelled {
            line: s("po_line")?,
        },
        "TRANSFER_OUT" => MovementKind::TransferOut {
            to: s("to_location")?,
            transfer: s("transfer_id")?,
            qty: qty()?,
        },
        "TRANSFER_IN" => MovementKind::TransferIn {
            transfer: s("transfer_id")?,
            qty: qty()?,
            unit_cost: cost,
        },
        "ADJUSTMENT" => match s("mode")?.as_str() {
            "DELTA" => MovementKind::Delta {
                qty: qty()?,
                unit_cost: cost,
            },
            "SET" => MovementKind::Set {
                counted: ev.get("counted_qty")?.as_i64()?,
                unit_cost: cost,
            },
            _ => return None,
        },
        "DAMAGE" => MovementKind::Damage { qty: qty()? },
        "WRITE_OFF" => MovementKind::WriteOff {
            qty: qty()?,
            damaged: s("source").as_deref() != Some("SELLABLE"),
        },
        "RESERVE" => MovementKind::Reserve {
            id: s("reservation_id")?,
            qty: qty()?,
        },
        "RELEASE" => MovementKind::Release {
            id: s("reservation_id")?,
            qty: qty()?,
        },
        "BACKORDER" => MovementKind::Backorder {
            order: s("order_ref")?,
            qty: qty()?,
        },
        "BACKORDER_FILL" => MovementKind::BackorderFill {
            order: s("order_ref")?,
            qty: qty()?,
        },
        _ => return None,
    };
    Some((location, Timestamp(at.timestamp_micros()), kind))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(1.0)
}

#[test]
fn every_reference_case_matches() {
    let doc: Value =
        serde_json::from_str(include_str!("fixtures/ledger_cases.json")).expect("fixture parses");
    let cases = doc["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 10);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let mut locs: BTreeMap<String, Loc> = case["locations"]
            .as_object()
            .expect("locations")
            .iter()
            .map(|(k, v)| {
                let loc = Loc {
                    kind: v["type"].as_str().expect("type").to_owned(),
                    reorder_point: v["reorder_point"].as_i64().expect("rop"),
                    rearm_margin: v.get("rearm_margin").and_then(Value::as_i64).unwrap_or(0),
                    position: Position::default(),
                };
                (k.clone(), loc)
            })
            .collect();
        let (mut seen, mut duplicates, mut rejected) = (HashSet::new(), 0, 0);
        let trace = case["available_trace"].as_array().expect("trace");
        let mut trace_i = 0;
        for ev in case["events"].as_array().expect("events") {
            let id = ev["event_id"].as_str().map(EventId::from_name);
            if let Some(id) = id
                && !seen.insert(id)
            {
                duplicates += 1;
                continue;
            }
            let Some((location, at, kind)) = movement(ev) else {
                rejected += 1;
                continue;
            };
            if kind.validate(&location).is_err() {
                rejected += 1;
                continue;
            }
            let mut touched = vec![location.clone()];
            let applied = locs
                .get_mut(&location)
                .expect("declared location")
                .position
                .apply(&kind, at);
            assert!(applied.is_ok(), "{name}: {applied:?}");
            if let MovementKind::TransferOut { to, transfer, qty } = &kind {
                let inbound = MovementKind::TransferShippedIn {
                    transfer: transfer.clone(),
                    qty: *qty,
                };
                locs.get_mut(to)
                    .expect("destination")
                    .position
                    .apply(&inbound, at)
                    .expect("inbound");
                touched.push(to.clone());
            }
            for l in touched {
                let loc = locs.get_mut(&l).expect("touched");
                loc.position
                    .evaluate_alert(loc.reorder_point, loc.rearm_margin);
            }
            let row = &trace[trace_i];
            trace_i += 1;
            assert_eq!(row["event_id"], ev["event_id"], "{name}: trace order");
            for (l, loc) in &locs {
                assert_eq!(
                    Some(loc.position.buckets().available()),
                    row[l].as_i64(),
                    "{name}: available at {l} after {}",
                    ev["event_id"]
                );
            }
        }
        assert_eq!(
            trace_i,
            trace.len(),
            "{name}: one trace row per applied event"
        );
        let want = &case["expected"];
        assert_eq!(
            duplicates,
            want["duplicates_ignored"].as_i64().expect("dups"),
            "{name}: duplicates"
        );
        assert_eq!(
            rejected,
            want["rejected"].as_i64().expect("rejected"),
            "{name}: rejected"
        );
        let mut total_alerts = 0;
        for (l, loc) in &locs {
            let w = &want["locations"][l];
            let b = loc.position.buckets();
            let p = &loc.position;
            let got = [
                ("on_hand", b.on_hand),
                ("on_order", b.on_order),
                ("in_transit", b.in_transit),
                ("reserved", b.reserved),
                ("damaged", b.damaged),
                ("backordered", b.backordered),
                ("available", b.available()),
                ("available_raw", b.available_raw()),
                ("inventory_position", b.inventory_position()),
                ("ledger_entries", p.ledger_entries()),
                ("superseded_entries", p.superseded_entries() as i64),
                ("negative_on_hand_entries", p.negative_entries() as i64),
                ("low_stock_events", p.alerts() as i64),
            ];
            for (field, v) in got {
                assert_eq!(Some(v), w[field].as_i64(), "{name}: {l}.{field}");
            }
            let kind = if loc.kind == "STORE" { "SSLE" } else { "WSLE" };
            assert_eq!(w["ledger_kind"], kind, "{name}: {l}.ledger_kind");
            match (p.valuation_rate(), w["valuation_rate"].as_f64()) {
                (Some(a), Some(b)) => assert!(close(a, b), "{name}: {l}.valuation_rate {a} vs {b}"),
                (a, b) => assert_eq!(a, b, "{name}: {l}.valuation_rate"),
            }
            let cogs = w["cogs"].as_f64().expect("cogs");
            assert!(
                close(p.cogs(), cogs),
                "{name}: {l}.cogs {} vs {cogs}",
                p.cogs()
            );
            total_alerts += p.alerts() as i64;
        }
        assert_eq!(
            total_alerts,
            want["low_stock_events_total"].as_i64().expect("total"),
            "{name}"
        );
    }
}
