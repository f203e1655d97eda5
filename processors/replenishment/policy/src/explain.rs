//! A planner-readable sentence for a [`Decision`]: the position and what it is
//! made of, the level it was compared with and how that level was built, and
//! how the need became the order quantity.

use std::fmt::Write;

use crate::decide::{Decision, Reason};
use crate::inputs::Policy;

/// One or two sentences with the numbers, saying why the decision orders or not.
pub fn explain(d: &Decision) -> String {
    let mut out = position(d);
    let cmp = if (d.effective_ip as f64) < d.trigger_level {
        "<"
    } else {
        "≥"
    };
    let _ = write!(out, " {cmp} {}", level(d));
    match d.reason {
        Reason::Order => {
            out.push_str("; ");
            out.push_str(&quantity(d));
        }
        Reason::AboveTrigger => out.push_str(": no order."),
        Reason::SuppressedOpenOrder => {
            let _ = write!(
                out,
                ": IP {} alone is below it, but the open draft already covers the need, so no new order.",
                d.inventory_position
            );
        }
        Reason::NotReviewDay => {
            let next = d
                .review_period_days
                .map_or(String::new(), |r| format!(" (next in {r} days)"));
            let _ = write!(
                out,
                ": today is not one of the rule's order days{next}, so no order."
            );
        }
    }
    out
}

/// "IP 57 (on hand 40 + on order 20 − reserved 3)", plus the open draft if any.
fn position(d: &Decision) -> String {
    let b = &d.buckets;
    let mut terms = format!("on hand {}", b.on_hand);
    for (sign, name, qty) in [
        ("−", "damaged", b.damaged),
        ("+", "on order", b.on_order),
        ("+", "in transit", b.in_transit),
        ("−", "reserved", b.reserved),
        ("−", "backordered", b.backordered),
    ] {
        // Empty buckets only lengthen the sentence.
        if qty != 0 {
            let _ = write!(terms, " {sign} {name} {qty}");
        }
    }
    let mut out = format!("IP {} ({terms})", d.inventory_position);
    if let Some(draft) = d.open_draft_qty {
        let _ = write!(out, " + open draft {draft} = {}", d.effective_ip);
    }
    out
}

/// The trigger level and how it was built.
fn level(d: &Decision) -> String {
    let ss = match (d.expected_demand, d.safety_stock, d.z, d.service_level) {
        (Some(mean), Some(ss), Some(z), Some(sl)) => Some((mean, ss, z, sl)),
        _ => None,
    };
    let why_ss = |z: f64, sl: f64| format!("z {z:.3} for {} %", percent(sl));
    match (d.policy, ss) {
        (Policy::SQ { .. } | Policy::SS { .. }, Some((mean, ss, z, sl))) => {
            let mut s = format!(
                "s {} = d·L {} + SS {} ({})",
                num(d.trigger_level),
                num(mean),
                num(ss),
                why_ss(z, sl)
            );
            if let (Policy::SS { lot_size }, Some(big_s)) = (d.policy, d.order_up_to) {
                let _ = write!(s, ", S {} = s + {lot_size}", num(big_s));
            }
            s
        }
        (Policy::RS { .. }, Some((mean, ss, z, sl))) => {
            let r = d.review_period_days.unwrap_or(0);
            let l = d.lead_time.map_or(0.0, |l| l.mean_days);
            format!(
                "S {} = d·(R+L) {} + SS {} (R {r} + L {} days, {})",
                num(d.trigger_level),
                num(mean),
                num(ss),
                num(l),
                why_ss(z, sl)
            )
        }
        (Policy::MinMax { min, max }, _) => format!("min {min} (max {max})"),
        // Statistical policies always carry their statistics; keep a
        // sensible sentence even for a hand-built decision that does not.
        _ => format!("trigger {}", num(d.trigger_level)),
    }
}

/// "need 96 → 1 lot of 96; MOQ 24, pack 24 → order 96".
fn quantity(d: &Decision) -> String {
    let raw = d.raw_need.unwrap_or(0.0);
    let mut out = match (d.policy, d.lots, d.order_up_to) {
        (Policy::SQ { lot_size }, Some(n), _) => {
            let lots = if n == 1 { "lot" } else { "lots" };
            format!("need {} → {n} {lots} of {lot_size}", num(raw))
        }
        (policy, _, Some(big_s)) => {
            // min/max planners know the order-up-to level as "max".
            let name = if let Policy::MinMax { .. } = policy {
                "max"
            } else {
                "S"
            };
            let eff = d.effective_ip;
            format!("need {name} {} − {eff} = {}", num(big_s), num(raw))
        }
        _ => format!("need {}", num(raw)),
    };
    let s = &d.sourcing;
    let _ = write!(out, "; MOQ {}, pack {}", s.moq, s.pack_size);
    if let Some(q) = d.qty_after_pack
        && d.capped
    {
        let max = s.max_order_qty.unwrap_or(d.order_qty);
        let _ = write!(out, " → {q}, capped at max {max} → order {}.", d.order_qty);
    } else {
        let _ = write!(out, " → order {}.", d.order_qty);
    }
    out
}

/// Whole numbers without decimals, others to two places.
fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// 0.95 → "95", 0.999 → "99.9".
fn percent(sl: f64) -> String {
    let p = format!("{:.2}", sl * 100.0);
    p.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use chrono::Weekday;

    use super::*;
    use crate::days::OrderDays;
    use crate::decide::{Request, decide};
    use crate::inputs::{Buckets, DemandRate, LeadTime, Sourcing};

    fn request(policy: Policy) -> Request {
        Request {
            policy,
            service_level: 0.95,
            demand: DemandRate {
                mean: 12.0,
                std: 4.0,
            },
            lead_time: LeadTime {
                mean_days: 5.0,
                std_days: 1.0,
            },
            sourcing: Sourcing {
                moq: 24,
                pack_size: 24,
                max_order_qty: None,
            },
            buckets: Buckets {
                on_hand: 40,
                on_order: 20,
                reserved: 3,
                ..Buckets::default()
            },
            open_draft_qty: None,
            today: Weekday::Mon,
        }
    }

    #[test]
    fn sq_order_reads_as_the_brief() {
        let d = decide(&request(Policy::SQ { lot_size: 96 })).expect("valid");
        assert_eq!(
            explain(&d),
            "IP 57 (on hand 40 + on order 20 − reserved 3) < s 84.62 = d·L 60 + SS 24.62 \
             (z 1.645 for 95 %); need 96 → 1 lot of 96; MOQ 24, pack 24 → order 96."
        );
    }

    #[test]
    fn each_reason_has_its_own_ending() {
        let mut req = request(Policy::SQ { lot_size: 96 });
        req.buckets.on_hand = 200;
        assert!(explain(&decide(&req).expect("valid")).ends_with(": no order."));

        req.buckets.on_hand = 40;
        req.open_draft_qty = Some(48);
        let text = explain(&decide(&req).expect("valid"));
        assert!(text.contains("+ open draft 48 = 105"), "{text}");
        assert!(text.contains("open draft already covers"), "{text}");

        req.policy = Policy::RS {
            order_days: OrderDays::new(&[Weekday::Thu]),
        };
        let text = explain(&decide(&req).expect("valid"));
        assert!(
            text.contains("not one of the rule's order days (next in 3 days)"),
            "{text}"
        );
    }

    #[test]
    fn capped_and_min_max_orders_say_so() {
        let mut req = request(Policy::SS { lot_size: 500 });
        req.sourcing.max_order_qty = Some(100);
        let text = explain(&decide(&req).expect("valid"));
        assert!(text.contains(", S 584.62 = s + 500"), "{text}");
        assert!(text.contains("capped at max 100 → order 96."), "{text}");

        req.policy = Policy::MinMax { min: 60, max: 90 };
        let text = explain(&decide(&req).expect("valid"));
        assert!(
            text.contains("< min 60 (max 90); need max 90 − 57 = 33"),
            "{text}"
        );
        assert_eq!(percent(0.999), "99.9");
    }
}
