//! Hand-checked decisions: each policy, the rounding steps, review days, the
//! open-draft suppression and the refused inputs.

use chrono::Weekday;

use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

/// d = 10/day, L = 4 days, no variability, SL 0.9: SS = 0 and d·L = 40.
fn request(policy: Policy, on_hand: i64) -> Request {
    Request {
        policy,
        service_level: 0.9,
        demand: DemandRate {
            mean: 10.0,
            std: 0.0,
        },
        lead_time: LeadTime {
            mean_days: 4.0,
            std_days: 0.0,
        },
        sourcing: Sourcing::default(),
        buckets: Buckets {
            on_hand,
            ..Buckets::default()
        },
        open_draft_qty: None,
        today: Weekday::Mon,
    }
}

fn sourcing(moq: i64, pack_size: i64, max_order_qty: Option<i64>) -> Sourcing {
    Sourcing {
        moq,
        pack_size,
        max_order_qty,
    }
}

#[test]
fn safety_stock_is_z_times_sigma_over_the_protection_period() {
    // Φ(1) = 0.8413447460685429, so z ≈ 1 and SS ≈ σ = √(4·2² + 10²·1²) = √116.
    let mut req = request(Policy::SQ { lot_size: 50 }, 0);
    req.service_level = 0.841_344_746_068_542_9;
    req.demand.std = 2.0;
    req.lead_time.std_days = 1.0;
    let d = decide(&req).expect("valid");
    assert!(close(d.z.expect("z"), 1.0));
    assert!(close(d.sigma_protection.expect("σ"), 116f64.sqrt()));
    assert!(close(d.safety_stock.expect("SS"), 116f64.sqrt()));
    assert!(close(d.trigger_level, 40.0 + 116f64.sqrt()));
    assert_eq!(d.protection_days, Some(4.0));
}

#[test]
fn sq_orders_one_lot_below_s_and_none_at_s() {
    let d = decide(&request(Policy::SQ { lot_size: 50 }, 35)).expect("valid");
    assert_eq!(
        (d.reason, d.lots, d.order_qty),
        (Reason::Order, Some(1), 50)
    );
    assert_eq!(d.reorder_point, Some(40.0));
    assert_eq!(d.order_up_to, None);

    let d = decide(&request(Policy::SQ { lot_size: 50 }, 40)).expect("valid");
    assert_eq!(
        (d.reason, d.should_order, d.order_qty),
        (Reason::AboveTrigger, false, 0)
    );
    assert_eq!((d.lots, d.raw_need), (None, None));
}

#[test]
fn sq_orders_enough_lots_to_reach_s() {
    // IP −100: two lots reach 0 < 40, three reach 50 ≥ 40.
    let mut req = request(Policy::SQ { lot_size: 50 }, 0);
    req.buckets.backordered = 100;
    let d = decide(&req).expect("valid");
    assert_eq!(
        (d.inventory_position, d.lots, d.order_qty),
        (-100, Some(3), 150)
    );
}

#[test]
fn ss_orders_up_to_s_plus_lot() {
    // s = 40, S = 40 + 25 = 65, IP 30: need 35.
    let d = decide(&request(Policy::SS { lot_size: 25 }, 30)).expect("valid");
    assert_eq!(d.order_up_to, Some(65.0));
    assert_eq!((d.raw_need, d.order_qty, d.lots), (Some(35.0), 35, None));
}

#[test]
fn rs_single_weekly_day_covers_seven_days_plus_lead_time() {
    let wed = OrderDays::new(&[Weekday::Wed]);
    let mut req = request(Policy::RS { order_days: wed }, 20);
    req.today = Weekday::Wed;
    let d = decide(&req).expect("valid");
    // S = 10 · (7 + 4) = 110, need 90.
    assert_eq!(d.review_period_days, Some(7));
    assert_eq!(d.protection_days, Some(11.0));
    assert_eq!((d.order_up_to, d.reorder_point), (Some(110.0), None));
    assert_eq!(
        (d.is_review_day, d.reason, d.order_qty),
        (true, Reason::Order, 90)
    );

    // Thursday is not an order day: the levels still show the next review
    // (R = 6 to next Wednesday), but nothing is ordered though IP < S.
    req.today = Weekday::Thu;
    let d = decide(&req).expect("valid");
    assert_eq!(d.review_period_days, Some(6));
    assert_eq!(d.order_up_to, Some(100.0));
    assert_eq!(
        (d.is_review_day, d.reason, d.order_qty),
        (false, Reason::NotReviewDay, 0)
    );
    assert_eq!(d.raw_need, None);
}

#[test]
fn rs_twice_weekly_and_empty_order_days() {
    let mon_thu = OrderDays::new(&[Weekday::Mon, Weekday::Thu]);
    let d = decide(&request(
        Policy::RS {
            order_days: mon_thu,
        },
        0,
    ))
    .expect("valid");
    assert_eq!((d.review_period_days, d.order_up_to), (Some(3), Some(70.0)));

    // The rule schema's empty list means every day: R = 1.
    let d = decide(&request(
        Policy::RS {
            order_days: OrderDays::NONE,
        },
        0,
    ))
    .expect("valid");
    assert_eq!((d.review_period_days, d.is_review_day), (Some(1), true));
    assert_eq!(d.order_qty, 50);
}

#[test]
fn min_max_is_static() {
    let policy = Policy::MinMax { min: 20, max: 50 };
    let d = decide(&request(policy, 19)).expect("valid");
    assert_eq!((d.trigger_level, d.order_up_to), (20.0, Some(50.0)));
    assert_eq!((d.order_qty, d.z, d.safety_stock), (31, None, None));
    assert_eq!(
        decide(&request(policy, 20)).expect("valid").reason,
        Reason::AboveTrigger
    );

    // Its statistics are not used, so an unset service level is no error.
    let mut req = request(policy, 0);
    req.service_level = 0.0;
    assert!(decide(&req).is_ok());
    req.policy = Policy::MinMax { min: 60, max: 50 };
    assert_eq!(
        decide(&req),
        Err(PolicyError::InvalidMinMax { min: 60, max: 50 })
    );
}

#[test]
fn open_draft_suppresses_only_what_it_covers() {
    let mut req = request(Policy::SQ { lot_size: 50 }, 30);
    req.open_draft_qty = Some(10);
    let d = decide(&req).expect("valid");
    assert_eq!((d.inventory_position, d.effective_ip), (30, 40));
    assert_eq!((d.reason, d.order_qty), (Reason::SuppressedOpenOrder, 0));

    // A draft too small to reach s still lets the rest be ordered.
    req.open_draft_qty = Some(5);
    let d = decide(&req).expect("valid");
    assert_eq!((d.reason, d.order_qty), (Reason::Order, 50));

    // IP already at s: an open draft changes nothing.
    req.buckets.on_hand = 40;
    assert_eq!(decide(&req).expect("valid").reason, Reason::AboveTrigger);

    req.open_draft_qty = Some(-1);
    assert_eq!(decide(&req), Err(PolicyError::InvalidDraftQty(-1)));
}

#[test]
fn moq_binds_before_packs() {
    let r = round_order(3.2, &sourcing(10, 4, None)).expect("valid");
    assert_eq!(
        (r.qty_after_moq, r.qty_after_pack, r.order_qty, r.capped),
        (10, 12, 12, false)
    );
}

#[test]
fn packs_round_up() {
    let r = round_order(13.0, &sourcing(1, 6, None)).expect("valid");
    assert_eq!(
        (r.qty_after_moq, r.qty_after_pack, r.order_qty),
        (13, 18, 18)
    );
    let r = round_order(12.000_000_1, &sourcing(1, 6, None)).expect("valid");
    assert_eq!(r.order_qty, 18);
}

#[test]
fn cap_binds_in_whole_packs() {
    // 96 after packs; the cap of 50 holds 4 packs of 12 = 48.
    let r = round_order(95.0, &sourcing(1, 12, Some(50))).expect("valid");
    assert_eq!((r.qty_after_pack, r.order_qty, r.capped), (96, 48, true));
    // Exactly at the cap's packs does not count as capped.
    let r = round_order(48.0, &sourcing(1, 12, Some(50))).expect("valid");
    assert_eq!((r.order_qty, r.capped), (48, false));
}

#[test]
fn bad_sourcing_is_refused() {
    assert_eq!(
        round_order(1.0, &sourcing(1, 0, None)),
        Err(PolicyError::InvalidPackSize(0))
    );
    assert_eq!(
        round_order(1.0, &sourcing(-1, 1, None)),
        Err(PolicyError::InvalidMoq(-1))
    );
    assert_eq!(
        round_order(1.0, &sourcing(1, 12, Some(11))),
        Err(PolicyError::MaxOrderBelowPack {
            max_order_qty: 11,
            pack_size: 12
        })
    );
    assert!(matches!(
        round_order(f64::INFINITY, &Sourcing::default()),
        Err(PolicyError::QuantityOverflow(_))
    ));
}

#[test]
fn service_level_outside_half_to_one_is_refused() {
    for sl in [0.49, 1.0, 1.5, f64::NAN] {
        let mut req = request(Policy::SQ { lot_size: 50 }, 0);
        req.service_level = sl;
        assert!(
            matches!(decide(&req), Err(PolicyError::ServiceLevelOutOfRange(_))),
            "{sl}"
        );
    }
    assert_eq!(z_for(0.5), Ok(0.0));
}

#[test]
fn bad_statistics_and_lots_are_refused() {
    let mut req = request(Policy::SS { lot_size: 50 }, 0);
    req.demand.std = -1.0;
    assert!(matches!(
        decide(&req),
        Err(PolicyError::InvalidDemand { .. })
    ));
    req.demand.std = 0.0;
    req.lead_time.mean_days = f64::NAN;
    assert!(matches!(
        decide(&req),
        Err(PolicyError::InvalidLeadTime { .. })
    ));
    req.lead_time.mean_days = 4.0;
    req.policy = Policy::SQ { lot_size: 0 };
    assert_eq!(decide(&req), Err(PolicyError::InvalidLotSize(0)));
}

#[test]
fn decision_serializes_with_upper_case_reason() {
    let d = decide(&request(Policy::SQ { lot_size: 50 }, 35)).expect("valid");
    let json = serde_json::to_value(&d).expect("serializes");
    assert_eq!(json["reason"], "ORDER");
    assert_eq!(json["policy"]["kind"], "sQ");
    assert_eq!(json["order_qty"], 50);
    let back: Decision = serde_json::from_value(json).expect("deserializes");
    assert_eq!(back, d);
}
