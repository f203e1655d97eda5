//! The ledger on the local broker (BENCHMARKS.md, `deploy/bench/pipeline.sh`):
//!
//! 1. End to end: generated events → `composerp run ledger` (one process), as a ratio to the
//!    broker's raw consume rate of the same records with the same client settings, measured in
//!    the same run. Three runs, each on a fresh broker; medians.
//! 2. Restore: 1,000,000 item-location states on the changelog, rebuilt by a process with an
//!    empty state directory (seconds), and its peak RSS; then the same process restarted on its
//!    local files.
#![allow(missing_docs)]

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    net::TcpStream,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use composerp_events::Timestamp;
use composerp_kafka::{KafkaSettings, LocalBroker};
use composerp_ledger::{LedgerState, PositionState};
use composerp_ledger::{MovementKind, Position};
use composerp_topics::TopicCatalog;
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    message::{Header, OwnedHeaders},
    producer::{BaseProducer, BaseRecord, Producer},
};

const BIN: &str = env!("CARGO_BIN_EXE_composerp");

/// The `composerp` binary under test: PIPELINE_BIN names another build (a saved binary of an
/// earlier commit, to interleave two builds run by run with the same harness), else this one's.
fn bin() -> std::ffi::OsString {
    std::env::var_os("PIPELINE_BIN").unwrap_or_else(|| BIN.into())
}

fn composerp(brokers: &str) -> Command {
    let mut c = Command::new(bin());
    c.env("KAFKA_BROKERS", brokers)
        .env_remove("SCHEMA_REGISTRY_URL")
        .env("COMPOSERP_LOG", "warn");
    c
}

/// `composerp topics apply` against `brokers`.
fn apply_topics(brokers: &str) {
    let status = composerp(brokers)
        .args(["topics", "apply"])
        .stdout(Stdio::null())
        .status()
        .expect("apply");
    assert!(status.success(), "topics apply: {status}");
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Sum of a metric over its label sets, from the process's /metrics endpoint (None: not up).
fn metric(port: u16, name: &str) -> Option<f64> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(
        body.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum(),
    )
}

/// `composerp run ledger` with its state in `state`; its stderr goes to `state`.log.
fn ledger(brokers: &str, state: &Path, port: u16) -> Killed {
    let log = std::fs::File::create(state.with_extension("log")).expect("ledger log");
    Killed(
        composerp(brokers)
            .args([
                "run",
                "ledger",
                "--metrics-addr",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("--state-dir")
            .arg(state)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("composerp run"),
    )
}

/// Fails the bench, with the end of the process's log, if `composerp run ledger` has exited
/// (the bench would otherwise wait for its metrics forever).
fn check_alive(process: &mut Killed, state: &Path) {
    if let Some(status) = process.0.try_wait().expect("wait") {
        let log = std::fs::read_to_string(state.with_extension("log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        panic!(
            "composerp run ledger exited early ({status}); its log ends:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
}

fn input_topics() -> Vec<String> {
    use composerp_runtime::processor::{Input, Processor};
    let catalog = TopicCatalog::embedded();
    <<composerp_ledger::InventoryLedger as Processor>::Input as Input>::TOPICS
        .iter()
        .map(|id| catalog.get(id).expect("topic").name.clone())
        .collect()
}

/// Clock ticks per second of the CPU times in /proc (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

/// CPU seconds used so far by the threads of process `pid` (None: this process), summed by
/// thread name with digits dropped, so librdkafka's broker threads count as one group.
fn cpu(pid: Option<u32>) -> BTreeMap<String, f64> {
    let dir = pid.map_or_else(
        || "/proc/self/task".to_owned(),
        |p| format!("/proc/{p}/task"),
    );
    let mut by_name = BTreeMap::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "tid (name) state ppid ...": utime and stime are the 14th and 15th fields.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name: String = stat[open + 1..close]
            .chars()
            .filter(|c| !c.is_ascii_digit())
            .collect();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks: f64 = fields[11..13]
            .iter()
            .filter_map(|f| f.parse::<f64>().ok())
            .sum();
        *by_name.entry(name).or_insert(0.0) += ticks / TICKS;
    }
    by_name
}

/// CPU seconds each thread group used from `before` to `after`.
fn cpu_used(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .collect()
}

fn total(used: &BTreeMap<String, f64>) -> f64 {
    used.values().sum()
}

/// One run's rates and the CPU seconds spent on them.
struct Run {
    /// Input records the ledger applied.
    records: i64,
    ledger_rate: f64,
    raw_rate: f64,
    /// CPU seconds of the ledger process by thread group, from its first record to its last.
    ledger_cpu: BTreeMap<String, f64>,
    /// CPU seconds of the broker over the same time.
    broker_cpu: f64,
    /// CPU seconds of the raw consumer (this process) and of the broker while it read.
    raw_cpu: f64,
    raw_broker_cpu: f64,
}

/// Records and records/s of a plain consumer reading `topics` from the start until nothing
/// arrives for 3 s (the broker's ListOffsets "latest" is not exact on Tansu, so no watermarks).
/// Also the CPU seconds this process and the broker (`broker`) spent from the first record to the
/// last.
fn raw_consume(settings: &KafkaSettings, topics: &[String], broker: u32) -> (i64, f64, f64, f64) {
    let c: BaseConsumer = settings.consumer("bench-raw").create().expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for t in topics {
        for p in 0..8 {
            tpl.add_partition_offset(t, p, Offset::Offset(0))
                .expect("tpl");
        }
    }
    c.assign(&tpl).expect("assign");
    let (mut n, mut bytes) = (0i64, 0usize);
    let (mut first, mut last) = (None, Instant::now());
    let snapshot = || (cpu(None), cpu(Some(broker)));
    // CPU times at the first record, then every few thousand records (reading /proc costs well
    // under 1 % of the rate) and when the records stop.
    let (mut start, mut end, mut end_n) = (None, None, 0);
    while first.is_none() || last.elapsed() < Duration::from_secs(3) {
        if let Some(m) = c.poll(Duration::from_millis(100)) {
            let m = m.expect("message");
            if first.is_none() {
                first = Some(Instant::now());
                start = Some(snapshot());
            }
            last = Instant::now();
            bytes += m.payload().map_or(0, <[u8]>::len);
            n += 1;
            if n % 4_096 == 0 {
                (end, end_n) = (Some(snapshot()), n);
            }
        } else if first.is_some() && end_n != n {
            (end, end_n) = (Some(snapshot()), n);
        }
    }
    std::hint::black_box(bytes);
    let secs = last.duration_since(first.expect("records")).as_secs_f64();
    let ((own0, broker0), (own1, broker1)) = (start.expect("start"), end.expect("end"));
    (
        n,
        n as f64 / secs,
        total(&cpu_used(&own0, &own1)),
        total(&cpu_used(&broker0, &broker1)),
    )
}

/// Days of generated data per run: PIPELINE_DAYS, 30 by default (about 206,000 events; 90
/// gives about 615,000, a run three times as long).
fn days() -> String {
    std::env::var("PIPELINE_DAYS").unwrap_or_else(|_| "30".to_owned())
}

fn end_to_end(run: usize) -> Run {
    let broker = LocalBroker::start().expect("broker");
    let brokers = broker.brokers();
    let settings = KafkaSettings::new(&brokers, None).expect("settings");
    let dir = tempfile::tempdir().expect("dir");
    apply_topics(&brokers);
    let generated = composerp(&brokers)
        .args([
            "generate",
            "--tenants",
            "2",
            "--locations",
            "8",
            "--items",
            "420",
            "--days",
            &days(),
        ])
        .args(["--seed", &(11 + run).to_string()])
        .stderr(Stdio::null())
        .status()
        .expect("generate");
    assert!(generated.success());
    let topics = input_topics();
    let port = free_port();
    let state = dir.path().join("state");
    let mut ledger_process = ledger(&brokers, &state, port);
    let pid = ledger_process.0.id();
    let snapshot = || (cpu(Some(pid)), cpu(Some(broker.pid())));
    // The clock runs from the first record processed to the last, so start-up is not counted;
    // the run is over when the count has not moved for 3 s. CPU times are read at the same
    // moments.
    let (mut first, mut last_change) = (None, Instant::now());
    let (mut start, mut end) = (None, None);
    let mut done = 0.0;
    loop {
        std::thread::sleep(Duration::from_millis(20));
        check_alive(&mut ledger_process, &state);
        let cpu_now = snapshot();
        let Some(now) = metric(port, "composerp_processor_records_in_total") else {
            continue;
        };
        if now > 0.0 && first.is_none() {
            first = Some(Instant::now());
            start = Some(cpu_now.clone());
        }
        if now != done {
            done = now;
            last_change = Instant::now();
            end = Some(cpu_now);
        }
        if first.is_some() && last_change.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    let elapsed = last_change
        .duration_since(first.expect("processed"))
        .as_secs_f64();
    drop(ledger_process);
    let (records, raw_rate, raw_cpu, raw_broker_cpu) =
        raw_consume(&settings, &topics, broker.pid());
    assert_eq!(
        records, done as i64,
        "the ledger processed every input record once"
    );
    let ((ledger0, broker0), (ledger1, broker1)) = (start.expect("start"), end.expect("end"));
    Run {
        records,
        ledger_rate: done / elapsed,
        raw_rate,
        ledger_cpu: cpu_used(&ledger0, &ledger1),
        broker_cpu: total(&cpu_used(&broker0, &broker1)),
        raw_cpu,
        raw_broker_cpu,
    }
}

/// A realistic position: received, sold, counted and on order.
fn position_state(n: usize) -> LedgerState {
    let mut p = Position::default();
    let t = Timestamp(1_750_000_000_000_000);
    for (i, kind) in [
        MovementKind::PoApproved {
            line: format!("PO-{n}#1"),
            qty: 60,
        },
        MovementKind::Receipt {
            line: format!("PO-{n}#1"),
            qty: 40 + (n % 7) as i64,
            unit_cost: Some(1.25),
        },
        MovementKind::Sale {
            qty: 3,
            reservation: None,
        },
        MovementKind::Sale {
            qty: 1,
            reservation: None,
        },
    ]
    .iter()
    .enumerate()
    {
        let _ = p.apply(kind, Timestamp(t.0 + i as i64 * 1_000_000));
    }
    LedgerState::Position(Box::new(PositionState {
        position: p,
        version: 4,
        last_event: None,
        last_at: t,
        currency: Some("EUR".into()),
        applied: vec![n as i64, 0, 0],
    }))
}

fn restore() -> (f64, f64, f64, usize) {
    const STATES: usize = 1_000_000;
    let broker = LocalBroker::start().expect("broker");
    let brokers = broker.brokers();
    let settings = KafkaSettings::new(&brokers, None).expect("settings");
    apply_topics(&brokers);
    let changelog = TopicCatalog::embedded().changelog("ledger", 8).name;
    // The ledger creates its changelog itself: run it once, then fill the changelog.
    let dir = tempfile::tempdir().expect("dir");
    {
        let port = free_port();
        let first = ledger(&brokers, &dir.path().join("setup"), port);
        while metric(port, "composerp_processor_batches_total").is_none() {
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(2));
        // A clean stop: Tansu leaves a SIGKILLed member's partitions unassigned for a while.
        stop(first);
    }
    // As a process that took every partition over and wrote the states: its takeover sentinel
    // in each partition first, then the entries tagged with its epoch (the sentinel's offset;
    // a restore admits only the writes of the partition's latest owner).
    let writer = 42u64.to_be_bytes();
    let producer: BaseProducer = settings.producer().create().expect("producer");
    let send = |record: BaseRecord<'_, [u8], [u8]>| {
        let mut record = record;
        loop {
            match producer.send(record) {
                Ok(()) => return,
                Err((_, r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(5));
                }
            }
        }
    };
    for p in 0..8 {
        send(
            BaseRecord::to(&changelog)
                .key(&b"\0restore"[..])
                .payload(&writer[..])
                .partition(p),
        );
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    let epochs: Vec<[u8; 8]> = (0..8)
        .map(|p| sentinel_offset(&settings, &changelog, p, &writer).to_be_bytes())
        .collect();
    for n in 0..STATES {
        let key = format!("p|t{}|s{:03}|i{:06}", n % 4, n % 250, n);
        let value = postcard::to_allocvec(&position_state(n)).expect("state");
        send(
            BaseRecord::to(&changelog)
                .key(key.as_bytes())
                .payload(value.as_slice())
                .headers(OwnedHeaders::new().insert(Header {
                    key: "composerp.epoch",
                    value: Some(&epochs[n % 8][..]),
                }))
                .partition((n % 8) as i32),
        );
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
    let wait_restored = |port: u16, ledger: &Killed| -> (f64, f64) {
        let started = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(50));
            if metric(port, "composerp_processor_state_keys").unwrap_or(0.0) >= STATES as f64
                || metric(port, "composerp_processor_restored_records_total").unwrap_or(0.0)
                    >= STATES as f64
                    && metric(port, "composerp_processor_restore_remaining_records").unwrap_or(1.0)
                        == 0.0
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(600),
                "restore did not finish"
            );
        }
        let secs = started.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_secs(2));
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", ledger.0.id())).expect("status");
        let hwm = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .expect("VmHWM");
        (secs, hwm / 1024.0)
    };
    let port = free_port();
    let state = dir.path().join("state");
    let first = ledger(&brokers, &state, port);
    let (cold, rss) = wait_restored(port, &first);
    stop(first);
    let port = free_port();
    let second = ledger(&brokers, &state, port);
    let (warm, _) = wait_restored(port, &second);
    drop(second);
    (cold, rss, warm, STATES)
}

/// The offset of the restore sentinel `writer` wrote to changelog partition `p`.
fn sentinel_offset(settings: &KafkaSettings, changelog: &str, p: i32, writer: &[u8]) -> i64 {
    let consumer: BaseConsumer = settings
        .consumer("composerp-bench-sentinels")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(changelog, p, Offset::Beginning)
        .expect("partition");
    consumer.assign(&tpl).expect("assign");
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "sentinel of partition {p} not found"
        );
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(500))
            && m.key() == Some(&b"\0restore"[..])
            && m.payload() == Some(writer)
        {
            return m.offset();
        }
    }
}

/// SIGTERM, then wait for the clean exit (the process leaves the group).
fn stop(mut ledger: Killed) {
    let _ = Command::new("kill")
        .args(["-TERM", &ledger.0.id().to_string()])
        .status();
    let _ = ledger.0.wait();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("pipeline: benchmark");
        return;
    }
    let mut runs = Vec::new();
    // PIPELINE_RUNS sets the number of end-to-end runs (0: the restore only),
    // PIPELINE_NO_RESTORE skips the restore, for interleaving builds run by run, and
    // PIPELINE_DAYS the data's length (see `days`).
    let runs_wanted = std::env::var("PIPELINE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for run in 0..runs_wanted {
        let r = end_to_end(run);
        let micros = |cpu: f64| cpu * 1e6 / r.records as f64;
        let ledger_cpu = total(&r.ledger_cpu);
        let threads: Vec<String> = r
            .ledger_cpu
            .iter()
            .filter(|(_, v)| **v >= 0.01)
            .map(|(k, v)| format!("{k} {:.1}", micros(*v)))
            .collect();
        eprintln!(
            "run {run}: {} input records, ledger {:.0}/s, raw consume {:.0}/s, ratio {:.2}; \
             CPU µs per record: ledger {:.1} + broker {:.1} (raw: consumer {:.1} + broker {:.1}); \
             ledger threads: {}",
            r.records,
            r.ledger_rate,
            r.raw_rate,
            r.ledger_rate / r.raw_rate,
            micros(ledger_cpu),
            micros(r.broker_cpu),
            micros(r.raw_cpu),
            micros(r.raw_broker_cpu),
            threads.join(", ")
        );
        runs.push([
            r.ledger_rate,
            r.raw_rate,
            r.ledger_rate / r.raw_rate,
            micros(ledger_cpu + r.broker_cpu),
            micros(r.raw_cpu + r.raw_broker_cpu),
        ]);
    }
    let restored = std::env::var_os("PIPELINE_NO_RESTORE")
        .is_none()
        .then(restore);
    if !runs.is_empty() {
        println!("| measure | median of 3 |");
        println!("|---|---:|");
        // One row per measure, in the order of `runs`' columns, with its decimals.
        let rows = [
            ("ledger, input records/s (one process)", 0),
            ("raw consume of the same records, records/s", 0),
            ("ratio ledger / raw consume", 2),
            ("CPU µs per input record, ledger process + broker", 1),
            ("CPU µs per record, raw consumer + broker", 1),
        ];
        for (column, (label, decimals)) in rows.iter().enumerate() {
            let m = median(runs.iter().map(|r| r[column]).collect());
            println!("| {label} | {m:.decimals$} |");
        }
        println!();
    }
    let Some((cold, rss, warm, states)) = restored else {
        return;
    };
    println!("| restore of {states} item-location states | value |");
    println!("|---|---:|");
    println!("| from the changelog, empty state directory | {cold:.1} s |");
    println!("| peak RSS of that process | {rss:.0} MiB |");
    println!("| restart on its local files | {warm:.1} s |");
}
