//! `composerp backfill`: a sales history file (Parquet or CSV) aggregated per item-location and
//! local day with DataFusion, published as the histories the forecasting processors start from.

use std::{
    collections::HashSet,
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::Context;
use composerp_events::{Codec, EncodedRecord, Timestamp, catalog::Location};
use composerp_forecast_backfill::{daily::Zones, daily_demand, seeds};
use composerp_kafka::{KafkaSettings, Publisher};
use composerp_topics::TopicCatalog;
use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
};

use crate::cli::{BackfillArgs, Settings};

pub async fn run(args: BackfillArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let codec = super::codec(settings).await?;
    let started = Instant::now();
    let zones = read_zones(&settings.kafka, &codec).context("reading the locations' time zones")?;
    let rows = daily_demand(&args.sales, &zones)
        .await
        .with_context(|| format!("aggregating {}", args.sales.display()))?;
    let lines: i64 = rows.iter().map(|r| r.lines).sum();
    let locations: HashSet<(&str, &str)> = rows
        .iter()
        .map(|r| (r.tenant.as_str(), r.location.as_str()))
        .collect();
    let unknown = locations
        .iter()
        .filter(|(t, l)| !zones.contains_key(&((*t).to_owned(), (*l).to_owned())))
        .count();
    let as_of = args.as_of.map(|d| composerp_events::Date::from(d).0);
    let histories = seeds(&rows, &zones, as_of, Timestamp::now());
    let aggregated = started.elapsed();
    eprintln!(
        "backfill: {lines} sale lines, {} item-location days, {} item-locations at {} locations \
         aggregated in {:.2} s",
        rows.len(),
        histories.len(),
        locations.len(),
        aggregated.as_secs_f64()
    );
    if unknown > 0 {
        eprintln!(
            "backfill: {unknown} location(s) are not in {}: their days are UTC days",
            TopicCatalog::embedded().get("catalog.locations")?.name
        );
    }
    if args.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let topic = TopicCatalog::embedded().get("forecasting.demand-history")?;
    let mut publisher = Publisher::new(&settings.kafka)?;
    for h in &histories {
        let record = EncodedRecord::of(&codec, h)?;
        let key = topic.key.key_of(&record)?;
        publisher.send(&topic.name, key.as_bytes(), &record.payload, None)?;
    }
    let sent = publisher
        .flush()
        .context("waiting for the broker to acknowledge")?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "backfill: {sent} histories published to {} in {secs:.2} s in all ({:.0} sale lines/s); \
         run the demand-features and forecasting processors to start from them",
        topic.name,
        lines as f64 / secs.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}

/// Every location's zone, from the compacted locations topic read to its end.
pub fn read_zones(kafka: &KafkaSettings, codec: &Codec) -> anyhow::Result<Zones> {
    let spec = TopicCatalog::embedded().get("catalog.locations")?;
    let consumer: BaseConsumer = kafka.consumer("composerp-backfill-zones").create()?;
    let mut tpl = TopicPartitionList::new();
    let mut ends = Vec::new();
    for p in 0..spec.partitions {
        tpl.add_partition_offset(&spec.name, p, Offset::Offset(0))?;
        let (_, high) = consumer.fetch_watermarks(&spec.name, p, Duration::from_secs(30))?;
        ends.push(high);
    }
    consumer.assign(&tpl)?;
    let mut zones = Zones::new();
    let mut left: i64 = ends.iter().filter(|&&h| h > 0).count() as i64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while left > 0 && Instant::now() < deadline {
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let msg = msg?;
        use rdkafka::Message;
        if let Some(bytes) = msg.payload()
            && let Ok(l) = codec.decode::<Location>(bytes)
            && let Ok(zone) = l.timezone.parse()
        {
            zones.insert((l.tenant_id, l.location_id), zone);
        }
        let p = msg.partition() as usize;
        if ends.get(p).is_some_and(|&h| h > 0 && msg.offset() + 1 >= h) {
            ends[p] = 0;
            left -= 1;
        }
    }
    Ok(zones)
}
