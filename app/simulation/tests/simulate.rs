//! Small simulations through the real processors: orders flow, service is measured, and a
//! replication is the same every time.

use composerp_simulation::{Config, Mix, PolicyKind, run};

fn small(policy: PolicyKind) -> Config {
    Config {
        days: 42,
        replications: 3,
        items: 24,
        locations: 3,
        policy,
        warmup_days: 7,
        history_days: 35,
        threads: 1,
        ..Config::default()
    }
}

#[test]
fn every_policy_orders_and_serves_through_the_processors() {
    for policy in [
        PolicyKind::SQ,
        PolicyKind::SS,
        PolicyKind::RS,
        PolicyKind::MinMax,
    ] {
        let r = run(&small(policy)).expect("simulates");
        eprintln!("{}", r.row());
        assert!(
            r.orders_per_item.mean > 1.0,
            "{policy:?}: items are replenished ({:?})",
            r.orders_per_item
        );
        assert!(
            r.fill_rate.mean > 0.8,
            "{policy:?}: the policy keeps most demand served ({:?})",
            r.fill_rate
        );
        assert!(r.cycle_service.mean > 0.5 && r.cycle_service.mean <= 1.0);
    }
}

#[test]
fn a_replication_is_the_same_every_time_and_intermittent_demand_runs_too() {
    let cfg = Config {
        mix: Mix::Intermittent,
        ..small(PolicyKind::SS)
    };
    let a = run(&cfg).expect("simulates");
    let b = run(&Config { threads: 2, ..cfg }).expect("simulates");
    assert_eq!(a.cycle_service.mean, b.cycle_service.mean);
    assert_eq!(a.fill_rate.mean, b.fill_rate.mean);
    assert_eq!(a.average_inventory.mean, b.average_inventory.mean);
}
