//! Hand-checked runs of the kernel and of [`measure`] on a hand-built log.

use super::*;

fn config(policy: SimPolicy, lead_time_days: u32, initial_on_hand: i64) -> SimConfig {
    SimConfig {
        policy,
        lead_time_days,
        initial_on_hand,
        warmup_days: 0,
    }
}

fn rec(day: u32, demand: i64, served: i64, arrived: bool) -> DayRecord {
    DayRecord {
        day,
        demand,
        served,
        arrived,
    }
}

#[test]
fn sq_orders_below_s_and_receives_after_l_plus_one_days() {
    // IP 7, 4 (< 5: order 10, due day 1 + 1 + 1 = 3), 11, 8, 5 (= s: no order).
    let run = simulate(
        &config(SimPolicy::SQ { s: 5.0, q: 10 }, 1, 10),
        &[3, 3, 3, 3, 3],
    )
    .expect("valid");
    assert_eq!(run.orders, vec![OrderRecord { day: 1, qty: 10 }]);
    let arrivals: Vec<bool> = run.days.iter().map(|d| d.arrived).collect();
    assert_eq!(arrivals, [false, false, false, true, false]);
    assert_eq!(run.end_on_hand, 5);
    assert_eq!(run.measures.fill_rate, Some(1.0));
}

#[test]
fn sq_orders_as_many_lots_as_reach_s() {
    // IP 0 against s = 25 with lots of 10 takes three lots.
    let run = simulate(&config(SimPolicy::SQ { s: 25.0, q: 10 }, 0, 0), &[0]).expect("valid");
    assert_eq!(run.orders, vec![OrderRecord { day: 0, qty: 30 }]);
}

#[test]
fn ss_orders_up_to_s_rounding_the_need_up() {
    let policy = SimPolicy::SS {
        s: 3.5,
        order_up_to: 9.2,
    };
    let run = simulate(&config(policy, 0, 5), &[3, 1]).expect("valid");
    assert_eq!(run.orders, vec![OrderRecord { day: 0, qty: 8 }]);
    assert_eq!(run.end_on_hand, 9);
}

#[test]
fn rs_reviews_only_on_its_offset_days() {
    let policy = SimPolicy::RS {
        r: 2,
        offset: 1,
        order_up_to: 10.0,
    };
    let run = simulate(&config(policy, 0, 4), &[2, 2, 2, 2]).expect("valid");
    assert_eq!(
        run.orders,
        vec![
            OrderRecord { day: 1, qty: 10 },
            OrderRecord { day: 3, qty: 4 }
        ]
    );
    assert_eq!(run.end_on_hand, 6);
}

#[test]
fn unmet_demand_is_lost_not_backordered() {
    let run = simulate(&config(SimPolicy::SQ { s: 0.0, q: 1 }, 0, 2), &[5, 1]).expect("valid");
    assert_eq!(run.days[0], rec(0, 5, 2, false));
    assert_eq!(run.measures.lost, 4);
    assert!(run.orders.is_empty());
}

#[test]
fn bad_configurations_are_refused() {
    let rs = |r, offset| {
        config(
            SimPolicy::RS {
                r,
                offset,
                order_up_to: 1.0,
            },
            0,
            0,
        )
    };
    assert_eq!(simulate(&rs(0, 0), &[1]), Err(SimError::ZeroReviewPeriod));
    assert_eq!(
        simulate(&rs(7, 7), &[1]),
        Err(SimError::OffsetOutOfRange { offset: 7, r: 7 })
    );
    assert_eq!(
        simulate(&rs(7, 0), &[1, -2]),
        Err(SimError::NegativeDemand { day: 1, demand: -2 })
    );
    let sq = config(SimPolicy::SQ { s: f64::NAN, q: 1 }, 0, 0);
    assert!(matches!(
        simulate(&sq, &[1]),
        Err(SimError::InvalidLevel(_))
    ));
}

#[test]
fn measure_counts_days_and_complete_cycles_after_warmup() {
    let log = [
        rec(0, 5, 5, false),
        rec(1, 5, 5, true), // starts before warm-up: its cycle is not counted
        rec(2, 5, 5, false),
        rec(3, 5, 3, true), // cycle 3..=5 loses 2 units
        rec(4, 5, 5, false),
        rec(5, 0, 0, false),
        rec(6, 5, 5, true), // cycle 6..=7 loses nothing
        rec(7, 4, 4, false),
        rec(8, 5, 0, true), // last arrival: incomplete cycle, never counted
        rec(9, 5, 5, false),
    ];
    let m = measure(&log, 2);
    assert_eq!((m.total_demand, m.served, m.lost), (34, 27, 7));
    assert_eq!(m.fill_rate, Some(27.0 / 34.0));
    assert_eq!(m.in_stock_day_rate, Some(6.0 / 8.0));
    assert_eq!((m.cycles_counted, m.cycles_without_stockout), (2, 1));
    assert_eq!(m.cycle_service_level, Some(0.5));

    // The log's order does not matter.
    let mut shuffled = log;
    shuffled.reverse();
    assert_eq!(measure(&shuffled, 2), m);
}

#[test]
fn measure_of_nothing_has_no_rates() {
    let m = measure(&[], 0);
    assert_eq!(
        (m.fill_rate, m.in_stock_day_rate, m.cycle_service_level),
        (None, None, None)
    );
    let m = measure(&[rec(0, 0, 0, true), rec(1, 0, 0, false)], 0);
    assert_eq!(m.fill_rate, None);
    assert_eq!(m.in_stock_day_rate, Some(1.0));
    assert_eq!(m.cycles_counted, 0);
}
