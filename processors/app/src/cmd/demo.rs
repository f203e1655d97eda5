//! `composerp demo`: a local broker, the topics, generated data, and the data read back.

use std::{
    collections::HashMap,
    path::Path,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use composerp_events::{Codec, inventory::InventoryUpdated, kind_of};
use composerp_generator::TruthRow;
use composerp_runtime::{LocalBroker, engine::EngineConfig, registry::RunArgs};
use composerp_topics::{TopicCatalog, admin::Admin};
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
};

use crate::cli::{DemoArgs, Settings};

pub async fn run(mut args: DemoArgs, mut settings: Settings) -> anyhow::Result<ExitCode> {
    let _broker = if args.external {
        None
    } else {
        let b = LocalBroker::start().context("starting the local Kafka-protocol broker")?;
        settings.kafka.brokers = b.brokers();
        println!(
            "▸ Local Kafka-protocol broker (Tansu, memory engine) on {}",
            b.brokers()
        );
        Some(b)
    };
    postgres_check(&settings.database_url);
    let catalog = TopicCatalog::embedded();
    let admin = Admin::new(&settings.kafka.admin())?;
    let report = admin
        .apply(catalog.topics())
        .await
        .context("creating the topics")?;
    println!(
        "▸ Topics: {} created, {} already there",
        report.created.len(),
        report.unchanged.len()
    );

    let truth = settings.state_dir.join("demo-truth.csv");
    args.generate.truth.get_or_insert(truth);
    let codec = super::codec(&settings).await?;

    // The ledger runs from the start, so positions change while the data arrives. Its state
    // directory is fresh: the local broker starts empty on every demo.
    let state_dir = settings.state_dir.join("demo-ledger");
    let _ = std::fs::remove_dir_all(&state_dir);
    let stop = Arc::new(AtomicBool::new(false));
    let ledger = {
        let run = crate::registry::registry()
            .get("ledger")
            .context("the ledger is registered")?;
        let a = RunArgs {
            kafka: settings.kafka.clone(),
            codec: codec.clone(),
            config: EngineConfig::new(state_dir),
            stop: stop.clone(),
        };
        tokio::task::spawn_blocking(move || run(a))
    };
    println!("▸ Inventory Ledger processor started (composerp run ledger, in this process)");
    println!(
        "▸ Generating {} tenant(s) × {} locations × {} items × {} days (seed {})",
        args.generate.tenants,
        args.generate.locations,
        args.generate.items,
        args.generate.days,
        args.generate.seed
    );
    let stats = super::generate::generate(&args.generate, &settings, &codec)?;
    println!(
        "  {} events ({} duplicates and {} late arrivals on purpose), {} stock movements",
        stats.events,
        stats.duplicate_ids.len(),
        stats.late_ids.len(),
        stats.ledger_lines
    );

    let consumer: BaseConsumer = settings.kafka.consumer("composerp-demo").create()?;
    let sales = catalog.get("pos.sales")?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..sales.partitions {
        tpl.add_partition_offset(&sales.name, p, Offset::Offset(0))?;
    }
    consumer.assign(&tpl)?;
    let kind = kind_of(sales.value.as_deref().unwrap_or_default()).context("sale record type")?;
    println!("▸ Two receipts of {}, decoded back to JSON:", sales.name);
    let mut shown = 0;
    while shown < 2 {
        let Some(msg) = consumer.poll(Duration::from_secs(5)) else {
            break;
        };
        let msg = msg?;
        if let Some(bytes) = msg.payload() {
            let json = kind.record_to_json(&codec, bytes)?;
            println!("{}", serde_json::to_string_pretty(&json)?);
            shown += 1;
        }
    }
    if let Some(path) = &args.generate.truth {
        println!(
            "▸ Positions as the ledger publishes them, against the generator's expected final positions ({}):",
            path.display()
        );
        let outcome = watch_positions(&settings, &codec, path, &stop);
        stop.store(true, Ordering::Relaxed);
        match ledger.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => println!("  the ledger stopped with an error: {e}"),
            Err(e) => println!("  the ledger panicked: {e}"),
        }
        if !outcome? {
            println!("▸ Not every item-location matched within the time limit.");
            return Ok(ExitCode::FAILURE);
        }
    }
    if args.external {
        println!("▸ Try: composerp tail --topic pos.sales --from-beginning --max 3");
    } else {
        println!(
            "▸ The local broker stops with the demo; against your cluster: composerp demo --external --brokers host:port"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Expected final buckets per (tenant, location, item) from the generator's truth CSV.
fn read_truth(path: &Path) -> anyhow::Result<HashMap<(String, String, String), [i64; 8]>> {
    Ok(TruthRow::read_csv(path)?
        .into_iter()
        .map(|r| {
            let b = r.buckets();
            ((r.tenant_id, r.location_id, r.item_id), b)
        })
        .collect())
}

/// Follows the positions topic and prints a summary line every second until every
/// item-location equals the truth (true) or nothing changed for 30 s (false).
fn watch_positions(
    settings: &Settings,
    codec: &Codec,
    truth: &Path,
    ledger_stopped: &AtomicBool,
) -> anyhow::Result<bool> {
    let want = read_truth(truth)?;
    let catalog = TopicCatalog::embedded();
    let topic = catalog.get("inventory.positions")?;
    let consumer: BaseConsumer = settings
        .kafka
        .consumer("composerp-demo-positions")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..topic.partitions {
        tpl.add_partition_offset(&topic.name, p, Offset::Offset(0))?;
    }
    consumer.assign(&tpl)?;
    let mut latest: HashMap<(String, String, String), InventoryUpdated> = HashMap::new();
    let (mut updates, mut last_change, mut last_print) = (0u64, Instant::now(), Instant::now());
    let started = Instant::now();
    loop {
        if let Some(msg) = consumer.poll(Duration::from_millis(100)) {
            let msg = msg?;
            if let Some(u) = msg
                .payload()
                .and_then(|b| codec.decode::<InventoryUpdated>(b).ok())
            {
                updates += 1;
                last_change = Instant::now();
                let k = (
                    u.tenant_id.clone(),
                    u.location_id.clone(),
                    u.item_id.clone(),
                );
                if latest.get(&k).is_none_or(|old| old.sequence < u.sequence) {
                    latest.insert(k, u);
                }
            }
            if last_print.elapsed() < Duration::from_secs(1) {
                continue;
            }
        }
        if last_print.elapsed() < Duration::from_secs(1)
            && last_change.elapsed() < Duration::from_secs(2)
        {
            continue;
        }
        last_print = Instant::now();
        let matching = want
            .iter()
            .filter(|(k, w)| latest.get(*k).is_some_and(|u| u.buckets() == **w))
            .count();
        let negative = latest.values().filter(|u| u.negative_on_hand).count();
        let low = latest
            .values()
            .filter(|u| u.reorder_point.is_some_and(|r| u.available < r))
            .count();
        let on_hand: i64 = latest.values().map(|u| u.on_hand).sum();
        println!(
            "  {:>5.1}s  {updates:>7} updates  {:>5} item-locations  {on_hand:>9} units on hand  {low:>4} below reorder point  {negative:>3} negative  {matching:>5}/{} match the truth",
            started.elapsed().as_secs_f64(),
            latest.len(),
            want.len()
        );
        if matching == want.len() {
            let mut sample: Vec<&InventoryUpdated> = latest.values().collect();
            sample.sort_by(|a, b| (&a.location_id, &a.item_id).cmp(&(&b.location_id, &b.item_id)));
            println!("▸ A few final positions:");
            println!(
                "  {:<10} {:<10} {:>8} {:>8} {:>10} {:>8} {:>9} {:>9}",
                "location",
                "item",
                "on_hand",
                "on_order",
                "in_transit",
                "damaged",
                "available",
                "value"
            );
            for u in sample.iter().step_by((sample.len() / 6).max(1)).take(6) {
                println!(
                    "  {:<10} {:<10} {:>8} {:>8} {:>10} {:>8} {:>9} {:>9}",
                    u.location_id,
                    u.item_id,
                    u.on_hand,
                    u.on_order,
                    u.in_transit,
                    u.damaged,
                    u.available,
                    u.stock_value.to_string()
                );
            }
            println!("▸ Every item-location equals the generator's truth.");
            return Ok(true);
        }
        if last_change.elapsed() > Duration::from_secs(30) || ledger_stopped.load(Ordering::Relaxed)
        {
            return Ok(false);
        }
    }
}

/// Host and port of a `postgres://user:pass@host:port/db?…` URL.
fn postgres_addr(url: &str) -> Option<(String, u16)> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (host_port, 5432),
    };
    Some((
        if host.is_empty() {
            "127.0.0.1".into()
        } else {
            host.trim_matches(['[', ']']).to_owned()
        },
        port,
    ))
}

/// Says whether Postgres (used by the sinks and the API) answers, and what to do if not.
fn postgres_check(url: &str) {
    use std::net::ToSocketAddrs;
    let Some((host, port)) = postgres_addr(url) else {
        return;
    };
    let answers = (host.as_str(), port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok());
    if answers {
        println!("▸ Postgres answers at {host}:{port} (sinks and API use it from issue #5 on)");
    } else {
        println!(
            "▸ Postgres does not answer at {host}:{port}: set DATABASE_URL, or start it with `pg_ctlcluster --skip-systemctl-redirect 15 main start`"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::postgres_addr;

    #[test]
    fn postgres_urls_give_host_and_port() {
        assert_eq!(
            postgres_addr("postgres://u:p@db.example:6543/x?sslmode=require"),
            Some(("db.example".into(), 6543))
        );
        assert_eq!(
            postgres_addr("postgresql://localhost/test"),
            Some(("localhost".into(), 5432))
        );
        assert_eq!(
            postgres_addr("postgres://u@[::1]:5433/t"),
            Some(("::1".into(), 5433))
        );
        assert_eq!(postgres_addr("nonsense"), None);
    }
}
