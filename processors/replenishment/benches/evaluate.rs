//! Replenishment rule evaluation on one core without a broker (BENCHMARKS.md,
//! `deploy/bench/replenishment.sh`): InventoryUpdated records through Avro decode, the
//! master-data tables, the policy and the Avro encoding of every trigger, and the changed
//! states serialized at each batch's close, as the engine's task does them. The state store's
//! write is left out (the ledger bench measures it).
//!
//! 100,000 item-locations (100 Berlin stores × 1,000 items, one supplier-item per item; half
//! on their own rule, half on their category's store default; (s,Q), (s,S) and min/max in
//! about equal shares; half planned on a 28-day forecast, half on demand features) get three
//! stock updates each within one local day, so no end of day fires. 80 % stay above their
//! trigger; 10 % cross it (an ORDER, then a suppression by the open line); 10 % ordered before
//! the run (a suppression, then two quiet evaluations). Every timed run starts from the same
//! warmed-up state, built untimed. A plain Avro decode of the same records, in the same round,
//! is the reference.
//!
//! `REPLENISHMENT_ROUNDS` (default 7) sets the rounds. Prints one JSON object for the mix, then
//! one per round.
#![allow(missing_docs)]

use std::{hint::black_box, time::Instant};

use composerp_events::{
    Codec, Date, EventId, Money, Timestamp,
    catalog::{Item, Location, LocationType, Supplier, SupplierItem},
    forecasting::{DemandFeaturesUpdated, ForecastGenerated, ForecastModel, ForecastPoint},
    inventory::InventoryUpdated,
    replenishment::{
        DefaultRule, ReplenishmentDefaultRule, ReplenishmentPolicy, ReplenishmentRule,
        ReplenishmentTriggered, TriggerOutcome,
    },
    samples,
};
use composerp_replenishment::{Replenishment, ReplenishmentInput, tables::ReplenishmentTables};
use composerp_runtime::{
    engine::PARCEL,
    processor::{Input, Outputs, Tables},
    task::{Env, Record as TaskRecord, Task},
};

/// The allocator of the `composerp` binary, so the figures are the service's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LOCATIONS: usize = 100;
const ITEMS: usize = 1_000;
const SUPPLIERS: usize = 10;
const UPDATES_PER_ITEM_LOCATION: usize = 3;
const ITEM_LOCATIONS: usize = LOCATIONS * ITEMS;
/// Records per batch: 1,000, and 50,000, the engine's largest.
// A batch's close serializes every state it changed, so its size moves the figure; the engine
// closes one at 50,000 records or 500 ms.
const BATCHES: [usize; 2] = [1_000, 50_000];
/// 2024-05-01 08:00 UTC, 10:00 in Berlin: the updates span 50 minutes of that local day.
const T0: i64 = 1_714_550_400_000_000;
const MINUTE: i64 = 60_000_000;
/// 2024-05-01, the forecasts' first day.
const FIRST_DAY: i32 = 19_844;

/// Where an item-location's stock goes during a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// Stays above its trigger.
    Quiet,
    /// Crosses its trigger on the second update.
    Crossing,
    /// Ordered before the run; stays below its trigger.
    Ordered,
}

/// A stable spread of item-locations over the paths: 80 / 10 / 10 %.
fn path(k: usize) -> Path {
    let mut z = (k as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    match (z ^ (z >> 31)) % 100 {
        0..80 => Path::Quiet,
        80..90 => Path::Crossing,
        _ => Path::Ordered,
    }
}

fn location_id(l: usize) -> String {
    format!("s{l:03}")
}

fn item_id(i: usize) -> String {
    format!("i{i:05}")
}

fn supplier_id(i: usize) -> String {
    format!("sup{:02}", i % SUPPLIERS)
}

/// Mean daily demand: 2 to 20 units.
fn demand(i: usize) -> f64 {
    2.0 + 2.0 * (i % 10) as f64
}

fn demand_std(i: usize) -> f64 {
    0.3 * demand(i) + 0.5
}

fn policy(n: usize) -> ReplenishmentPolicy {
    [
        ReplenishmentPolicy::S_Q,
        ReplenishmentPolicy::S_S,
        ReplenishmentPolicy::MIN_MAX,
    ][n % 3]
}

/// Locations, items in three categories, suppliers, supplier-items, defaults and own rules.
fn tables(codec: &Codec) -> ReplenishmentTables {
    let mut t = ReplenishmentTables::default();
    let mut load = |e: &dyn Fn(&Codec) -> (&'static str, Vec<u8>)| {
        let (topic, bytes) = e(codec);
        let index = ReplenishmentTables::TOPICS
            .iter()
            .position(|x| *x == topic)
            .expect("a table topic");
        t.update(index, codec, &bytes)
            .expect("table record decodes");
    };
    for l in 0..LOCATIONS {
        load(&|c| {
            let mut loc: Location = samples::location();
            loc.location_id = location_id(l);
            loc.location_type = LocationType::STORE;
            loc.active = true;
            ("catalog.locations", c.encode(&loc).expect("location"))
        });
    }
    for s in 0..SUPPLIERS {
        load(&|c| {
            let mut sup: Supplier = samples::supplier();
            sup.supplier_id = supplier_id(s);
            ("catalog.suppliers", c.encode(&sup).expect("supplier"))
        });
    }
    for i in 0..ITEMS {
        load(&|c| {
            let mut item: Item = samples::item();
            item.item_id = item_id(i);
            item.category = Some(format!("c{}", i % 3));
            ("catalog.items", c.encode(&item).expect("item"))
        });
        load(&|c| {
            let pack = [1, 6, 12][i % 3];
            let mut si: SupplierItem = samples::supplier_item();
            si.supplier_id = supplier_id(i);
            si.item_id = item_id(i);
            si.lead_time_mean_days = 2.0 + (i % 6) as f64;
            si.lead_time_std_days = 0.5 + 0.1 * (i % 5) as f64;
            si.moq = pack;
            si.pack_size = pack;
            si.max_order_qty = None;
            si.unit_cost = Money(10_000 + (i as i64 * 37) % 50_000);
            si.order_days = vec![];
            (
                "catalog.supplier-items",
                c.encode(&si).expect("supplier item"),
            )
        });
    }
    for c in 0..3 {
        load(&|codec| {
            let mut d: ReplenishmentDefaultRule = samples::replenishment_default_rule();
            d.category = format!("c{c}");
            d.rules = vec![DefaultRule {
                location_type: LocationType::STORE,
                supplier_id: None,
                policy: policy(c),
                order_quantity: Some(24),
                min_qty: Some(20),
                max_qty: Some(80),
                service_level: 0.95,
                order_days: vec![],
                active: true,
            }];
            (
                "replenishment.default-rules",
                codec.encode(&d).expect("default rule"),
            )
        });
    }
    for l in 0..LOCATIONS {
        for i in (0..ITEMS).filter(|i| (i + l) % 2 == 0) {
            load(&|c| {
                let min = (demand(i) * (2.0 + (i % 6) as f64)) as i64 + 5;
                let mut r: ReplenishmentRule = samples::replenishment_rule();
                r.location_id = location_id(l);
                r.item_id = item_id(i);
                r.supplier_id = supplier_id(i);
                r.policy = policy(i / 2 + l);
                r.order_quantity = Some(12 * (1 + (i % 4) as i64));
                r.min_qty = Some(min);
                r.max_qty = Some(min + 60);
                r.service_level = [0.95, 0.98][i % 2];
                r.order_days = vec![];
                ("replenishment.rules", c.encode(&r).expect("rule"))
            });
        }
    }
    t
}

/// An input record, encoded, at its input index and offset.
struct Record {
    index: usize,
    offset: i64,
    at: i64,
    bytes: Vec<u8>,
}

/// Numbers records per input as a topic partition does.
#[derive(Default)]
struct Offsets(Vec<i64>);

impl Offsets {
    fn record(&mut self, codec: &Codec, input: ReplenishmentInput, at: i64) -> Record {
        let (index, bytes) = input.encode(codec).expect("input encodes");
        if self.0.len() <= index {
            self.0.resize(index + 1, 0);
        }
        let offset = self.0[index];
        self.0[index] += 1;
        Record {
            index,
            offset,
            at,
            bytes,
        }
    }
}

fn stock(k: usize, n: usize, on_hand: i64, at: i64) -> ReplenishmentInput {
    let mut u: InventoryUpdated = samples::inventory_updated();
    u.event_id = EventId::from_name(&format!("stock-{k}-{n}"));
    u.occurred_at = Timestamp(at);
    u.produced_at = Timestamp(at);
    u.location_id = location_id(k / ITEMS);
    u.item_id = item_id(k % ITEMS);
    u.sequence = n as i64;
    u.on_hand = on_hand;
    u.on_order = 0;
    u.in_transit = 0;
    u.reserved = 0;
    u.damaged = 0;
    u.backordered = 0;
    u.available = on_hand;
    u.available_raw = on_hand;
    u.inventory_position = on_hand;
    u.unknown_item = false;
    u.last_source_event_id = EventId::from_name(&format!("sale-{k}-{n}"));
    ReplenishmentInput::Stock(u)
}

/// The records a run starts from: every item-location's demand rate, then earlier orders.
fn setup(codec: &Codec, offsets: &mut Offsets) -> Vec<Record> {
    let at = T0 - 60 * MINUTE;
    let weekly = [0.85, 0.8, 0.9, 0.95, 1.15, 1.45, 0.9];
    let mut records = Vec::with_capacity(ITEM_LOCATIONS * 11 / 10);
    for k in 0..ITEM_LOCATIONS {
        let (l, i) = (k / ITEMS, k % ITEMS);
        // Even items plan on a forecast, odd ones on demand features.
        let input = if i % 2 == 0 {
            let mut f: ForecastGenerated = samples::forecast_generated();
            f.event_id = EventId::from_name(&format!("forecast-{k}"));
            f.occurred_at = Timestamp(at);
            f.location_id = location_id(l);
            f.item_id = item_id(i);
            f.model = [ForecastModel::SES, ForecastModel::HOLT_WINTERS][i / 2 % 2];
            f.interval_level = Some(95);
            f.points = (0..28)
                .map(|d| {
                    let mean = demand(i) * weekly[d % 7];
                    ForecastPoint {
                        date: Date(FIRST_DAY + 1 + d as i32),
                        mean,
                        lower: Some((mean - 1.96 * demand_std(i)).max(0.0)),
                        upper: Some(mean + 1.96 * demand_std(i)),
                    }
                })
                .collect();
            ReplenishmentInput::Forecast(f)
        } else {
            let mut f: DemandFeaturesUpdated = samples::demand_features_updated();
            f.event_id = EventId::from_name(&format!("features-{k}"));
            f.occurred_at = Timestamp(at);
            f.location_id = location_id(l);
            f.item_id = item_id(i);
            f.mean_28 = Some(demand(i));
            f.std_28 = Some(demand_std(i));
            ReplenishmentInput::Features(f)
        };
        records.push(offsets.record(codec, input, at));
    }
    for k in (0..ITEM_LOCATIONS).filter(|k| path(*k) == Path::Ordered) {
        let at = T0 - 30 * MINUTE;
        records.push(offsets.record(codec, stock(k, 0, 1, at), at));
    }
    records
}

/// The timed stream: three passes over every item-location in a scattered order, 10 ms apart.
fn updates(codec: &Codec, offsets: &mut Offsets) -> Vec<Record> {
    let mut records = Vec::with_capacity(ITEM_LOCATIONS * UPDATES_PER_ITEM_LOCATION);
    for n in 0..UPDATES_PER_ITEM_LOCATION {
        for j in 0..ITEM_LOCATIONS {
            // 7,919 is prime to 100,000: a permutation that hops between locations.
            let k = j * 7_919 % ITEM_LOCATIONS;
            let seq = n * ITEM_LOCATIONS + j;
            let at = T0 + seq as i64 * 10_000;
            let on_hand = match (path(k), n) {
                (Path::Quiet, _) | (Path::Crossing, 0) => 400 - 3 * n as i64,
                (Path::Crossing, _) | (Path::Ordered, _) => 1,
            };
            records.push(offsets.record(codec, stock(k, n + 1, on_hand, at), at));
        }
    }
    records
}

/// What a run did.
#[derive(Default)]
struct Run {
    secs: f64,
    /// Seconds in the batches' closes: end of batch, states serialized, order log.
    close_secs: f64,
    outputs: usize,
    state_rows: usize,
    state_bytes: usize,
}

/// Feeds `records` in batches of `batch` as the engine does, handing output parcels to `parcel`.
// Parcels go every PARCEL records; each batch's close emits its coalesced outputs and serializes
// the states it changed, as the engine's does.
fn run(
    env: &Env<'_, Replenishment>,
    task: &mut Task<Replenishment>,
    records: &[Record],
    batch: usize,
    parcel: &mut dyn FnMut(&Outputs),
) -> Run {
    let mut out = Outputs::with_capacity(PARCEL);
    let mut r = Run::default();
    let started = Instant::now();
    for chunk in records.chunks(batch) {
        for rec in chunk {
            let record = TaskRecord {
                index: rec.index,
                partition: 0,
                offset: rec.offset,
                written: rec.at,
                redrive: false,
                bytes: &rec.bytes,
            };
            task.handle(env, &record, &mut out).expect("outputs encode");
            if out.len() >= PARCEL {
                r.outputs += out.len();
                parcel(&out);
                out.clear();
            }
        }
        let closing = Instant::now();
        task.end_batch(env, &mut out).expect("end batch");
        r.outputs += out.len();
        parcel(&out);
        out.clear();
        let changes = task.take_changes().expect("states serialize");
        r.state_rows += changes.len();
        r.state_bytes += changes
            .iter()
            .map(|(_, v)| v.as_ref().map_or(0, Vec::len))
            .sum::<usize>();
        black_box(changes);
        black_box(task.take_order());
        task.order.trim(&task.offsets);
        r.close_secs += closing.elapsed().as_secs_f64();
    }
    r.secs = started.elapsed().as_secs_f64();
    r
}

/// A task with every item-location's demand rate and the `Ordered` path's open lines.
fn warmed(env: &Env<'_, Replenishment>, setup: &[Record]) -> Task<Replenishment> {
    let mut task = Task::new(0);
    run(env, &mut task, setup, setup.len(), &mut |_| {});
    task
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::var("REPLENISHMENT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let codec = Codec::embedded();
    let tables = tables(&codec);
    let mut offsets = Offsets::default();
    let setup = setup(&codec, &mut offsets);
    let updates = updates(&codec, &mut offsets);
    let processor = Replenishment;
    // Wall-clock time stays put: the triggers' produced_at is all it sets.
    let env = Env::new(&processor, &tables, &codec, Timestamp(T0 + 60 * MINUTE));

    // The mix, from one untimed run: what each update produced, by outcome and policy.
    let mut task = warmed(&env, &setup);
    let (mut orders, mut suppressed, mut other) = (0usize, 0usize, 0usize);
    let mut by_policy = std::collections::BTreeMap::<String, usize>::new();
    run(&env, &mut task, &updates, BATCHES[0], &mut |out| {
        for o in out.iter() {
            match codec.decode::<ReplenishmentTriggered>(o.payload) {
                Ok(t) if t.outcome == TriggerOutcome::ORDER => {
                    orders += 1;
                    *by_policy.entry(t.policy.symbol().to_owned()).or_default() += 1;
                }
                Ok(t) if t.outcome == TriggerOutcome::SUPPRESSED_OPEN_ORDER => suppressed += 1,
                _ => other += 1,
            }
        }
    });
    drop(task);
    let crossing = (0..ITEM_LOCATIONS)
        .filter(|k| path(*k) == Path::Crossing)
        .count();
    let ordered = (0..ITEM_LOCATIONS)
        .filter(|k| path(*k) == Path::Ordered)
        .count();
    // Every crossing item-location orders once and is suppressed once; every ordered one is
    // suppressed once: anything else means a rule was skipped and the figures mean less.
    assert_eq!(
        (orders, suppressed, other),
        (crossing, crossing + ordered, 0),
        "the mix of outcomes"
    );
    println!(
        "{}",
        serde_json::json!({
            "item_locations": ITEM_LOCATIONS,
            "updates": updates.len(),
            "orders": orders,
            "suppressed": suppressed,
            "orders_by_policy": by_policy,
            "setup_records": setup.len(),
            "event_bytes_median": median(updates.iter().map(|r| r.bytes.len() as f64).collect()),
        })
    );

    for round in 0..rounds {
        let mut line = serde_json::Map::new();
        line.insert("round".into(), round.into());
        for batch in BATCHES {
            let mut task = warmed(&env, &setup);
            let r = run(&env, &mut task, &updates, batch, &mut |out| {
                black_box(out.bytes());
            });
            // Dropped outside the measurement: freeing 100,000 states is not throughput.
            drop(task);
            line.insert(format!("secs_{batch}"), r.secs.into());
            line.insert(format!("close_secs_{batch}"), r.close_secs.into());
            line.insert(format!("outputs_{batch}"), r.outputs.into());
            line.insert(format!("state_rows_{batch}"), r.state_rows.into());
            line.insert(format!("state_bytes_{batch}"), r.state_bytes.into());
        }
        let started = Instant::now();
        for rec in &updates {
            black_box(
                <ReplenishmentInput as Input>::decode(rec.index, &codec, &rec.bytes)
                    .expect("decode"),
            );
        }
        line.insert("decode_secs".into(), started.elapsed().as_secs_f64().into());
        println!("{}", serde_json::Value::Object(line));
    }
}
