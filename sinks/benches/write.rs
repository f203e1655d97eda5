//! The sink's write path against a plain COPY of the same rows, in the same run.
//!
//! Per run: N InventoryUpdated (BENCH_VERSIONS consecutive versions per item-location, 1 by
//! default; run 1 inserts, later runs update with a higher sequence) and N
//! InventoryTransactionCreated (new ids) are decoded from Avro, staged
//! with COPY and upserted in 20,000-row transactions with their offsets, as `composerp sink`
//! does, each table on its own session (in parallel, as the sink writes them). The ceiling: the
//! same COPY text into empty tables shaped like the targets (same indexes), also one session per
//! table, no decoding, no upsert. Prints one line per run and the medians.
//!
//! `cargo bench -p composerp-sinks --bench write` (BENCH_ROWS, BENCH_RUNS, BENCH_VERSIONS;
//! DATABASE_URL).

use std::time::Instant;

use composerp_events::{Codec, EventId, Money, samples};
use composerp_sinks::{
    batch::{Batch, Staged},
    inventory::{Positions, Transactions},
    sink::commit_rows,
    testing::TestDatabase,
};
use sqlx::{Connection, PgConnection};

const CHUNK: usize = 20_000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Two sessions back from a write.
type Written = Result<(PgConnection, PgConnection), sqlx::Error>;

/// Encoded Avro records.
type Records = Vec<Vec<u8>>;

/// The Avro records of run `run`: `versions` consecutive versions of each position, fresh
/// transactions.
fn records(
    codec: &Codec,
    rows: usize,
    run: i64,
    versions: usize,
) -> anyhow::Result<(Records, Records)> {
    let (mut positions, mut transactions) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    for n in 0..rows {
        let (k, version) = (n / versions, run * versions as i64 + (n % versions) as i64);
        let mut u = samples::inventory_updated();
        u.event_id = EventId::from_name(&format!("p{k}-{version}"));
        u.tenant_id = format!("t{}", k % 4);
        u.location_id = format!("s{:03}", k % 200);
        u.item_id = format!("i{k:07}");
        u.sequence = version;
        u.on_hand = version * 10 + (k % 50) as i64;
        u.stock_value = Money(u.on_hand * 12_500);
        positions.push(codec.encode(&u)?);
        let mut t = samples::inventory_transaction_created();
        t.event_id = EventId::from_name(&format!("t{n}-{run}"));
        t.tenant_id = u.tenant_id.clone();
        t.location_id = u.location_id.clone();
        t.item_id = u.item_id.clone();
        t.sequence = version;
        transactions.push(codec.encode(&t)?);
    }
    Ok((positions, transactions))
}

async fn copy(conn: &mut PgConnection, table: &str, text: &str) -> Result<u64, sqlx::Error> {
    let mut copy = conn
        .copy_in_raw(&format!("COPY {table} FROM STDIN"))
        .await?;
    copy.send(text.as_bytes()).await?;
    copy.finish().await
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let rows = env_usize("BENCH_ROWS", 200_000);
    let runs = env_usize("BENCH_RUNS", 5);
    let versions = env_usize("BENCH_VERSIONS", 1).max(1);
    let db = TestDatabase::new().await?;
    // One session per table, as the sink has.
    let (mut conn, mut conn2) = (
        PgConnection::connect(&db.url()).await?,
        PgConnection::connect(&db.url()).await?,
    );
    let codec = Codec::embedded();
    let mut pos = Batch::<Positions>::default();
    let mut txs = Batch::<Transactions>::default();
    sqlx::raw_sql(
        "CREATE TABLE copy_positions (LIKE inventory.positions INCLUDING ALL);
         CREATE TABLE copy_transactions (LIKE inventory.transactions INCLUDING ALL);",
    )
    .execute(&mut conn)
    .await?;
    if versions > 1 {
        // Several versions of a key go into the ceiling's table: its key indexed, not unique.
        sqlx::raw_sql(
            "ALTER TABLE copy_positions DROP CONSTRAINT copy_positions_pkey;
             CREATE INDEX ON copy_positions (tenant_id, location_id, item_id);",
        )
        .execute(&mut conn)
        .await?;
    }
    println!(
        "{rows} positions ({versions} per item-location) + {rows} ledger entries per run, \
         {CHUNK}-row transactions, {runs} runs"
    );
    let (mut sink_rates, mut copy_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=runs {
        let (positions, transactions) = records(&codec, rows, run as i64, versions)?;

        // The sink: decode, stage, upsert, offsets; one transaction per chunk and table, the
        // next chunk staged while the previous one is written (as `composerp sink` does).
        let started = Instant::now();
        let (mut stage_secs, mut wait_secs) = (0.0, 0.0);
        let mut offset = 0i64;
        let mut sessions = Some((conn, conn2));
        let mut inflight: Option<tokio::task::JoinHandle<Written>> = None;
        for (ps, ts) in positions.chunks(CHUNK).zip(transactions.chunks(CHUNK)) {
            let t0 = Instant::now();
            for b in ps {
                pos.add(&codec, b)?;
            }
            for b in ts {
                txs.add(&codec, b)?;
            }
            offset += ps.len() as i64;
            let t1 = Instant::now();
            stage_secs += (t1 - t0).as_secs_f64();
            if let Some(h) = inflight.take() {
                sessions = Some(h.await??);
            }
            wait_secs += t1.elapsed().as_secs_f64();
            let (mut c1, mut c2) = sessions.take().expect("sessions are back");
            let (p, t) = (pos.take(), txs.take());
            inflight = Some(tokio::spawn(async move {
                let (tp, tt) = (
                    ["composerp.inventory.positions.v1".to_owned()],
                    ["composerp.inventory.transactions.v1".to_owned()],
                );
                let next = [offset];
                let (a, b) = tokio::join!(
                    commit_rows(&mut c1, p.as_ref(), "bench", (&tp, &[0], &next)),
                    commit_rows(&mut c2, t.as_ref(), "bench", (&tt, &[0], &next)),
                );
                a?;
                b?;
                Ok((c1, c2))
            }));
        }
        let t1 = Instant::now();
        if let Some(h) = inflight.take() {
            sessions = Some(h.await??);
        }
        wait_secs += t1.elapsed().as_secs_f64();
        (conn, conn2) = sessions.take().expect("sessions are back");
        let sink_secs = started.elapsed().as_secs_f64();

        // The ceiling: the same rows as COPY text, straight into empty tables.
        let mut bp = Batch::<Positions>::default();
        let mut bt = Batch::<Transactions>::default();
        for b in &positions {
            bp.add(&codec, b)?;
        }
        for b in &transactions {
            bt.add(&codec, b)?;
        }
        let (texts_p, texts_t) = (bp.text(), bt.text());
        sqlx::raw_sql("TRUNCATE copy_positions, copy_transactions")
            .execute(&mut conn)
            .await?;
        // Both tables at once on two sessions, like the sink.
        let started = Instant::now();
        let (a, b) = tokio::join!(
            copy(&mut conn, "copy_positions", texts_p),
            copy(&mut conn2, "copy_transactions", texts_t),
        );
        a?;
        b?;
        let copy_secs = started.elapsed().as_secs_f64();

        let total = (2 * rows) as f64;
        let (sink_rate, copy_rate) = (total / sink_secs, total / copy_secs);
        println!(
            "run {run}: sink {sink_rate:>9.0} rows/s ({sink_secs:.2} s: decode and stage {stage_secs:.2} s, waiting for Postgres {wait_secs:.2} s), plain COPY {copy_rate:>9.0} rows/s ({copy_secs:.2} s), ratio {:.2}",
            sink_rate / copy_rate
        );
        sink_rates.push(sink_rate);
        copy_rates.push(copy_rate);
        ratios.push(sink_rate / copy_rate);
    }
    println!(
        "median: sink {:.0} rows/s, plain COPY {:.0} rows/s, ratio {:.2}",
        median(&mut sink_rates),
        median(&mut copy_rates),
        median(&mut ratios)
    );
    Ok(())
}
