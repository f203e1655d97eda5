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
use composerp_kafka::LocalBroker;
use composerp_runtime::{engine::EngineConfig, registry::RunArgs};
use composerp_sinks::sink::{self, SinkConfig};

use crate::cli::JwtArgs;
use composerp_topics::{TopicCatalog, admin::Admin};
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
};
use sqlx::Connection;

use crate::cli::{DemoArgs, Settings};

/// The processors the demo runs, by their registered names.
const PROCESSORS: [&str; 3] = ["ledger", "demand-features", "forecasting"];

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
    let database = demo_database(&settings.database_url, args.external).await;
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

    // The processors run from the start, so positions and forecasts change while the data
    // arrives. Their state directories are fresh: the local broker starts empty on every demo.
    let stop = Arc::new(AtomicBool::new(false));
    let mut processors = Vec::new();
    for name in PROCESSORS {
        let state_dir = settings.state_dir.join(format!("demo-{name}"));
        let _ = std::fs::remove_dir_all(&state_dir);
        let run = crate::registry::registry()
            .get(name)
            .with_context(|| format!("{name} is registered"))?;
        let a = RunArgs {
            kafka: settings.kafka.clone(),
            codec: codec.clone(),
            config: EngineConfig::new(state_dir),
            stop: stop.clone(),
        };
        processors.push((name, tokio::task::spawn_blocking(move || run(a))));
    }
    println!(
        "▸ Processors started in this process: {} (composerp run …)",
        PROCESSORS.join(", ")
    );
    let sink = database.as_ref().map(|url| {
        let cfg = SinkConfig::new("demo", url);
        let (kafka, codec, stop) = (settings.kafka.clone(), codec.clone(), stop.clone());
        let rt = tokio::runtime::Handle::current();
        println!("▸ Postgres sink started (composerp sink, in this process)");
        tokio::task::spawn_blocking(move || {
            sink::run(composerp_sinks::tables(), &kafka, codec, cfg, rt, stop)
        })
    });
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
        let mut outcome = watch_positions(&settings, &codec, path, &stop);
        if let (Ok(true), Some(url)) = (&outcome, &database) {
            outcome = check_tables(url, path).await;
            if outcome.as_ref().is_ok_and(|ok| *ok) {
                // The last generated day stays open (nothing later moves event time past it).
                let last_day = args.generate.start
                    + chrono::Days::new(u64::from(args.generate.days.saturating_sub(2)));
                let report =
                    super::forecast_report::report(url, last_day, Duration::from_secs(300));
                if let Err(e) = report.await {
                    println!("▸ The forecasting report failed: {e:#}");
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        if let Some(sink) = sink {
            match sink.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => println!("  the sink stopped with an error: {e}"),
                Err(e) => println!("  the sink panicked: {e}"),
            }
        }
        for (name, p) in processors {
            match p.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => println!("  {name} stopped with an error: {e}"),
                Err(e) => println!("  {name} panicked: {e}"),
            }
        }
        if !outcome? {
            println!("▸ Not every item-location matched within the time limit.");
            return Ok(ExitCode::FAILURE);
        }
        if let Some(url) = &database {
            let tenant = read_truth(path)?
                .keys()
                .map(|(t, _, _)| t.clone())
                .min()
                .unwrap_or_default();
            serve_api(url, &tenant, &settings.kafka, &codec).await?;
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

/// The demo's database: with the local broker, `composerp_demo` on the server of DATABASE_URL,
/// created afresh (the broker starts empty, so old sink offsets must go); with --external,
/// DATABASE_URL itself. Migrated. None, with the reason printed, when Postgres does not answer.
async fn demo_database(url: &str, external: bool) -> Option<String> {
    let result = async {
        let url = if external {
            url.to_owned()
        } else {
            let mut server = sqlx::PgConnection::connect(url).await?;
            // Two statements: together they would run in one (refused) transaction.
            for sql in [
                "DROP DATABASE IF EXISTS composerp_demo WITH (FORCE)",
                "CREATE DATABASE composerp_demo",
            ] {
                sqlx::raw_sql(sql).execute(&mut server).await?;
            }
            let mut demo = url::Url::parse(url)?;
            demo.set_path("composerp_demo");
            demo.to_string()
        };
        super::migrate::apply(&url).await?;
        anyhow::Ok(url)
    }
    .await;
    match result {
        Ok(url) => {
            println!(
                "▸ Postgres database {} migrated; the sinks write into it",
                redacted(&url)
            );
            Some(url)
        }
        Err(e) => {
            println!(
                "▸ Postgres at DATABASE_URL is not usable ({e:#}); the demo runs without the sinks. \
                 Set DATABASE_URL, or start it with `pg_ctlcluster --skip-systemctl-redirect 15 main start`"
            );
            None
        }
    }
}

/// Serves the API on the demo database, shows a token and a few requests with their answers,
/// and keeps serving until Ctrl-C when run from a terminal.
async fn serve_api(
    url: &str,
    tenant: &str,
    kafka: &composerp_kafka::KafkaSettings,
    codec: &Codec,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let jwt =
        JwtArgs {
            jwt_hs256_secret: Some(std::env::var("COMPOSERP_JWT_HS256_SECRET").unwrap_or_else(
                |_| format!("demo-{}", composerp_events::EventId::random().0.simple()),
            )),
            jwks: None,
            allow_hs256_with_jwks: false,
            jwt_audience: "composerp".into(),
            jwt_issuer: None,
            jwt_tenant_claim: "tenant_id".into(),
            jwt_roles_claim: "roles".into(),
            jwt_max_ttl: composerp_api::auth::DEFAULT_MAX_TTL_SECS,
        };
    let state = super::api::state(
        &super::api::api_database_url(url)?,
        &jwt,
        composerp_api::limit::RateLimits::default(),
        kafka,
        codec.clone(),
    )
    .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server =
        tokio::spawn(async move { axum::serve(listener, composerp_api::router(state)).await });
    let token = super::api::token_for(&jwt, tenant, "viewer", "demo-user", 3600)?;
    println!(
        "▸ Read API on {base}/v1 (OpenAPI at {base}/openapi.json); a viewer token of {tenant}, valid one hour:"
    );
    println!("  {token}");
    let client = reqwest::Client::new();
    for path in [
        "/v1/positions?below_reorder_point=true&limit=2",
        "/v1/locations?limit=2",
        "/v1/positions?limit=0",
    ] {
        println!("$ curl -H \"Authorization: Bearer $TOKEN\" '{base}{path}'");
        let res = client
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .await?;
        let status = res.status();
        let body: serde_json::Value = serde_json::from_str(&res.text().await?)?;
        println!(
            "  {status}\n{}",
            indent(&serde_json::to_string_pretty(&body)?)
        );
    }
    if std::io::stdin().is_terminal() {
        println!("▸ The API stays up for your own requests (TOKEN above); Ctrl-C ends the demo.");
        let _ = tokio::signal::ctrl_c().await;
    }
    server.abort();
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}\n"))
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// A database URL without its password, for printing.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(invalid URL)".into(),
    }
}

/// Waits until the positions table equals the truth (true) or 120 s pass (false); prints the
/// table counts and a few rows of the BI views.
async fn check_tables(url: &str, truth: &Path) -> anyhow::Result<bool> {
    let want = read_truth(truth)?;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let matching = loop {
        let rows: Vec<(String, String, String, [i64; 8])> = sqlx::query_as::<
            _,
            (
                String,
                String,
                String,
                i64,
                i64,
                i64,
                i64,
                i64,
                i64,
                i64,
                i64,
            ),
        >(
            "SELECT tenant_id, location_id, item_id, on_hand, on_order, in_transit, reserved, \
             damaged, backordered, available, inventory_position FROM inventory.positions",
        )
        .fetch_all(&mut conn)
        .await?
        .into_iter()
        .map(|(t, l, i, a, b, c, d, e, f, g, h)| (t, l, i, [a, b, c, d, e, f, g, h]))
        .collect();
        let matching = rows
            .iter()
            .filter(|(t, l, i, b)| want.get(&(t.clone(), l.clone(), i.clone())) == Some(b))
            .count();
        if matching == want.len() || Instant::now() > deadline {
            break matching;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // The other tables may still be catching up: wait until their counts hold for a second.
    let (mut transactions, mut low_stock) = (-1, -1);
    while Instant::now() < deadline + Duration::from_secs(30) {
        let now: (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM inventory.transactions), \
                    (SELECT count(*) FROM inventory.low_stock_events)",
        )
        .fetch_one(&mut conn)
        .await?;
        if now == (transactions, low_stock) {
            break;
        }
        (transactions, low_stock) = now;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!(
        "▸ Postgres: {matching}/{} positions equal the truth, {transactions} stock ledger entries, {low_stock} low-stock alerts",
        want.len()
    );
    let low: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT location_id, item_id, available, reorder_point FROM bi.low_stock \
         ORDER BY tenant_id, location_id, item_id LIMIT 5",
    )
    .fetch_all(&mut conn)
    .await?;
    println!("▸ bi.low_stock, the first rows:");
    for (location, item, available, point) in low {
        println!(
            "  {location:<10} {item:<10} available {available:>5}  reorder point {:>5}",
            point.unwrap_or_default()
        );
    }
    println!(
        "▸ Try: psql '{}' -c 'SELECT * FROM bi.stock_value_by_location'",
        redacted(url)
    );
    Ok(matching == want.len())
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn printed_urls_hide_the_password() {
        assert_eq!(
            redacted("postgres://u:secret@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert_eq!(
            redacted("postgres://postgres@127.0.0.1:5432/test"),
            "postgres://postgres@127.0.0.1:5432/test"
        );
    }
}
