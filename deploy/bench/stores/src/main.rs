//! Which embedded store keeps a partition's states best (BENCHMARKS.md, `deploy/bench/stores.sh`).
//!
//! The engine's pattern (`processors/runtime/src/store.rs`): states live in memory; a partition's
//! store takes the changed states every few seconds (up to 50,000 rows, sorted by key) with a
//! checkpoint row in one transaction forced to disk, and is read once, in full, at restore. So:
//!
//! 1. load: STATES states written in durable batches of 50,000 (a restore's rebuild, or a
//!    partition's first hours);
//! 2. update: 10 durable batches of 50,000 random existing keys (steady state);
//! 3. point reads: 200,000 random keys (not on the engine's path; for completeness);
//! 4. restore: the store reopened and read in full into a map, as a restart does.
//!
//! Each store with the engine's settings where it has them (redb: 16 MiB cache; fjall: 4 MiB
//! cache, one worker thread, 4 MiB memtables; RocksDB: its defaults), every write synced to
//! disk. Three runs, medians; STORES_ONLY=redb|fjall|rocksdb runs one.
#![allow(missing_docs)]

use std::{
    collections::HashMap,
    path::Path,
    time::{Duration, Instant},
};

const BATCH: usize = 50_000;
const UPDATE_BATCHES: usize = 10;
const READS: usize = 200_000;
const META_KEY: &[u8] = b"\0checkpoint";

/// One store under test.
trait Store: Sized {
    const NAME: &'static str;
    fn open(dir: &Path) -> Self;
    /// Writes the rows and a checkpoint row in one transaction, forced to disk.
    fn write(&mut self, rows: &[(Vec<u8>, Vec<u8>)]);
    fn get(&self, key: &[u8]) -> Option<Vec<u8>>;
    /// Calls `f` with every stored row.
    fn scan(&self, f: &mut dyn FnMut(&[u8], &[u8]));
}

struct Redb(redb::Database);

const STATES: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("states");

impl Store for Redb {
    const NAME: &'static str = "redb 4.6";
    fn open(dir: &Path) -> Self {
        let db = redb::Builder::new()
            .set_cache_size(16 * 1024 * 1024)
            .create(dir.join("partition.redb"))
            .expect("redb open");
        Redb(db)
    }
    fn write(&mut self, rows: &[(Vec<u8>, Vec<u8>)]) {
        let tx = self.0.begin_write().expect("begin");
        {
            let mut t = tx.open_table(STATES).expect("table");
            for (k, v) in rows {
                t.insert(k.as_slice(), v.as_slice()).expect("insert");
            }
            t.insert(META_KEY, &[1u8; 40][..]).expect("meta");
        }
        tx.commit().expect("commit");
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        use redb::ReadableDatabase;
        let tx = self.0.begin_read().expect("read");
        let t = tx.open_table(STATES).expect("table");
        t.get(key).expect("get").map(|v| v.value().to_vec())
    }
    fn scan(&self, f: &mut dyn FnMut(&[u8], &[u8])) {
        use redb::{ReadableDatabase, ReadableTable};
        let tx = self.0.begin_read().expect("read");
        let t = tx.open_table(STATES).expect("table");
        for row in t.iter().expect("iter") {
            let (k, v) = row.expect("row");
            f(k.value(), v.value());
        }
    }
}

struct Fjall {
    db: fjall::Database,
    states: fjall::Keyspace,
}

impl Store for Fjall {
    const NAME: &'static str = "fjall 3.1";
    fn open(dir: &Path) -> Self {
        // As the engine opens it (processors/runtime/src/store.rs).
        let db = fjall::Database::builder(dir.join("fjall"))
            .cache_size(4 << 20)
            .worker_threads(1)
            .max_write_buffer_size(Some(16 << 20))
            .max_journaling_size(64 << 20)
            .open()
            .expect("fjall open");
        let states = db
            .keyspace("states", || {
                fjall::KeyspaceCreateOptions::default().max_memtable_size(4 << 20)
            })
            .expect("keyspace");
        Fjall { db, states }
    }
    fn write(&mut self, rows: &[(Vec<u8>, Vec<u8>)]) {
        let mut batch = self
            .db
            .batch()
            .durability(Some(fjall::PersistMode::SyncAll));
        for (k, v) in rows {
            batch.insert(&self.states, k.as_slice(), v.as_slice());
        }
        batch.insert(&self.states, META_KEY, &[1u8; 40][..]);
        batch.commit().expect("commit");
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.states.get(key).expect("get").map(|v| v.to_vec())
    }
    fn scan(&self, f: &mut dyn FnMut(&[u8], &[u8])) {
        for guard in self.states.iter() {
            let (k, v) = guard.into_inner().expect("row");
            f(&k, &v);
        }
    }
}

struct Rocks(rocksdb::DB);

impl Store for Rocks {
    const NAME: &'static str = "RocksDB 11.8 (rocksdb 0.25)";
    fn open(dir: &Path) -> Self {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        Rocks(rocksdb::DB::open(&opts, dir.join("rocksdb")).expect("rocksdb open"))
    }
    fn write(&mut self, rows: &[(Vec<u8>, Vec<u8>)]) {
        let mut batch = rocksdb::WriteBatch::default();
        for (k, v) in rows {
            batch.put(k, v);
        }
        batch.put(META_KEY, [1u8; 40]);
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        self.0.write_opt(batch, &wo).expect("write");
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.get(key).expect("get")
    }
    fn scan(&self, f: &mut dyn FnMut(&[u8], &[u8])) {
        for row in self.0.iterator(rocksdb::IteratorMode::Start) {
            let (k, v) = row.expect("row");
            f(&k, &v);
        }
    }
}

/// xorshift: the same keys and values for every store.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Key of item-location `n`, as the ledger writes them (`tenant|item|location`).
fn key(n: usize) -> Vec<u8> {
    format!("tenant-{:02}|item-{:06}|loc-{:04}", n % 7, n / 50, n % 50).into_bytes()
}

/// A state value of 160 to 260 bytes: counters and ids, partly repetitive, as postcard
/// writes a position (small varints, document keys).
fn value(rng: &mut Rng, n: usize) -> Vec<u8> {
    let len = 160 + (rng.next() % 101) as usize;
    let mut v = format!("PO-{n}#1|TR-{}|", n / 3).into_bytes();
    while v.len() < len {
        let x = rng.next();
        v.push((x % 64) as u8);
        v.push((x >> 8) as u8 % 8);
    }
    v.truncate(len);
    v
}

struct Figures {
    load: f64,
    update: f64,
    reads: f64,
    restore: Duration,
    bytes: u64,
}

fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        total += if meta.is_dir() {
            dir_size(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

fn run<S: Store>(states: usize, root: &Path) -> Figures {
    let dir = tempfile::tempdir_in(root).expect("dir");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut store = S::open(dir.path());

    let started = Instant::now();
    for chunk in (0..states).collect::<Vec<_>>().chunks(BATCH) {
        let mut rows: Vec<_> = chunk
            .iter()
            .map(|&n| (key(n), value(&mut rng, n)))
            .collect();
        rows.sort_unstable();
        store.write(&rows);
    }
    let load = states as f64 / started.elapsed().as_secs_f64();

    let mut batches = Vec::new();
    for _ in 0..UPDATE_BATCHES {
        let mut rows: Vec<_> = (0..BATCH)
            .map(|_| {
                let n = rng.next() as usize % states;
                (key(n), value(&mut rng, n))
            })
            .collect();
        rows.sort_unstable();
        rows.dedup_by(|a, b| a.0 == b.0);
        batches.push(rows);
    }
    let written: usize = batches.iter().map(Vec::len).sum();
    let started = Instant::now();
    for rows in &batches {
        store.write(rows);
    }
    let update = written as f64 / started.elapsed().as_secs_f64();

    let keys: Vec<_> = (0..READS)
        .map(|_| key(rng.next() as usize % states))
        .collect();
    let started = Instant::now();
    let found = keys.iter().filter(|k| store.get(k).is_some()).count();
    let reads = READS as f64 / started.elapsed().as_secs_f64();
    assert_eq!(found, READS, "every key was written");

    drop(store);
    let bytes = dir_size(dir.path());
    let started = Instant::now();
    let store = S::open(dir.path());
    let mut restored: HashMap<Box<str>, Box<[u8]>> = HashMap::with_capacity(states);
    store.scan(&mut |k, v| {
        if k != META_KEY {
            let k = std::str::from_utf8(k).expect("utf-8 key");
            restored.insert(k.into(), v.into());
        }
    });
    let restore = started.elapsed();
    assert_eq!(restored.len(), states, "every state restored");
    Figures {
        load,
        update,
        reads,
        restore,
        bytes,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn measure<S: Store>(states: usize, runs: usize, root: &Path) {
    let figures: Vec<Figures> = (0..runs)
        .map(|i| {
            let f = run::<S>(states, root);
            eprintln!(
                "{} run {}: load {:.0}/s, update {:.0}/s, reads {:.0}/s, restore {:.2} s, {:.0} MiB",
                S::NAME,
                i + 1,
                f.load,
                f.update,
                f.reads,
                f.restore.as_secs_f64(),
                f.bytes as f64 / 1048576.0
            );
            f
        })
        .collect();
    let m = |g: fn(&Figures) -> f64| median(figures.iter().map(g).collect());
    println!(
        "| {} | {:.0} | {:.0} | {:.0} | {:.2} | {:.0} |",
        S::NAME,
        m(|f| f.load),
        m(|f| f.update),
        m(|f| f.reads),
        m(|f| f.restore.as_secs_f64()),
        m(|f| f.bytes as f64 / 1048576.0)
    );
}

fn main() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let states = env("STORES_STATES", 1_000_000);
    let runs = env("STORES_RUNS", 3);
    // The state directory's file system: COMPOSERP_STATE_DIR's, else the temporary one.
    let root = std::env::var_os("COMPOSERP_STATE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&root).expect("state dir");
    println!(
        "| {states} states, batches of {BATCH}, medians of {runs} | load, states/s | update, states/s | point reads/s | restore, s | on disk, MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let only = std::env::var("STORES_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || name.to_lowercase().contains(&only);
    if wanted(Redb::NAME) {
        measure::<Redb>(states, runs, &root);
    }
    if wanted(Fjall::NAME) {
        measure::<Fjall>(states, runs, &root);
    }
    if wanted(Rocks::NAME) {
        measure::<Rocks>(states, runs, &root);
    }
}
