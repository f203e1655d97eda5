//! Latency of the positions endpoints with 1,000,000 positions in the database, under a
//! fixed-rate loopback load from oha (`deploy/bench/api.sh` installs it).
//!
//! Seeds 1,000 locations × 1,000 items for tenant `t1` (and 100,000 positions of `t2`, so row-level
//! security has something to hide), serves the API in this process (rate limits off), and runs oha
//! at BENCH_RATE requests/s (default 2,000) for BENCH_SECONDS (default 20) against: one position by
//! key, and a page of 100 positions of one location; keys drawn at random per request. First the
//! same load on `/healthz`, which touches no database, as the run's ceiling. Each endpoint is
//! measured connected directly and through Debian's PgBouncer 1.18 in transaction mode
//! (BENCH_PGBOUNCER_POOL server connections, default 4). With BENCH_PGBOUNCER_SETTINGS, a second
//! PgBouncer with those settings serves the page too, alternating with the first.

use std::{process::Command, sync::Arc, time::Instant};

use composerp_api::{
    AppState,
    auth::{AuthConfig, Authenticator},
    limit::{Limiter, RateLimits},
    router,
};
use composerp_sinks::testing::{PgBouncer, TestDatabase};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

const SECRET: &[u8] = b"benchmark secret, at least 32 bytes";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

async fn seed(db: &TestDatabase) -> anyhow::Result<()> {
    for (tenant, locations) in [("t1", 1000), ("t2", 100)] {
        sqlx::query(
            "INSERT INTO inventory.positions \
             SELECT $1, 's' || lpad(l::text, 4, '0'), 'i' || lpad(i::text, 4, '0'), 1, \
                    (l * i) % 97, 0, 0, 0, 0, 0, (l * i) % 97, (l * i) % 97, (l * i) % 97, \
                    2.5, ((l * i) % 97) * 2.5, 20, false, false, false, \
                    gen_random_uuid(), gen_random_uuid(), now() \
             FROM generate_series(1, $2) l, generate_series(1, 1000) i",
        )
        .bind(tenant)
        .bind(locations)
        .execute(&db.pool)
        .await?;
    }
    sqlx::query("VACUUM ANALYZE inventory.positions")
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// p50, p99 (ms) and achieved requests/s from oha's JSON report.
fn oha(
    bin: &str,
    url: &str,
    token: &str,
    rate: &str,
    seconds: &str,
) -> anyhow::Result<(f64, f64, f64)> {
    let out = Command::new(bin)
        .args(["--no-tui", "--output-format", "json", "-q", rate, "-z"])
        .arg(format!("{seconds}s"))
        .args(["-c", "32", "--rand-regex-url", "-H"])
        .arg(format!("Authorization: Bearer {token}"))
        .arg(url)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "oha failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let ms = |k: &str| report["latencyPercentiles"][k].as_f64().unwrap_or(f64::NAN) * 1000.0;
    let codes = &report["statusCodeDistribution"];
    anyhow::ensure!(
        codes
            .as_object()
            .is_some_and(|m| m.keys().all(|k| k == "200")),
        "non-200 answers: {codes}"
    );
    Ok((
        ms("p50"),
        ms("p99"),
        report["summary"]["requestsPerSec"]
            .as_f64()
            .unwrap_or(f64::NAN),
    ))
}

/// Serves the API over `options` as `composerp_api` (16 connections, rate limits off, statements
/// `named` or not) on a loopback port: its base URL.
async fn serve(options: PgConnectOptions, named: bool) -> anyhow::Result<String> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .connect_with(options)
        .await?;
    let auth = Authenticator::new(&AuthConfig {
        hs256_secret: Some(SECRET.to_vec()),
        audience: "composerp".into(),
        ..Default::default()
    })?;
    let state = AppState {
        pool,
        auth: Arc::new(auth),
        limits: Arc::new(Limiter::new(RateLimits {
            per_caller: 1_000_000,
            per_tenant: 1_000_000,
            failures_per_address: 1_000_000,
            failures_per_identity: 1_000_000,
        })),
        events: None,
        named,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    Ok(base)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let oha_bin = env_or("OHA", "oha");
    let (rate, seconds) = (env_or("BENCH_RATE", "2000"), env_or("BENCH_SECONDS", "20"));
    let db = TestDatabase::new().await?;
    let started = Instant::now();
    seed(&db).await?;
    println!(
        "seeded 1,100,000 positions in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let base = serve(db.options_as("composerp_api"), true).await?;
    // Debian's PgBouncer 1.18 in transaction mode, BENCH_PGBOUNCER_POOL server connections
    // (default 4) for the API's 16.
    let pool: u32 = env_or("BENCH_PGBOUNCER_POOL", "4").parse()?;
    let bouncer = PgBouncer::start(&["composerp_api"], pool)?;
    let bounced = serve(bouncer.options(&db, "composerp_api"), false).await?;
    // A second PgBouncer with BENCH_PGBOUNCER_SETTINGS added (lines of its `[pgbouncer]`
    // section, `;` between them), measured alternately with the first, if set.
    let settings = env_or("BENCH_PGBOUNCER_SETTINGS", "").replace(';', "\n");
    let tuned = if settings.is_empty() {
        None
    } else {
        let b = PgBouncer::start_with(&["composerp_api"], pool, &settings)?;
        let url = serve(b.options(&db, "composerp_api"), false).await?;
        Some((b, url))
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &serde_json::json!({"sub": "bench", "aud": "composerp", "tenant_id": "t1",
                            "roles": ["viewer"], "exp": chrono::Utc::now().timestamp() + 3600}),
        &EncodingKey::from_secret(SECRET),
    )?;
    println!("oha at {rate} requests/s for {seconds} s, 32 connections, random keys");
    let single = "/v1/positions/s0[1-9][0-9]{2}/i0[1-9][0-9]{2}";
    let page = "/v1/positions\\?location_id=s0[1-9][0-9]{2}&limit=100";
    // The ceiling first: the same load on an endpoint without the database shows what the
    // machine's scheduling alone costs at this rate (these machines are noisy).
    let mut phases = vec![
        (
            "GET /healthz (ceiling: no database)",
            format!("{base}/healthz"),
        ),
        (
            "GET /v1/positions/{location}/{item}",
            format!("{base}{single}"),
        ),
        (
            "GET /v1/positions/{location}/{item}, PgBouncer",
            format!("{bounced}{single}"),
        ),
        (
            "GET /v1/positions?location_id=…&limit=100",
            format!("{base}{page}"),
        ),
        (
            "GET /v1/positions?…&limit=100, PgBouncer",
            format!("{bounced}{page}"),
        ),
    ];
    if let Some((_, tuned)) = &tuned {
        for _ in 0..2 {
            phases.push((
                "GET /v1/positions?…&limit=100, PgBouncer set",
                format!("{tuned}{page}"),
            ));
            phases.push((
                "GET /v1/positions?…&limit=100, PgBouncer",
                format!("{bounced}{page}"),
            ));
        }
    }
    for (name, url) in phases {
        let (p50, p99, rps) = tokio::task::spawn_blocking({
            let (bin, token, rate, seconds) = (
                oha_bin.clone(),
                token.clone(),
                rate.clone(),
                seconds.clone(),
            );
            move || oha(&bin, &url, &token, &rate, &seconds)
        })
        .await??;
        println!("{name:<44} p50 {p50:>6.2} ms  p99 {p99:>6.2} ms  {rps:>7.0} requests/s");
    }
    Ok(())
}
