//! One replication: the ledger, demand-features, forecasting and replenishment processors in
//! test drivers, wired as the topics wire them on the broker, driven day by day.
//!
//! A day: receipts of the orders due that day arrive at 06:00, demand is served from on hand at
//! 12:00 (lost when it exceeds it), and the processors react as they would in production. A
//! location's orders are released at its end of day (when the next day's first record moves the
//! watermark past it) and arrive at the start of day t + L + 1, L drawn per order.

use std::collections::{BTreeMap, HashMap};

use composerp_events::{
    Codec, Date, EventId, Money, Timestamp,
    forecasting::DemandHistorySeeded,
    inventory::{AdjustmentType, InventoryAdjusted, InventoryUpdated},
    pos::{SaleCompleted, SaleLine, SaleLineType, SalesChannel},
    procurement::{PurchaseOrderReceived, ReceiptLine},
    replenishment::PurchaseOrderApproved,
};
use composerp_forecasting::{DemandFeatures, Forecasting, intake::DemandInput, settings::Settings};
use composerp_ledger::{InventoryLedger, LedgerInput};
use composerp_replenishment::{Replenishment, ReplenishmentInput};
use composerp_replenishment_policy::{DayRecord, ServiceMeasures, measure};
use composerp_runtime::{driver::TestDriver, processor::Outputs};
use composerp_topics::TopicCatalog;

use crate::{
    Config, SimError,
    world::{SUPPLIER, TENANT, World},
};

const HOUR: i64 = 3_600_000_000;
const DAY: i64 = 24 * HOUR;
/// Day 0 is Monday 2026-01-05 (days since 1970-01-01).
const DAY0: i32 = 20_458;

fn midnight(day: i32) -> i64 {
    i64::from(day) * DAY
}

/// What one replication measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Service pooled over every item-location.
    pub service: ServiceMeasures,
    /// Mean units on hand at the end of a measured day, per item-location.
    pub average_inventory: f64,
    /// Orders (purchase order lines) per item-location over the measured days.
    pub orders_per_item: f64,
    /// Records any processor rejected (a correct run has none).
    pub dead_letters: usize,
}

/// The four processors and the world they serve.
struct Chain<'a> {
    cfg: &'a Config,
    world: World,
    codec: Codec,
    ledger: TestDriver<InventoryLedger>,
    features: TestDriver<DemandFeatures>,
    forecasting: TestDriver<Forecasting>,
    replenishment: TestDriver<Replenishment>,
    /// (location, item) → cell index.
    index: HashMap<(String, String), usize>,
    on_hand: Vec<i64>,
    /// Arrival day → (po, line, cell, units).
    due: BTreeMap<i32, Vec<(String, i32, usize, i64)>>,
    orders: Vec<u32>,
    day: i32,
    topics: [String; 2],
}

/// Runs replication `replication` of `cfg`.
pub fn replicate(cfg: &Config, replication: u32) -> Result<Outcome, SimError> {
    let world = World::new(cfg, replication);
    let settings = Settings {
        selection: cfg.selection,
        ..Settings::default()
    };
    let catalog = TopicCatalog::embedded();
    let topic = |id: &str| catalog.get(id).map(|t| t.name.clone());
    let topics = [
        topic("inventory.positions").map_err(|e| SimError::Wiring(e.to_string()))?,
        topic("replenishment.po-approved").map_err(|e| SimError::Wiring(e.to_string()))?,
    ];
    let index = world
        .cells
        .iter()
        .enumerate()
        .map(|(i, c)| ((c.location.clone(), c.item.clone()), i))
        .collect();
    let n = world.cells.len();
    let mut chain = Chain {
        cfg,
        world,
        codec: Codec::embedded(),
        ledger: TestDriver::new(InventoryLedger),
        features: TestDriver::new(DemandFeatures::new(settings)),
        forecasting: TestDriver::new(Forecasting::new(settings)),
        replenishment: TestDriver::new(Replenishment),
        index,
        on_hand: vec![0; n],
        due: BTreeMap::new(),
        orders: vec![0; n],
        day: DAY0 - 1,
        topics,
    };
    chain.start();
    let days = cfg.days as i32;
    let mut logs: Vec<Vec<DayRecord>> = vec![Vec::with_capacity(cfg.days as usize); n];
    let mut inventory = 0.0;
    for t in 0..days {
        chain.day = DAY0 + t;
        let arrived = chain.receive();
        chain.cascade();
        let (demand, served) = chain.sell();
        chain.cascade();
        chain.commit();
        for i in 0..n {
            logs[i].push(DayRecord {
                day: t as u32,
                demand: demand[i],
                served: served[i],
                arrived: arrived[i],
            });
            if t >= cfg.warmup_days as i32 {
                inventory += chain.on_hand[i].max(0) as f64;
            }
        }
        if t + 1 == cfg.warmup_days as i32 {
            chain.orders.iter_mut().for_each(|o| *o = 0);
        }
    }
    let mut pooled = ServiceMeasures {
        fill_rate: None,
        in_stock_day_rate: None,
        cycles_counted: 0,
        cycles_without_stockout: 0,
        cycle_service_level: None,
        total_demand: 0,
        served: 0,
        lost: 0,
    };
    let (mut in_stock_days, mut measured_days) = (0.0, 0.0);
    for log in &logs {
        let m = measure(log, cfg.warmup_days);
        pooled.cycles_counted += m.cycles_counted;
        pooled.cycles_without_stockout += m.cycles_without_stockout;
        pooled.total_demand += m.total_demand;
        pooled.served += m.served;
        pooled.lost += m.lost;
        let measured = days.saturating_sub(cfg.warmup_days as i32).max(0) as f64;
        in_stock_days += m.in_stock_day_rate.unwrap_or(1.0) * measured;
        measured_days += measured;
    }
    pooled.fill_rate =
        (pooled.total_demand > 0).then(|| pooled.served as f64 / pooled.total_demand as f64);
    pooled.in_stock_day_rate = (measured_days > 0.0).then(|| in_stock_days / measured_days);
    pooled.cycle_service_level = (pooled.cycles_counted > 0)
        .then(|| f64::from(pooled.cycles_without_stockout) / f64::from(pooled.cycles_counted));
    let item_days = n as f64 * (days - cfg.warmup_days as i32).max(1) as f64;
    let dead_letters = chain.ledger.dead_letters().len()
        + chain.features.dead_letters().len()
        + chain.forecasting.dead_letters().len()
        + chain.replenishment.dead_letters().len();
    Ok(Outcome {
        service: pooled,
        average_inventory: inventory / item_days,
        orders_per_item: chain.orders.iter().map(|o| f64::from(*o)).sum::<f64>() / n as f64,
        dead_letters,
    })
}

impl Chain<'_> {
    /// Master data, a backfilled history per item-location (so forecasts exist from day 0)
    /// and the opening stock counts.
    fn start(&mut self) {
        let at = Timestamp(midnight(DAY0 - 1) + 12 * HOUR);
        let m = self.world.master_data(self.cfg, at);
        for l in &m.locations {
            self.ledger.table(l);
            self.features.table(l);
            self.forecasting.table(l);
            self.replenishment.table(l);
        }
        for i in &m.items {
            self.ledger.table(i);
            self.replenishment.table(i);
        }
        for s in &m.suppliers {
            self.replenishment.table(s);
        }
        for s in &m.supplier_items {
            self.replenishment.table(s);
        }
        for r in &m.rules {
            self.replenishment.table(r);
        }
        if let Some(a) = &m.auto_approval {
            self.replenishment.table(a);
        }
        let history = self.cfg.history_days as i32;
        let mut seeds = Vec::with_capacity(self.world.cells.len());
        for c in 0..self.world.cells.len() {
            let cell = self.world.cells[c].clone();
            let demand: Vec<i64> = (0..history)
                .map(|_| cell.demand.draw(&mut self.world.rng))
                .collect();
            let last = demand.iter().rposition(|d| *d > 0);
            seeds.push(DemandHistorySeeded {
                event_id: EventId::from_name_parts(&[
                    b"sim-history",
                    cell.location.as_bytes(),
                    cell.item.as_bytes(),
                ]),
                tenant_id: TENANT.into(),
                occurred_at: at,
                produced_at: at,
                source: "sim".into(),
                location_id: cell.location.clone(),
                item_id: cell.item.clone(),
                first_date: Date(DAY0 - history),
                as_of_date: Date(DAY0 - 1),
                timezone: "UTC".into(),
                sale_lines: demand.iter().filter(|d| **d > 0).count() as i64,
                last_sale_date: last.map(|i| Date(DAY0 - history + i as i32)),
                demand,
                censored_dates: vec![],
            });
        }
        self.features
            .pipe(seeds.iter().cloned().map(DemandInput::Seed));
        self.forecasting
            .pipe(seeds.into_iter().map(DemandInput::Seed));
        let counts: Vec<LedgerInput> = self
            .world
            .cells
            .iter()
            .map(|c| {
                LedgerInput::Adjustment(InventoryAdjusted {
                    event_id: EventId::from_name_parts(&[
                        b"sim-count",
                        c.location.as_bytes(),
                        c.item.as_bytes(),
                    ]),
                    tenant_id: TENANT.into(),
                    occurred_at: at,
                    produced_at: at,
                    source: "sim".into(),
                    location_id: c.location.clone(),
                    item_id: c.item.clone(),
                    adjustment_type: AdjustmentType::COUNT_SET,
                    quantity: c.initial_on_hand,
                    reason_code: "OPENING".into(),
                    write_off_source: None,
                    reservation_id: None,
                    order_ref: None,
                    unit_cost: Some(Money(10_000)),
                    note: None,
                    attributes: None,
                })
            })
            .collect();
        self.cascade();
        self.ledger.pipe(counts);
        self.cascade();
    }

    /// Makes the day durable in every driver, as a committed batch on the broker does: the
    /// drivers keep each key's last committed state rather than every change since the start.
    fn commit(&mut self) {
        self.ledger.commit();
        self.features.commit();
        self.forecasting.commit();
        self.replenishment.commit();
    }

    /// Today's arrivals, received at 06:00; which item-locations received.
    fn receive(&mut self) -> Vec<bool> {
        let mut arrived = vec![false; self.world.cells.len()];
        let Some(lines) = self.due.remove(&self.day) else {
            return arrived;
        };
        let mut by_po: BTreeMap<String, Vec<(i32, usize, i64)>> = BTreeMap::new();
        for (po, line, cell, qty) in lines {
            by_po.entry(po).or_default().push((line, cell, qty));
        }
        let at = Timestamp(midnight(self.day) + 6 * HOUR);
        for (po, lines) in by_po {
            let location = self.world.cells[lines[0].1].location.clone();
            let receipt = PurchaseOrderReceived {
                event_id: EventId::from_name_parts(&[
                    b"sim-receipt",
                    po.as_bytes(),
                    &self.day.to_be_bytes(),
                ]),
                tenant_id: TENANT.into(),
                occurred_at: at,
                produced_at: at,
                source: "sim".into(),
                location_id: location,
                po_number: po.clone(),
                receipt_id: format!("GR-{po}"),
                supplier_id: Some(SUPPLIER.into()),
                currency: "EUR".into(),
                lines: lines
                    .iter()
                    .enumerate()
                    .map(|(i, (line, cell, qty))| {
                        arrived[*cell] = true;
                        ReceiptLine {
                            line_number: i as i32 + 1,
                            po_line_number: *line,
                            item_id: self.world.cells[*cell].item.clone(),
                            quantity: *qty,
                            unit_cost: Money(10_000),
                            lot_number: None,
                            expiry_date: None,
                        }
                    })
                    .collect(),
                attributes: None,
            };
            self.ledger.pipe([LedgerInput::Receipt(receipt.clone())]);
            self.replenishment
                .pipe([ReplenishmentInput::Receipt(receipt)]);
        }
        arrived
    }

    /// Draws today's demand and sells what is on hand at 12:00; (demand, served) per cell.
    fn sell(&mut self) -> (Vec<i64>, Vec<i64>) {
        let n = self.world.cells.len();
        let (mut demand, mut served) = (vec![0; n], vec![0; n]);
        let at = Timestamp(midnight(self.day) + 12 * HOUR);
        let mut sales: BTreeMap<String, Vec<SaleLine>> = BTreeMap::new();
        for i in 0..n {
            let cell = &self.world.cells[i];
            let d = cell.demand.draw(&mut self.world.rng);
            let s = d.min(self.on_hand[i].max(0));
            demand[i] = d;
            served[i] = s;
            let lines = sales.entry(cell.location.clone()).or_default();
            if s > 0 {
                lines.push(SaleLine {
                    line_number: lines.len() as i32 + 1,
                    item_id: cell.item.clone(),
                    line_type: SaleLineType::SALE,
                    quantity: s,
                    unit_price: Money(20_000),
                    discount: Money::ZERO,
                    return_condition: None,
                    reservation_id: None,
                });
            }
        }
        for (location, lines) in sales {
            let sale = SaleCompleted {
                event_id: EventId::from_name_parts(&[
                    b"sim-sale",
                    location.as_bytes(),
                    &self.day.to_be_bytes(),
                ]),
                tenant_id: TENANT.into(),
                occurred_at: at,
                produced_at: at,
                source: "sim".into(),
                store_id: location.clone(),
                register_id: "r1".into(),
                receipt_id: format!("D{}", self.day),
                currency: "EUR".into(),
                lines,
                loyalty_id: None,
                channel: SalesChannel::STORE,
                attributes: None,
            };
            // A store that sold nothing still closes its day: the demand processors see an
            // empty receipt (the ledger has nothing to book).
            if !sale.lines.is_empty() {
                self.ledger.pipe([LedgerInput::Sale(sale.clone())]);
            }
            self.features.pipe([DemandInput::Sale(sale.clone())]);
            self.forecasting.pipe([DemandInput::Sale(sale)]);
        }
        (demand, served)
    }

    /// Delivers every processor's outputs to the processors that read them until none move.
    fn cascade(&mut self) {
        loop {
            let l = self.ledger.take_outputs();
            self.follow_positions(&l);
            self.features.pipe_outputs(&l);
            self.forecasting.pipe_outputs(&l);
            self.replenishment.pipe_outputs(&l);
            let f = self.features.take_outputs();
            self.replenishment.pipe_outputs(&f);
            let g = self.forecasting.take_outputs();
            self.replenishment.pipe_outputs(&g);
            let r = self.replenishment.take_outputs();
            self.schedule(&r);
            self.ledger.pipe_outputs(&r);
            if l.is_empty() && f.is_empty() && g.is_empty() && r.is_empty() {
                break;
            }
        }
    }

    fn follow_positions(&mut self, out: &Outputs) {
        for o in out.iter().filter(|o| o.topic == self.topics[0]) {
            if let Ok(u) = self.codec.decode::<InventoryUpdated>(o.payload)
                && let Some(&i) = self.index.get(&(u.location_id, u.item_id))
            {
                self.on_hand[i] = u.on_hand - u.damaged - u.reserved;
            }
        }
    }

    /// Draws each approved order's lead time: it arrives at the start of day t + L + 1.
    fn schedule(&mut self, out: &Outputs) {
        for o in out.iter().filter(|o| o.topic == self.topics[1]) {
            let Ok(a) = self.codec.decode::<PurchaseOrderApproved>(o.payload) else {
                continue;
            };
            let order_day = a.occurred_at.0.div_euclid(DAY) as i32;
            // One delivery per order: its lines travel together.
            let lead = self.world.lead_time(self.cfg);
            for line in &a.lines {
                let Some(&cell) = self
                    .index
                    .get(&(a.location_id.clone(), line.item_id.clone()))
                else {
                    continue;
                };
                self.due.entry(order_day + lead + 1).or_default().push((
                    a.po_number.clone(),
                    line.line_number,
                    cell,
                    line.quantity,
                ));
                self.orders[cell] += 1;
            }
        }
    }
}
