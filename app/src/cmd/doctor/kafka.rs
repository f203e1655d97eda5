//! The doctor's broker-side checks: reachability and version, topics against the catalog,
//! schemas against the registry, consumer lag, and the age of the newest changelog markers.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use composerp_events::SchemaCatalog;
use composerp_topics::{TopicCatalog, admin::Admin};
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    error::KafkaError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Finding, Severity};
use crate::cli::Settings;

/// Thresholds and the time a single call may take.
pub struct Limits {
    /// Records behind, summed over a group's partitions, from which its lag is degraded.
    pub lag_warn: u64,
    /// Age of a processor's newest commit marker from which, while it has lag, it is degraded.
    pub marker_age_warn: Duration,
    /// How long one broker, registry or Postgres call may take.
    pub timeout: Duration,
}

/// What the broker told about itself: topics and their partition counts.
pub struct Cluster {
    topics: HashMap<String, i32>,
}

/// Changelog key of the engine's commit markers (`processors/runtime/src/engine/mod.rs`).
const MARKER_KEY: &[u8] = b"\x00commit";

/// Records read back from the end of each changelog partition to find its newest marker.
const MARKER_TAIL: i64 = 2_000;

/// Reachability, the brokers and the protocol version they speak; `None` when unreachable.
pub async fn broker(
    settings: &Settings,
    timeout: Duration,
    findings: &mut Vec<Finding>,
) -> Option<Cluster> {
    let area = "broker";
    let brokers = settings.kafka.brokers.clone();
    let consumer: Result<BaseConsumer, _> = settings.kafka.admin().create();
    let md = consumer.and_then(|c| c.fetch_metadata(None, timeout));
    let md = match md {
        Ok(md) => md,
        Err(e) => {
            findings.push(
                Finding::new(area, Severity::Broken, format!("no broker answers at {brokers}: {e}"))
                    .fix("start the brokers, or fix KAFKA_BROKERS / KAFKA_PROPERTIES (security settings)"),
            );
            return None;
        }
    };
    let addresses: Vec<String> = md
        .brokers()
        .iter()
        .map(|b| format!("{}:{}", b.host(), b.port()))
        .collect();
    let version = match addresses.first() {
        Some(a) if plaintext(settings) => match api_versions(a, timeout).await {
            Ok(v) => describe_versions(&v),
            Err(e) => format!("version not reported ({e})"),
        },
        _ => "version not probed (TLS or SASL in KAFKA_PROPERTIES)".into(),
    };
    findings.push(Finding::new(
        area,
        Severity::Ok,
        format!(
            "{} broker(s) reachable ({}); {version}",
            addresses.len(),
            addresses.join(", ")
        ),
    ));
    let topics = md
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| (t.name().to_owned(), t.partitions().len() as i32))
        .collect();
    Some(Cluster { topics })
}

/// Whether the client talks plain Kafka protocol (the version probe speaks no TLS or SASL).
fn plaintext(settings: &Settings) -> bool {
    settings
        .kafka
        .properties
        .iter()
        .find(|(k, _)| k == "security.protocol")
        .is_none_or(|(_, v)| v.eq_ignore_ascii_case("plaintext"))
}

/// Sends an ApiVersions v0 request to `address` and returns (api key, max version) pairs.
async fn api_versions(address: &str, timeout: Duration) -> std::io::Result<Vec<(i16, i16)>> {
    let io = async {
        let mut s = tokio::net::TcpStream::connect(address).await?;
        let client = b"composerp-doctor";
        let mut req = Vec::new();
        req.extend_from_slice(&18i16.to_be_bytes()); // ApiVersions
        req.extend_from_slice(&0i16.to_be_bytes()); // version 0: every broker answers it
        req.extend_from_slice(&1i32.to_be_bytes()); // correlation id
        req.extend_from_slice(&(client.len() as i16).to_be_bytes());
        req.extend_from_slice(client);
        s.write_all(&(req.len() as i32).to_be_bytes()).await?;
        s.write_all(&req).await?;
        let len = s.read_i32().await?;
        let mut body = vec![0u8; len.clamp(0, 1 << 20) as usize];
        s.read_exact(&mut body).await?;
        parse_api_versions(&body)
    };
    tokio::time::timeout(timeout, io)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))?
}

/// Parses an ApiVersions v0 response body (after its length).
fn parse_api_versions(body: &[u8]) -> std::io::Result<Vec<(i16, i16)>> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed ApiVersions");
    let i16_at = |at: usize| -> std::io::Result<i16> {
        Ok(i16::from_be_bytes(
            body.get(at..at + 2)
                .ok_or_else(bad)?
                .try_into()
                .map_err(|_| bad())?,
        ))
    };
    // correlation id (4), error code (2), array length (4), then (key, min, max) per api.
    let n = i32::from_be_bytes(
        body.get(6..10)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?,
    );
    (0..n.max(0) as usize)
        .map(|i| {
            let at = 10 + i * 6;
            Ok((i16_at(at)?, i16_at(at + 4)?))
        })
        .collect()
}

/// The protocol versions in words, with the Kafka release they suggest (from Fetch's newest
/// version, which each release since 2.3 raised).
fn describe_versions(v: &[(i16, i16)]) -> String {
    let max = |key: i16| v.iter().find(|(k, _)| *k == key).map(|(_, m)| *m);
    let Some(fetch) = max(1) else {
        return "the broker lists no Fetch version".into();
    };
    let release = match fetch {
        17.. => "4.0 or later",
        16 => "3.7 or later",
        15 => "3.5 or later",
        13 | 14 => "3.1 or later",
        12 => "2.7 or later",
        11 => "2.3 or later",
        _ => "older than 2.3",
    };
    format!(
        "protocol: Fetch v{fetch}, Produce v{}, {} APIs (like Kafka {release})",
        max(0).unwrap_or(-1),
        v.len()
    )
}

/// Every topic of the catalog exists with its partition count and cleanup policy.
pub async fn topics(settings: &Settings, cluster: &Cluster, findings: &mut Vec<Finding>) {
    let area = "topics";
    let catalog = TopicCatalog::embedded();
    let missing: Vec<&str> = catalog
        .topics()
        .iter()
        .filter(|t| !cluster.topics.contains_key(&t.name))
        .map(|t| t.name.as_str())
        .collect();
    let mut drift = Vec::new();
    for t in catalog.topics() {
        if let Some(&have) = cluster.topics.get(&t.name)
            && have != t.partitions
        {
            drift.push(format!(
                "{}: {have} partitions, catalog {}",
                t.name, t.partitions
            ));
        }
    }
    if let Ok(admin) = Admin::new(&settings.kafka.admin()) {
        for t in catalog.topics() {
            if cluster.topics.contains_key(&t.name)
                && let Some(p) = admin.cleanup_policy(&t.name).await
                && p != t.cleanup.policy()
            {
                drift.push(format!(
                    "{}: cleanup.policy={p}, catalog {}",
                    t.name,
                    t.cleanup.policy()
                ));
            }
        }
    }
    if !missing.is_empty() {
        findings.push(
            Finding::new(
                area,
                Severity::Broken,
                format!(
                    "{} of {} topics missing: {}",
                    missing.len(),
                    catalog.topics().len(),
                    missing.join(", ")
                ),
            )
            .fix("run `composerp topics apply` (k8s: the composerp-topics job)"),
        );
    }
    if !drift.is_empty() {
        findings.push(
            Finding::new(area, Severity::Degraded, format!("drift: {}", drift.join("; ")))
                .fix("partition counts are never changed for you (keys would move); see `composerp topics describe`"),
        );
    }
    if missing.is_empty() && drift.is_empty() {
        findings.push(Finding::new(
            area,
            Severity::Ok,
            format!(
                "all {} topics of the catalog exist as declared",
                catalog.topics().len()
            ),
        ));
    }
}

/// The catalog's newest schema of each record is compatible with what the registry holds.
pub async fn schemas(settings: &Settings, timeout: Duration, findings: &mut Vec<Finding>) {
    let area = "schemas";
    let Some(url) = settings.schema_registry_url.as_deref() else {
        findings.push(Finding::new(
            area,
            Severity::Ok,
            "no SCHEMA_REGISTRY_URL: the embedded catalog and its ids are used",
        ));
        return;
    };
    let shown = composerp_events::registry::redact(url);
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => {
            findings.push(Finding::new(
                area,
                Severity::Broken,
                format!("HTTP client: {e}"),
            ));
            return;
        }
    };
    let catalog = SchemaCatalog::embedded();
    let mut latest: BTreeMap<&str, &composerp_events::schemas::SchemaEntry> = BTreeMap::new();
    for e in catalog.entries() {
        if latest
            .get(e.full_name.as_str())
            .is_none_or(|l| l.version < e.version)
        {
            latest.insert(&e.full_name, e);
        }
    }
    let (mut compatible, mut unregistered, mut refused) = (0, Vec::new(), Vec::new());
    for (subject, entry) in &latest {
        let endpoint = format!(
            "{}/compatibility/subjects/{subject}/versions/latest",
            url.trim_end_matches('/')
        );
        let body = serde_json::json!({ "schema": entry.text }).to_string();
        let answer = client
            .post(&endpoint)
            .header("content-type", "application/vnd.schemaregistry.v1+json")
            .body(body)
            .send()
            .await;
        match answer {
            Err(e) => {
                findings.push(
                    Finding::new(
                        area,
                        Severity::Degraded,
                        format!("registry {shown} unreachable: {e}"),
                    )
                    .fix("processors cannot decode records of unknown writer ids while it is down"),
                );
                return;
            }
            Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => unregistered.push(*subject),
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                let ok = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v.get("is_compatible").and_then(serde_json::Value::as_bool));
                match ok {
                    Some(true) => compatible += 1,
                    _ => refused.push(format!("{subject} ({status}: {})", text.trim())),
                }
            }
        }
    }
    if !refused.is_empty() {
        findings.push(
            Finding::new(area, Severity::Broken, format!("not compatible with the registry: {}", refused.join("; ")))
                .fix("writers of these records will be refused; align the registry's compatibility setting or the schema"),
        );
    }
    findings.push(Finding::new(
        area,
        Severity::Ok,
        format!(
            "{compatible} record schemas compatible with {shown}; {} not registered yet (registered on first write)",
            unregistered.len()
        ),
    ));
}

/// Consumer lag of one group: records behind, summed over its partitions.
#[derive(Debug, Clone, Default)]
pub struct GroupLag {
    /// Records behind the high watermarks.
    pub records: u64,
    /// Partitions with a committed offset.
    pub partitions: usize,
}

/// Lag of every processor's and each named sink's consumer group, from the offsets they
/// committed; returned by processor name for the marker check.
pub async fn lag(
    settings: &Settings,
    cluster: &Cluster,
    sinks: &[String],
    limits: &Limits,
    findings: &mut Vec<Finding>,
) -> HashMap<String, GroupLag> {
    let area = "lag";
    let mut groups: Vec<(String, String)> = crate::registry::registry()
        .names()
        .into_iter()
        .map(|n| (n.to_owned(), format!("composerp-{n}")))
        .collect();
    groups.extend(
        sinks
            .iter()
            .map(|s| (format!("sink {s}"), format!("composerp-sink-{s}"))),
    );
    let inputs: Vec<(String, i32)> = TopicCatalog::embedded()
        .topics()
        .iter()
        .filter_map(|t| cluster.topics.get(&t.name).map(|&p| (t.name.clone(), p)))
        .collect();
    let mut out = HashMap::new();
    for (name, group) in groups {
        let (settings, inputs, timeout) = (settings.clone(), inputs.clone(), limits.timeout);
        let g = group.clone();
        let measured =
            tokio::task::spawn_blocking(move || group_lag(&settings, &g, &inputs, timeout)).await;
        match measured {
            Ok(Ok(l)) if l.partitions == 0 => findings.push(Finding::new(
                area,
                Severity::Info,
                format!("{name}: group {group} has committed nothing (not started, or never on this cluster)"),
            )),
            Ok(Ok(l)) => {
                let what = format!(
                    "{name}: {} records behind over {} partitions",
                    l.records, l.partitions
                );
                findings.push(if l.records > limits.lag_warn {
                    Finding::new(area, Severity::Degraded, what).fix(format!(
                        "more than {}: check that it runs (`kubectl get pods`), then scale it out up to its partition count",
                        limits.lag_warn
                    ))
                } else {
                    Finding::new(area, Severity::Ok, what)
                });
                out.insert(name, l);
            }
            Ok(Err(e)) => findings.push(Finding::new(
                area,
                Severity::Degraded,
                format!("{name}: committed offsets of {group} unreadable: {e}"),
            )),
            Err(e) => findings.push(Finding::new(area, Severity::Degraded, format!("{name}: {e}"))),
        }
    }
    out
}

/// Committed offsets of `group` on `inputs`, against the high watermarks. Blocks.
fn group_lag(
    settings: &Settings,
    group: &str,
    inputs: &[(String, i32)],
    timeout: Duration,
) -> Result<GroupLag, KafkaError> {
    let consumer: BaseConsumer = settings.kafka.consumer(group).create()?;
    let mut tpl = TopicPartitionList::new();
    for (t, n) in inputs {
        for p in 0..*n {
            tpl.add_partition(t, p);
        }
    }
    let committed = consumer.committed_offsets(tpl, timeout)?;
    let mut lag = GroupLag::default();
    for e in committed.elements() {
        let Offset::Offset(at) = e.offset() else {
            continue;
        };
        let (_, high) = consumer.fetch_watermarks(e.topic(), e.partition(), timeout)?;
        lag.records += (high - at).max(0) as u64;
        lag.partitions += 1;
    }
    Ok(lag)
}

/// How old each processor's newest changelog commit marker is: a processor with lag whose
/// markers stopped has stopped committing.
pub async fn markers(
    settings: &Settings,
    cluster: &Cluster,
    lags: &HashMap<String, GroupLag>,
    limits: &Limits,
    findings: &mut Vec<Finding>,
) {
    let area = "changelog";
    let catalog = TopicCatalog::embedded();
    for name in crate::registry::registry().names() {
        let topic = catalog.changelog(name, 1).name;
        let Some(&partitions) = cluster.topics.get(&topic) else {
            findings.push(Finding::new(
                area,
                Severity::Info,
                format!("{name}: no changelog topic yet (created when the processor first starts)"),
            ));
            continue;
        };
        let (s, t, timeout) = (settings.clone(), topic.clone(), limits.timeout);
        let newest =
            tokio::task::spawn_blocking(move || newest_markers(&s, &t, partitions, timeout)).await;
        let newest = match newest {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                findings.push(Finding::new(
                    area,
                    Severity::Degraded,
                    format!("{name}: {topic} unreadable: {e}"),
                ));
                continue;
            }
            Err(e) => {
                findings.push(Finding::new(
                    area,
                    Severity::Degraded,
                    format!("{name}: {e}"),
                ));
                continue;
            }
        };
        let now = chrono::Utc::now().timestamp_millis();
        let Some(oldest) = newest.values().min() else {
            findings.push(Finding::new(
                area,
                Severity::Info,
                format!(
                    "{name}: no commit marker in the last {MARKER_TAIL} records of any partition"
                ),
            ));
            continue;
        };
        let age = Duration::from_millis((now - oldest).max(0) as u64);
        let behind = lags.get(name).is_some_and(|l| l.records > 0);
        let what = format!(
            "{name}: newest markers in {} of {partitions} partitions; the stalest is {} s old",
            newest.len(),
            age.as_secs()
        );
        findings.push(if behind && age > limits.marker_age_warn {
            Finding::new(area, Severity::Degraded, what).fix(format!(
                "it has lag but committed nothing for over {} s: look at its logs for a restore or a stuck commit",
                limits.marker_age_warn.as_secs()
            ))
        } else {
            Finding::new(area, Severity::Ok, what)
        });
    }
}

/// The timestamp (ms) of the newest commit marker per partition of `topic`, from the last
/// [`MARKER_TAIL`] records of each. Blocks.
fn newest_markers(
    settings: &Settings,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> Result<BTreeMap<i32, i64>, KafkaError> {
    let mut config = settings
        .kafka
        .consumer(&format!("composerp-doctor-{}", std::process::id()));
    config.set("enable.partition.eof", "true");
    let consumer: BaseConsumer = config.create()?;
    let mut tpl = TopicPartitionList::new();
    let mut open = 0;
    for p in 0..partitions {
        let (low, high) = consumer.fetch_watermarks(topic, p, timeout)?;
        if high > low {
            tpl.add_partition_offset(topic, p, Offset::Offset((high - MARKER_TAIL).max(low)))?;
            open += 1;
        }
    }
    let mut newest = BTreeMap::new();
    if open == 0 {
        return Ok(newest);
    }
    consumer.assign(&tpl)?;
    let mut ended = std::collections::BTreeSet::new();
    let started = Instant::now();
    while ended.len() < open && started.elapsed() < timeout {
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                ended.insert(p);
            }
            Some(Err(e)) => return Err(e),
            Some(Ok(m)) if m.key() == Some(MARKER_KEY) => {
                if let Some(ts) = m.timestamp().to_millis() {
                    let e = newest.entry(m.partition()).or_insert(ts);
                    *e = (*e).max(ts);
                }
            }
            Some(Ok(_)) => {}
        }
    }
    Ok(newest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_versions_answer_is_parsed_and_named() -> std::io::Result<()> {
        let mut body = Vec::new();
        body.extend_from_slice(&1i32.to_be_bytes());
        body.extend_from_slice(&0i16.to_be_bytes());
        body.extend_from_slice(&2i32.to_be_bytes());
        for (key, max) in [(0i16, 9i16), (1, 12)] {
            body.extend_from_slice(&key.to_be_bytes());
            body.extend_from_slice(&0i16.to_be_bytes());
            body.extend_from_slice(&max.to_be_bytes());
        }
        let v = parse_api_versions(&body)?;
        assert_eq!(v, vec![(0, 9), (1, 12)]);
        assert_eq!(
            describe_versions(&v),
            "protocol: Fetch v12, Produce v9, 2 APIs (like Kafka 2.7 or later)"
        );
        Ok(())
    }

    #[test]
    fn a_truncated_answer_is_an_error_not_a_panic() {
        assert!(parse_api_versions(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 5, 0, 1]).is_err());
        assert!(parse_api_versions(&[]).is_err());
    }
}
