//! The ledger on one core without a broker: Avro decode of each receipt, processing, Avro
//! encode of every output, and the changed states staged per batch and written into the
//! partition's fjall store when due (here: once, at the end), exactly as the engine does them (BENCHMARKS.md, `deploy/bench/ledger.sh`).
#![allow(missing_docs)] // criterion_group! generates an undocumented public function.

use std::hint::black_box;

/// The allocator of the `composerp` binary, so the figures are the service's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use composerp_events::{
    Codec, EventId, Money, Timestamp,
    catalog::LocationType,
    pos::{SaleCompleted, SaleLine, SaleLineType},
    samples,
};
use composerp_ledger::{InventoryLedger, LedgerTables};
use composerp_runtime::{
    engine::{EngineConfig, PARCEL},
    processor::{Outputs, Tables},
    store::{Checkpoint, Store},
    task::{Env, Record, Task},
};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const RECEIPTS: usize = 20_000;
const LINES: usize = 3;
const STORES: usize = 25;
const ITEMS: usize = 2_000;
const BATCH: usize = 20_000;

/// Receipts of 3 sale lines over 25 stores × 2,000 items (50,000 item-locations).
fn receipts(codec: &Codec) -> Vec<Vec<u8>> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..RECEIPTS)
        .map(|n| {
            let mut s: SaleCompleted = samples::sale_completed(0);
            s.event_id = EventId::from_name(&format!("bench-{n}"));
            s.store_id = format!("s{:03}", next() as usize % STORES);
            s.occurred_at = Timestamp(s.occurred_at.0 + n as i64 * 1_000_000);
            s.lines = (0..LINES)
                .map(|i| SaleLine {
                    line_number: i as i32 + 1,
                    item_id: format!("i{:05}", next() as usize % ITEMS),
                    line_type: SaleLineType::SALE,
                    quantity: 1 + (next() % 3) as i64,
                    unit_price: Money(24_900),
                    discount: Money::ZERO,
                    return_condition: None,
                    reservation_id: None,
                })
                .collect();
            codec.encode(&s).expect("encode")
        })
        .collect()
}

fn tables(codec: &Codec) -> LedgerTables {
    let mut t = LedgerTables::default();
    for s in 0..STORES {
        let mut l = samples::location();
        l.location_id = format!("s{s:03}");
        l.location_type = LocationType::STORE;
        t.update(0, codec, &codec.encode(&l).expect("location"))
            .expect("location");
    }
    for i in 0..ITEMS {
        let mut item = samples::item();
        item.item_id = format!("i{i:05}");
        t.update(1, codec, &codec.encode(&item).expect("item"))
            .expect("item");
    }
    t
}

fn bench(c: &mut Criterion) {
    let codec = Codec::embedded();
    let inputs = receipts(&codec);
    let tables = tables(&codec);
    let processor = InventoryLedger;
    let config = EngineConfig::new("state".into());
    let mut g = c.benchmark_group("ledger_one_core");
    g.throughput(Throughput::Elements((RECEIPTS * LINES) as u64));
    g.sample_size(10);
    // One batch of all 20,000 records, as the engine's batches hold at these rates (a batch
    // closes at 50,000 records or 500 ms); 4,000 shows the cost of smaller batches, which
    // coalesce fewer position updates.
    for batch in [BATCH, 4_000] {
        // Outputs go out in parcels whose buffers the engine reuses: one handed over (here:
        // cleared) at every PARCEL records, as the engine does.
        let mut out = Outputs::default();
        g.bench_function(format!("sale_lines_batches_of_{batch}"), |b| {
            b.iter_batched(
                || {
                    let dir = tempfile::tempdir().expect("dir");
                    let store = Store::open(dir.path(), 0).expect("store");
                    (dir, store, Task::<InventoryLedger>::new(0))
                },
                |(dir, mut store, mut task)| {
                    let mut outputs = 0usize;
                    out.clear();
                    let mut cp = Checkpoint::default();
                    for (b, chunk) in inputs.chunks(batch).enumerate() {
                        let env = Env::new(&processor, &tables, &codec, Timestamp::now());
                        for (i, bytes) in chunk.iter().enumerate() {
                            let record = Record {
                                index: 0,
                                partition: 0,
                                offset: (b * batch + i) as i64,
                                written: env.now.0,
                                redrive: false,
                                bytes,
                            };
                            task.handle(&env, &record, &mut out).expect("handle");
                            if out.len() >= PARCEL {
                                outputs += out.len();
                                out.clear();
                            }
                        }
                        task.end_batch(&env, &mut out).expect("end batch");
                        outputs += out.len();
                        out.clear();
                        // The order log the engine writes per round, then trims at commit.
                        std::hint::black_box(task.take_order());
                        task.order.trim(&task.offsets);
                        let changes = task.take_changes().expect("changes");
                        cp = Checkpoint {
                            offsets: task.offsets.clone(),
                            changelog_next: b as i64,
                            max_event_time: task.max_event_time,
                            epoch: 1,
                            sole: true,
                            order: task.order_runs(),
                        };
                        // As the engine does: staged per batch, written when due.
                        store.stage(changes);
                        if store.due(config.store_interval, config.store_keys) {
                            store.write(&cp).expect("write");
                        }
                    }
                    // And written before the partition is released.
                    store.write(&cp).expect("write");
                    black_box(outputs);
                    // Dropped outside the measurement: freeing 50,000 states is not throughput.
                    (dir, store, task)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.bench_function("decode_only_baseline", |b| {
        b.iter(|| {
            for bytes in &inputs {
                black_box(codec.decode::<SaleCompleted>(bytes).expect("decode"));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
