//! The engine handles a round of records on several threads, partitions split between them
//! (`composerp_runtime::parallel`). The ledger must end exactly as when every record is handled
//! one by one: the same states, the same outputs in the same order per key, the same dead
//! letters and duplicate counts.

use std::collections::BTreeMap;

use composerp_events::{
    Codec, EventId, Money, Timestamp,
    catalog::LocationType,
    pos::{SaleCompleted, SaleLine, SaleLineType},
    samples,
};
use composerp_ledger::{InventoryLedger, LedgerTables};
use composerp_runtime::{
    parallel::{MIN_PER_THREAD, Record, Workers},
    processor::{Outputs, Tables},
    states::Change,
    task::{Env, Outcome, Task},
};

const PARTITIONS: i32 = 5;
const STORES: usize = 12;
const ITEMS: usize = 150;

/// Sale receipts over the stores, each with its partition (by store), a few garbage records
/// and a few repeats of earlier receipts among them.
fn inputs(codec: &Codec) -> Vec<(i32, Vec<u8>)> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out: Vec<(i32, Vec<u8>)> = Vec::new();
    for n in 0..6_000usize {
        let store = next() as usize % STORES;
        let partition = (store % PARTITIONS as usize) as i32;
        match n % 500 {
            17 => out.push((partition, b"not avro".to_vec())),
            // A repeat of an earlier record of the same partition.
            250 => {
                if let Some(r) = out.iter().rev().find(|r| r.0 == partition).cloned() {
                    out.push(r);
                }
            }
            _ => {
                let mut s: SaleCompleted = samples::sale_completed(0);
                s.event_id = EventId::from_name(&format!("parallel-{n}"));
                s.store_id = format!("s{store:02}");
                s.occurred_at = Timestamp(s.occurred_at.0 + n as i64 * 1_000_000);
                s.lines = (0..1 + next() % 3)
                    .map(|i| SaleLine {
                        line_number: i as i32 + 1,
                        item_id: format!("i{:03}", next() as usize % ITEMS),
                        line_type: SaleLineType::SALE,
                        quantity: 1 + (next() % 4) as i64,
                        unit_price: Money(12_500),
                        discount: Money::ZERO,
                        return_condition: None,
                        reservation_id: None,
                    })
                    .collect();
                out.push((partition, codec.encode(&s).expect("encode")));
            }
        }
    }
    out
}

fn tables(codec: &Codec) -> LedgerTables {
    let mut t = LedgerTables::default();
    for s in 0..STORES {
        let mut l = samples::location();
        l.location_id = format!("s{s:02}");
        l.location_type = LocationType::STORE;
        t.update(0, codec, &codec.encode(&l).expect("location"))
            .expect("location");
    }
    for i in 0..ITEMS - 10 {
        let mut item = samples::item();
        item.item_id = format!("i{i:03}");
        t.update(1, codec, &codec.encode(&item).expect("item"))
            .expect("item");
    }
    t
}

/// Outputs by topic and key, in emission order.
type ByKey = BTreeMap<(String, String), Vec<Vec<u8>>>;

fn by_key<'a>(parcels: impl IntoIterator<Item = &'a Outputs>, into: &mut ByKey) {
    for parcel in parcels {
        for r in parcel.iter() {
            into.entry((r.topic.to_owned(), r.key.to_owned()))
                .or_default()
                .push(r.payload.to_vec());
        }
    }
}

/// What a run leaves: outputs per key, every task's changes (states, timers, deduplication
/// ids) and offsets, the positions of the rejected records, handled and duplicate counts.
#[derive(Debug, PartialEq)]
struct End {
    outputs: ByKey,
    changes: BTreeMap<i32, (Vec<Change>, Vec<i64>)>,
    rejected: Vec<usize>,
    handled: u64,
    duplicates: u64,
}

fn finish(
    env: &Env<'_, InventoryLedger>,
    tasks: &mut BTreeMap<i32, Task<InventoryLedger>>,
    mut end: End,
) -> End {
    let mut out = Outputs::default();
    for (p, task) in tasks.iter_mut() {
        task.end_batch(env, &mut out).expect("end batch");
        let mut rows = task.take_changes().expect("changes");
        rows.sort();
        end.changes.insert(*p, (rows, task.offsets.clone()));
    }
    by_key([&out], &mut end.outputs);
    end
}

fn tasks() -> BTreeMap<i32, Task<InventoryLedger>> {
    (0..PARTITIONS).map(|p| (p, Task::new(p))).collect()
}

fn empty() -> End {
    End {
        outputs: ByKey::new(),
        changes: BTreeMap::new(),
        rejected: Vec::new(),
        handled: 0,
        duplicates: 0,
    }
}

#[test]
fn rounds_on_several_threads_end_as_records_one_by_one() {
    let codec = Codec::embedded();
    let tables = tables(&codec);
    let env = Env::new(
        &InventoryLedger,
        &tables,
        &codec,
        Timestamp(1_700_000_000_000_000),
    );
    let inputs = inputs(&codec);
    // Offsets per partition, as the broker numbers them.
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let records: Vec<Record<'_>> = inputs
        .iter()
        .map(|(p, bytes)| {
            let offset = next.entry(*p).or_default();
            *offset += 1;
            Record {
                index: 0,
                partition: *p,
                offset: *offset - 1,
                written: env.now.0,
                redrive: false,
                bytes,
            }
        })
        .collect();

    let mut one = tasks();
    let mut seq = empty();
    let mut out = Outputs::default();
    for (at, r) in records.iter().enumerate() {
        let task = one.get_mut(&r.partition).expect("task");
        match task.handle(&env, r, &mut out).expect("handle") {
            Outcome::Applied => seq.handled += 1,
            Outcome::Duplicate => {
                seq.handled += 1;
                seq.duplicates += 1;
            }
            Outcome::Rejected(_) => {
                seq.handled += 1;
                seq.rejected.push(at);
            }
            Outcome::AlreadyApplied => {}
        }
    }
    by_key([&out], &mut seq.outputs);
    let seq = finish(&env, &mut one, seq);
    assert!(
        seq.duplicates > 0 && !seq.rejected.is_empty(),
        "the data has both"
    );

    for threads in [1, 2, 3] {
        let workers = Workers::new("test", threads).expect("threads");
        let mut many = tasks();
        let mut par = empty();
        // Rounds as the engine polls them: a few thousand records, offsets rising.
        let round = 4 * MIN_PER_THREAD + 37;
        for (n, chunk) in records.chunks(round).enumerate() {
            let shares = workers.handle_round(
                &env,
                many.iter_mut().map(|(p, t)| (*p, t)),
                chunk,
                100,
                Outputs::default,
            );
            if chunk.len() == round {
                assert_eq!(shares.len(), threads, "every thread gets a share");
            }
            for share in shares {
                assert!(share.error.is_none());
                by_key(&share.parcels, &mut par.outputs);
                par.handled += share.handled.iter().sum::<u64>();
                par.duplicates += share.duplicates.iter().sum::<u64>();
                par.rejected
                    .extend(share.rejected.iter().map(|r| n * round + r.0));
            }
        }
        par.rejected.sort_unstable();
        let par = finish(&env, &mut many, par);
        assert_eq!(par, seq, "{threads} threads");
    }
}
