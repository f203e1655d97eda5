//! `composerp dlq list|show|replay`: dead letters an operator can act on.
//!
//! A replay re-publishes the original bytes to the source topic under the original key (so the
//! same partition, the same event id: consumers that deduplicate by id keep one copy), with a
//! `composerp.replay.of` header naming the dead letter. Each dead letter is replayed at most
//! once: the replay is recorded in `audit.audit_log` in the same transaction that checks for an
//! earlier one, under an advisory lock, and that transaction commits only after the broker
//! acknowledged every record. A crash between the acknowledgement and the commit leaves the
//! record published and unrecorded; the next replay publishes it again, with the same id.
//!
//! With `--beyond-window`, the `beyond_dedupe_window` dead letters also carry the
//! `composerp.redrive` header: the processors apply them even when their topic's dedupe window
//! is still past the replay's time, and remember their ids for a whole window after.

use std::{collections::BTreeMap, io::Write, process::ExitCode, time::Duration};

use anyhow::Context;
use composerp_events::{Codec, codec::record_name, kind_of, kinds::value_to_json};
use composerp_kafka::{
    Publisher,
    dlq::{REDRIVE_BEYOND_WINDOW, REDRIVE_HEADER, REPLAY_OF_HEADER, StoredDeadLetter, read_all},
};
use composerp_topics::{TopicCatalog, TopicSpec};
use rdkafka::message::{Header, OwnedHeaders};
use serde_json::{Value, json};

use crate::cli::{DlqCommand, DlqReplayArgs, DlqSelect, DlqShowArgs, Settings};

/// How long reading a dead-letter topic may wait for its last records.
const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// Audit log action of a replay.
const REPLAY_ACTION: &str = "dlq.replay";

pub async fn run(cmd: DlqCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    match cmd {
        DlqCommand::List(s) => list(&s, settings).await,
        DlqCommand::Show(a) => show(&a, settings).await,
        DlqCommand::Replay(a) => replay(&a, settings).await,
    }
}

/// A source topic and its dead-letter topic.
struct Pair<'a> {
    source: &'a TopicSpec,
    dlq: String,
}

/// The pair `topic` names: the source topic or its dead-letter topic.
fn pair(topic: &str) -> anyhow::Result<Pair<'static>> {
    let catalog = TopicCatalog::embedded();
    let spec = catalog.get(topic)?;
    let source = match spec.name.strip_suffix(".dlq") {
        Some(name) if spec.value.is_none() => catalog.get(name)?,
        _ => spec,
    };
    let dlq = source.dlq.clone().with_context(|| {
        format!(
            "{} has no dead-letter topic (Composerp does not consume it)",
            source.name
        )
    })?;
    Ok(Pair { source, dlq })
}

/// The dead letters `select` names, in topic order.
async fn selected(
    select: &DlqSelect,
    settings: &Settings,
) -> anyhow::Result<(Pair<'static>, Vec<StoredDeadLetter>)> {
    let p = pair(&select.topic)?;
    let since = select
        .since
        .as_deref()
        .map(|s| since_ms(s, chrono::Utc::now()))
        .transpose()?;
    let (kafka, dlq) = (settings.kafka.clone(), p.dlq.clone());
    let mut letters =
        tokio::task::spawn_blocking(move || read_all(&kafka, &dlq, since, READ_TIMEOUT))
            .await
            .context("the reader panicked")??;
    if let Some(r) = &select.reason {
        letters.retain(|d| &d.reason == r);
    }
    Ok((p, letters))
}

async fn list(select: &DlqSelect, settings: &Settings) -> anyhow::Result<ExitCode> {
    let (p, letters) = selected(select, settings).await?;
    let mut by_reason: BTreeMap<&str, Vec<&StoredDeadLetter>> = BTreeMap::new();
    for d in &letters {
        by_reason.entry(&d.reason).or_default().push(d);
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}: {} dead letters", p.dlq, letters.len())?;
    writeln!(
        out,
        "{:<28} {:>8}  {:<20} {:<20} {:<20} EXAMPLE ERROR",
        "REASON", "COUNT", "OLDEST", "NEWEST", "FIRST AT (P:O)"
    )?;
    for (reason, ds) in &by_reason {
        let times: Vec<i64> = ds.iter().filter_map(|d| d.timestamp_ms).collect();
        let first = ds[0];
        writeln!(
            out,
            "{reason:<28} {:>8}  {:<20} {:<20} {:<20} {}",
            ds.len(),
            stamp(times.iter().min().copied()),
            stamp(times.iter().max().copied()),
            format!("{}:{}", first.partition, first.offset),
            first.error.chars().take(80).collect::<String>()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(args: &DlqShowArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let (p, letters) = selected(
        &DlqSelect {
            topic: args.topic.clone(),
            reason: None,
            since: None,
        },
        settings,
    )
    .await?;
    let d = letters
        .iter()
        .find(|d| d.partition == args.partition && d.offset == args.offset)
        .with_context(|| {
            format!(
                "no dead letter at {}:{} of {}",
                args.partition, args.offset, p.dlq
            )
        })?;
    let codec = super::codec(settings).await?;
    let doc = json!({
        "dead_letter": d.coordinates(&p.dlq),
        "timestamp": stamp(d.timestamp_ms),
        "reason": d.reason,
        "error": d.error,
        "by": d.by,
        "source": {
            "topic": d.source_topic.as_deref().unwrap_or(&p.source.name),
            "partition": d.source_partition,
            "offset": d.source_offset,
        },
        "key": d.key.as_deref().map(String::from_utf8_lossy),
        "value": decode(&codec, d.payload.as_deref()).await,
    });
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &doc)?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

/// The payload as JSON where it decodes, else its bytes as text with the decode error.
async fn decode(codec: &Codec, bytes: Option<&[u8]>) -> Value {
    let Some(bytes) = bytes else {
        return Value::Null;
    };
    let decoded = match codec.writer_schema(bytes).await {
        Ok((_, schema)) => match kind_of(&record_name(schema)) {
            Some(kind) => kind.record_to_json(codec, bytes),
            None => codec
                .decode_generic(bytes)
                .await
                .map(|(_, v)| value_to_json(&v)),
        },
        Err(e) => Err(e),
    };
    decoded.unwrap_or_else(|e| {
        json!({
            "_undecodable": { "reason": e.reason(), "detail": e.to_string() },
            "_text": String::from_utf8_lossy(bytes),
        })
    })
}

async fn replay(args: &DlqReplayArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let narrowed =
        args.select.reason.is_some() || args.select.since.is_some() || !args.at.is_empty();
    anyhow::ensure!(
        narrowed || args.all,
        "name the dead letters (--reason, --since, --at P:O) or pass --all"
    );
    let at: Vec<(i32, i64)> = args
        .at
        .iter()
        .map(|a| parse_at(a))
        .collect::<anyhow::Result<_>>()?;
    let (p, mut letters) = selected(&args.select, settings).await?;
    if !at.is_empty() {
        letters.retain(|d| at.contains(&(d.partition, d.offset)));
    }
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&settings.database_url)
        .await
        .context("connecting to DATABASE_URL (replays are recorded in audit.audit_log)")?;
    let mut tx = pool.begin().await?;
    // One replay at a time: the check for earlier replays and their record are one step.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('composerp.dlq.replay'))")
        .execute(&mut *tx)
        .await?;
    let resources: Vec<String> = letters.iter().map(|d| d.coordinates(&p.dlq)).collect();
    let done: Vec<String> = sqlx::query_scalar(
        "SELECT resource FROM audit.audit_log WHERE action = $1 AND resource = ANY($2)",
    )
    .bind(REPLAY_ACTION)
    .bind(&resources[..])
    .fetch_all(&mut *tx)
    .await
    .context("reading earlier replays from audit.audit_log")?;
    let (todo, skipped): (Vec<_>, Vec<_>) = letters
        .iter()
        .partition(|d| !done.contains(&d.coordinates(&p.dlq)));
    let mut out = std::io::stdout().lock();
    for d in &skipped {
        writeln!(out, "skipped   {} (replayed before)", d.coordinates(&p.dlq))?;
    }
    if args.dry_run {
        for d in &todo {
            writeln!(
                out,
                "would replay {} ({}) to {}{}",
                d.coordinates(&p.dlq),
                d.reason,
                target(d, &p),
                redrive_note(args, d)
            )?;
        }
        writeln!(
            out,
            "dry run: {} to replay, {} replayed before",
            todo.len(),
            skipped.len()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut publisher = Publisher::new(&settings.kafka).context("creating the Kafka producer")?;
    for d in &todo {
        let coordinates = d.coordinates(&p.dlq);
        let mut headers = OwnedHeaders::new().insert(Header {
            key: REPLAY_OF_HEADER,
            value: Some(coordinates.as_str()),
        });
        if redrive(args, d) {
            headers = headers.insert(Header {
                key: REDRIVE_HEADER,
                value: Some(REDRIVE_BEYOND_WINDOW),
            });
        }
        publisher.send(
            target(d, &p),
            d.key.as_deref().unwrap_or_default(),
            d.payload.as_deref().unwrap_or_default(),
            Some(headers),
        )?;
    }
    publisher
        .flush()
        .context("waiting for the broker's acknowledgements")?;
    for d in &todo {
        let key = d
            .key
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        // Every Composerp key starts with the tenant id.
        let tenant = key.split('|').next().unwrap_or_default().to_owned();
        sqlx::query(
            "INSERT INTO audit.audit_log (tenant_id, actor, action, resource, outcome, detail) \
             VALUES ($1, $2, $3, $4, 'republished', $5)",
        )
        .bind(&tenant)
        .bind(&args.actor)
        .bind(REPLAY_ACTION)
        .bind(d.coordinates(&p.dlq))
        .bind(json!({
            "to": target(d, &p),
            "key": key,
            "reason": d.reason,
            "error": d.error,
            "source_partition": d.source_partition,
            "source_offset": d.source_offset,
            "beyond_window": redrive(args, d),
        }))
        .execute(&mut *tx)
        .await
        .context("recording the replay in audit.audit_log")?;
        writeln!(
            out,
            "replayed  {} ({}) to {}{}",
            d.coordinates(&p.dlq),
            d.reason,
            target(d, &p),
            redrive_note(args, d)
        )?;
    }
    tx.commit().await.context("committing the audit records")?;
    writeln!(
        out,
        "{} replayed, {} replayed before",
        todo.len(),
        skipped.len()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Whether `d` is re-driven past the dedupe window.
fn redrive(args: &DlqReplayArgs, d: &StoredDeadLetter) -> bool {
    args.beyond_window && d.reason == REDRIVE_BEYOND_WINDOW
}

/// What the replay's line adds for a dead letter re-driven past the dedupe window.
fn redrive_note(args: &DlqReplayArgs, d: &StoredDeadLetter) -> &'static str {
    if redrive(args, d) {
        ", past the dedupe window"
    } else {
        ""
    }
}

/// Where a dead letter goes back to: the topic its headers name, else the pair's source.
fn target<'a>(d: &'a StoredDeadLetter, p: &'a Pair<'_>) -> &'a str {
    d.source_topic.as_deref().unwrap_or(&p.source.name)
}

/// `P:O` as (partition, offset).
fn parse_at(s: &str) -> anyhow::Result<(i32, i64)> {
    let (p, o) = s
        .split_once(':')
        .with_context(|| format!("--at {s:?}: expected PARTITION:OFFSET"))?;
    Ok((
        p.trim()
            .parse()
            .with_context(|| format!("--at {s:?}: bad partition"))?,
        o.trim()
            .parse()
            .with_context(|| format!("--at {s:?}: bad offset"))?,
    ))
}

/// `--since` as ms since the epoch: an RFC 3339 time, or an age before `now` (90s, 30m, 24h, 7d).
fn since_ms(s: &str, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n
        .parse()
        .with_context(|| format!("--since {s:?}: expected RFC 3339 or an age like 24h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3_600,
        "d" => n * 86_400,
        _ => anyhow::bail!("--since {s:?}: the unit must be s, m, h or d"),
    };
    Ok(now.timestamp_millis() - secs * 1_000)
}

/// A record timestamp as RFC 3339 (seconds), or `-`.
fn stamp(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(
            || "-".into(),
            |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_time_or_an_age() -> anyhow::Result<()> {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z")?
            .with_timezone(&chrono::Utc);
        let noon = now.timestamp_millis();
        assert_eq!(since_ms("90m", now)?, noon - 90 * 60_000);
        assert_eq!(since_ms("7d", now)?, noon - 7 * 86_400_000);
        assert_eq!(since_ms("2026-12-06T11:00:00Z", now)?, noon - 3_600_000);
        assert!(since_ms("yesterday", now).is_err());
        assert!(since_ms("5w", now).is_err());
        Ok(())
    }

    #[test]
    fn at_is_partition_colon_offset() -> anyhow::Result<()> {
        assert_eq!(parse_at("3:42")?, (3, 42));
        assert!(parse_at("3").is_err());
        assert!(parse_at("a:1").is_err());
        Ok(())
    }

    #[test]
    fn a_topic_and_its_dead_letter_topic_name_the_same_pair() -> anyhow::Result<()> {
        let by_source = pair("pos.sales")?;
        let by_dlq = pair("composerp.pos.sales.v1.dlq")?;
        assert_eq!(by_source.dlq, "composerp.pos.sales.v1.dlq");
        assert_eq!(by_dlq.source.name, by_source.source.name);
        Ok(())
    }
}
