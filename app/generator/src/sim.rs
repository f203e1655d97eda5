//! [`Generator`]: the simulation's state and its day loop. A day receives what is due, sells,
//! then writes off damaged and shrunk stock and reorders what fell below its level.

use chrono::{Duration, NaiveTime, TimeZone};
use composerp_events::{
    EventId, Timestamp,
    catalog::LocationType,
    inventory::{AdjustmentType, InventoryAdjusted, WriteOffSource},
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{
    Config, Generated, Stats,
    master::{Loc, Tenant},
    supply::Scheduled,
};

/// The generator: call [`Generator::master_data`] once, then [`Generator::next_day`] until None.
#[derive(Debug)]
pub struct Generator {
    /// What to generate.
    pub(crate) cfg: Config,
    /// The one source of randomness: every draw comes from it, in a fixed order.
    pub(crate) rng: ChaCha8Rng,
    /// Master data and stock per tenant.
    pub(crate) tenants: Vec<Tenant>,
    /// The next day to simulate.
    pub(crate) day: u32,
    /// Events so far, for the next event id.
    pub(crate) counter: u64,
    /// Deliveries due on later days.
    pub(crate) scheduled: Vec<Scheduled>,
    /// Counts so far.
    pub(crate) stats: Stats,
}

impl Generator {
    /// Sets up tenants, locations and items from the seed.
    pub fn new(cfg: Config) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let tenants = (0..cfg.tenants)
            .map(|t| Tenant::new(&cfg, t, &mut rng))
            .collect();
        Generator {
            cfg,
            rng,
            tenants,
            day: 0,
            counter: 0,
            scheduled: Vec::new(),
            stats: Stats::default(),
        }
    }

    /// The next event id, derived from the seed and a counter.
    fn next_id(&mut self) -> EventId {
        self.counter += 1;
        EventId::from_name(&format!(
            "composerp-generator/{}/{}",
            self.cfg.seed, self.counter
        ))
    }

    /// The instant `minutes` after local midnight of `day` at `loc`.
    pub(crate) fn at(&self, loc: &Loc, day: u32, minutes: u32) -> Timestamp {
        let date = self.cfg.start + Duration::days(day as i64);
        let local = date.and_time(NaiveTime::MIN) + Duration::minutes(minutes as i64);
        let utc = loc
            .tz
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.to_utc())
            .unwrap_or_else(|| local.and_utc());
        Timestamp::from(utc)
    }

    /// A new event's id, tenant, business time, publish time (a quarter second later) and
    /// source.
    pub(crate) fn envelope(
        &mut self,
        tenant: usize,
        at: Timestamp,
        source: String,
    ) -> (EventId, String, Timestamp, Timestamp, String) {
        let id = self.next_id();
        (
            id,
            self.tenants[tenant].id.clone(),
            at,
            Timestamp(at.0 + 250_000),
            source,
        )
    }

    /// Counts events emitted in order, before any are repeated.
    pub(crate) fn count(&mut self, events: &[Generated]) {
        self.stats.events += events.len() as u64;
        self.stats.distinct_events += events.len() as u64;
    }

    /// The next day's events in publish order, or None after the last day.
    pub fn next_day(&mut self) -> Option<Vec<Generated>> {
        if self.day >= self.cfg.days {
            return None;
        }
        let day = self.day;
        let mut events = Vec::new();
        for t in 0..self.tenants.len() {
            if day == 0 {
                self.opening_stock(t, &mut events);
            }
            self.deliveries(t, day, &mut events);
            self.sales(t, day, &mut events);
            self.end_of_day(t, day, &mut events);
        }
        events.sort_by_key(|e| e.occurred_at());
        self.count(&events);
        self.disorder(&mut events);
        self.day += 1;
        Some(events)
    }

    /// A write-off of `qty` units at location `l`, item `i`.
    fn write_off(
        &mut self,
        (t, l, i): (usize, usize, usize),
        day: u32,
        qty: i64,
        source_kind: WriteOffSource,
        out: &mut Vec<Generated>,
    ) {
        let loc = self.tenants[t].locs[l].clone();
        let at = self.at(&loc, day, 21 * 60 + 15);
        let (event_id, tenant_id, occurred_at, produced_at, source) =
            self.envelope(t, at, "handheld".into());
        out.push(Generated::Adjustment(InventoryAdjusted {
            event_id,
            tenant_id,
            occurred_at,
            produced_at,
            source,
            location_id: loc.id,
            item_id: self.tenants[t].items[i].id.clone(),
            adjustment_type: AdjustmentType::WRITE_OFF,
            quantity: qty,
            reason_code: if source_kind == WriteOffSource::DAMAGED {
                "BREAKAGE".into()
            } else {
                "SHRINK".into()
            },
            write_off_source: Some(source_kind),
            reservation_id: None,
            order_ref: None,
            unit_cost: None,
            note: None,
            attributes: None,
        }));
        self.stats.ledger_lines += 1;
        let b = &mut self.tenants[t].stock[l][i];
        b.on_hand -= qty;
        if source_kind == WriteOffSource::DAMAGED {
            b.damaged -= qty;
        }
    }

    /// Closes a day at every item-location: damaged stock written off (sometimes), shrink in
    /// stores, then the reorder check.
    fn end_of_day(&mut self, t: usize, day: u32, out: &mut Vec<Generated>) {
        for l in 0..self.tenants[t].locs.len() {
            for i in 0..self.tenants[t].items.len() {
                let b = self.tenants[t].stock[l][i].clone();
                if b.damaged > 0 && self.rng.random_bool(0.2) {
                    self.write_off((t, l, i), day, b.damaged, WriteOffSource::DAMAGED, out);
                }
                if self.tenants[t].locs[l].kind == LocationType::STORE
                    && b.sellable() > 0
                    && self.rng.random_bool(0.004)
                {
                    self.write_off((t, l, i), day, 1, WriteOffSource::SELLABLE, out);
                }
                self.replenish(t, l, i, day, out);
            }
        }
    }

    /// Delays about 1% of events past later ones and repeats about 0.5% later in the stream.
    fn disorder(&mut self, events: &mut Vec<Generated>) {
        let n = events.len();
        if n < 3 {
            return;
        }
        for _ in 0..(n / 100) {
            let from = self.rng.random_range(0..n - 1);
            let to = (from + self.rng.random_range(1..50)).min(n - 1);
            let e = events.remove(from);
            self.stats.late_ids.push(e.event_id());
            events.insert(to, e);
        }
        for _ in 0..(n / 200) {
            let src = self.rng.random_range(0..n - 1);
            let copy = events[src].clone();
            let to = self.rng.random_range(src + 1..=events.len());
            self.stats.duplicate_ids.push(copy.event_id());
            events.insert(to, copy);
            self.stats.events += 1;
        }
    }

    /// Counts so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::NaiveDate;
    use composerp_events::pos::SaleLineType;

    use super::*;

    /// A small run's configuration: 2 tenants, 3 locations, 20 items, 3 weeks.
    pub(crate) fn cfg(seed: u64) -> Config {
        Config {
            tenants: 2,
            locations: 3,
            items: 20,
            days: 21,
            seed,
            tenant_prefix: "t".into(),
            start: NaiveDate::from_ymd_opt(2024, 1, 1).expect("date"),
        }
    }

    /// Every event of a run, and the generator after it.
    pub(crate) fn run(c: Config) -> (Vec<Generated>, Generator) {
        let mut g = Generator::new(c);
        let mut all = g.master_data();
        while let Some(day) = g.next_day() {
            all.extend(day);
        }
        (all, g)
    }

    #[test]
    fn same_seed_same_events_other_seed_other_events() {
        let (a, _) = run(cfg(7));
        let (b, _) = run(cfg(7));
        let (c, _) = run(cfg(8));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn data_has_every_movement_kind_and_real_variety() {
        let (events, g) = run(cfg(5));
        let has = |f: fn(&Generated) -> bool| events.iter().any(f);
        assert!(has(
            |e| matches!(e, Generated::Sale(s) if s.lines.iter().any(|l| l.line_type == SaleLineType::RETURN))
        ));
        assert!(has(
            |e| matches!(e, Generated::Adjustment(a) if a.write_off_source == Some(WriteOffSource::DAMAGED))
        ));
        assert!(has(|e| matches!(e, Generated::Shipped(_))));
        assert!(has(|e| matches!(e, Generated::Received(_))));
        assert!(
            g.truth().iter().any(|r| r.stock.on_order > 0),
            "some orders are still open at the end"
        );
        assert!(g.stats().ledger_lines > 1000);
    }
}
