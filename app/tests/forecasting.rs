//! The forecasting processor on a real broker with generated data, SIGKILLed while the data
//! streams: every item-location gets a forecast for every local day that closed since its first
//! sale (none lost), each forecast id is published with one content only (none doubled or
//! rewritten), and accuracy follows once a day can be scored against seasonal naive.

mod common;

use std::{
    collections::{BTreeSet, HashMap},
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use chrono_tz::Tz;
use composerp_events::{
    Codec, Event, EventId, Timestamp,
    catalog::Location,
    forecasting::{ForecastAccuracyUpdated, ForecastGenerated},
    pos::{SaleCompleted, SaleLineType},
};
use composerp_forecasting::{features::ALLOWED_LATENESS, zone};
use composerp_kafka::{KafkaSettings, LocalBroker};
use composerp_topics::TopicCatalog;
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
};

use common::{Key, Proc, append, composerp};

/// (tenant, location, item, local day).
type Run = (String, String, String, i32);

fn run_forecasting(brokers: &str, state: &Path, log: &Path) -> anyhow::Result<Proc> {
    Ok(Proc(
        composerp(brokers)
            .args(["run", "forecasting", "--state-dir"])
            .arg(state)
            .stdout(Stdio::null())
            .stderr(append(log)?)
            .spawn()?,
    ))
}

/// Every record of the topics `ids` (all partitions) until none arrives for `idle`:
/// (partition, payload).
fn read(brokers: &str, ids: &[&str], idle: Duration) -> anyhow::Result<Vec<(i32, Vec<u8>)>> {
    let consumer: BaseConsumer = KafkaSettings::new(brokers, None)?
        .consumer("composerp-test-forecasting")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for id in ids {
        let spec = TopicCatalog::embedded().get(id)?;
        for p in 0..spec.partitions {
            tpl.add_partition_offset(&spec.name, p, Offset::Offset(0))?;
        }
    }
    consumer.assign(&tpl)?;
    let mut out = Vec::new();
    let mut last = Instant::now();
    while last.elapsed() < idle {
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m?;
            if let Some(bytes) = m.payload() {
                out.push((m.partition(), bytes.to_vec()));
            }
            last = Instant::now();
        }
    }
    Ok(out)
}

/// The forecast runs the processor owes: per item-location, every local day from its first sale
/// through the last day its partition's event time has closed (an hour past the day's end).
fn owed(brokers: &str, codec: &Codec) -> anyhow::Result<BTreeSet<Run>> {
    let mut zones: HashMap<(String, String), Tz> = HashMap::new();
    for (_, bytes) in read(brokers, &["catalog.locations"], Duration::from_secs(2))? {
        let l: Location = codec.decode(&bytes)?;
        zones.insert(
            (l.tenant_id, l.location_id),
            l.timezone.parse().unwrap_or(Tz::UTC),
        );
    }
    let mut newest: HashMap<i32, i64> = HashMap::new();
    let mut partition_of: HashMap<(String, String), i32> = HashMap::new();
    let mut first: HashMap<Key, i32> = HashMap::new();
    for (p, bytes) in read(brokers, &["pos.sales"], Duration::from_secs(2))? {
        let s: SaleCompleted = codec.decode(&bytes)?;
        let zone = zones
            .get(&(s.tenant_id.clone(), s.store_id.clone()))
            .copied()
            .unwrap_or(Tz::UTC);
        let at = newest.entry(p).or_insert(i64::MIN);
        *at = (*at).max(s.occurred_at.0);
        partition_of.insert((s.tenant_id.clone(), s.store_id.clone()), p);
        let day = zone::day_of(zone, s.occurred_at);
        for l in &s.lines {
            if l.line_type == SaleLineType::SALE && l.quantity > 0 {
                let k = (s.tenant_id.clone(), s.store_id.clone(), l.item_id.clone());
                let d = first.entry(k).or_insert(day);
                *d = (*d).min(day);
            }
        }
    }
    let mut runs = BTreeSet::new();
    for ((t, l, i), from) in first {
        let zone = zones
            .get(&(t.clone(), l.clone()))
            .copied()
            .unwrap_or(Tz::UTC);
        let watermark = newest[&partition_of[&(t.clone(), l.clone())]] - ALLOWED_LATENESS;
        let mut day = from;
        while zone::end_of_day(zone, day).0 <= watermark {
            runs.insert((t.clone(), l.clone(), i.clone(), day));
            day += 1;
        }
    }
    Ok(runs)
}

/// Per event id, the distinct contents published (produced_at aside).
fn contents<T: Event>(
    records: &[(i32, Vec<u8>)],
    codec: &Codec,
    zero: impl Fn(&mut T),
    mut each: impl FnMut(&T),
) -> anyhow::Result<HashMap<EventId, Vec<Vec<u8>>>> {
    let mut seen: HashMap<EventId, Vec<Vec<u8>>> = HashMap::new();
    for (_, bytes) in records {
        let mut v: T = codec.decode(bytes)?;
        zero(&mut v);
        each(&v);
        let c = codec.encode(&v)?;
        let all = seen.entry(v.event_id()).or_default();
        if !all.contains(&c) {
            all.push(c);
        }
    }
    Ok(seen)
}

#[test]
fn sigkills_during_the_end_of_day_runs_lose_no_forecast_and_double_none() -> anyhow::Result<()> {
    let broker = LocalBroker::start()?;
    let brokers = broker.brokers();
    let dir = tempfile::tempdir()?;
    let apply = composerp(&brokers).args(["topics", "apply"]).output()?;
    assert!(
        apply.status.success(),
        "{}",
        String::from_utf8_lossy(&apply.stderr)
    );
    let (state, log) = (dir.path().join("state"), dir.path().join("forecasting.log"));
    let mut forecasting = run_forecasting(&brokers, &state, &log)?;
    let generate = composerp(&brokers)
        .args([
            "generate",
            "--tenants",
            "1",
            "--locations",
            "4",
            "--items",
            "60",
        ])
        .args(["--days", "40", "--seed", "5", "--rate", "1500"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut generate = Proc(generate);
    // SIGKILL while days close; the second restart also loses its local store, so it rebuilds
    // from the changelog.
    let started = Instant::now();
    for (at, wipe) in [(4.0, false), (8.0, true), (11.0, false)] {
        while started.elapsed() < Duration::from_secs_f64(at) {
            std::thread::sleep(Duration::from_millis(100));
        }
        forecasting.sigkill()?;
        if wipe && state.exists() {
            std::fs::remove_dir_all(&state)?;
        }
        forecasting = run_forecasting(&brokers, &state, &log)?;
    }
    let status = generate.0.wait()?;
    assert!(status.success(), "generate failed");
    eprintln!("generated in {:.1} s", started.elapsed().as_secs_f64());
    let codec = Codec::embedded();
    let owed = owed(&brokers, &codec)?;
    assert!(owed.len() > 1_000, "{} forecast runs owed", owed.len());

    // Done when every owed run is out, or after two minutes.
    let deadline = Instant::now() + Duration::from_secs(120);
    let (forecasts, accuracy) = loop {
        let forecasts = read(&brokers, &["forecasting.forecasts"], Duration::from_secs(3))?;
        if forecasts.len() >= owed.len() || Instant::now() > deadline {
            let accuracy = read(&brokers, &["forecasting.accuracy"], Duration::from_secs(3))?;
            break (forecasts, accuracy);
        }
    };
    drop(forecasting);

    eprintln!(
        "{} forecast runs owed, {} forecast records and {} accuracy records read",
        owed.len(),
        forecasts.len(),
        accuracy.len()
    );
    let mut published: BTreeSet<Run> = BTreeSet::new();
    let generated = contents::<ForecastGenerated>(
        &forecasts,
        &codec,
        |f| f.produced_at = Timestamp(0),
        |f| {
            published.insert((
                f.tenant_id.clone(),
                f.location_id.clone(),
                f.item_id.clone(),
                f.as_of_date.0,
            ));
        },
    )?;
    let doubled: Vec<_> = generated.iter().filter(|(_, c)| c.len() > 1).collect();
    assert!(
        doubled.is_empty(),
        "{} forecast ids with two contents",
        doubled.len()
    );
    let missing: Vec<_> = owed.difference(&published).take(5).collect();
    let extra: Vec<_> = published.difference(&owed).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} owed, {} published; missing {missing:?}, extra {extra:?}\n{}",
        owed.len(),
        published.len(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    for (id, c) in &generated {
        let f: ForecastGenerated = codec.decode(&c[0])?;
        assert_eq!(f.points.len(), 28, "{id}");
    }

    // Accuracy: one record per item-location and scored day, one content each; an
    // item-location with more than a week of closed days has been scored.
    let mut scored: BTreeSet<Run> = BTreeSet::new();
    let accuracy = contents::<ForecastAccuracyUpdated>(
        &accuracy,
        &codec,
        |a| a.produced_at = Timestamp(0),
        |a| {
            scored.insert((
                a.tenant_id.clone(),
                a.location_id.clone(),
                a.item_id.clone(),
                a.as_of_date.0,
            ));
        },
    )?;
    assert!(
        accuracy.values().all(|c| c.len() == 1),
        "accuracy rewritten"
    );
    let mut first: HashMap<Key, i32> = HashMap::new();
    let mut last: HashMap<Key, i32> = HashMap::new();
    for (t, l, i, d) in &owed {
        let k = (t.clone(), l.clone(), i.clone());
        first
            .entry(k.clone())
            .and_modify(|f| *f = (*f).min(*d))
            .or_insert(*d);
        last.entry(k)
            .and_modify(|f| *f = (*f).max(*d))
            .or_insert(*d);
    }
    let unscored: Vec<_> = last
        .iter()
        .filter(|&(k, &d)| d >= first[k] + 8)
        .filter(|&((t, l, i), &d)| !scored.contains(&(t.clone(), l.clone(), i.clone(), d)))
        .take(5)
        .collect();
    assert!(unscored.is_empty(), "no accuracy for {unscored:?}");
    Ok(())
}
