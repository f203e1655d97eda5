//! The API through PgBouncer in transaction mode, Debian's 1.18, which does not track prepared
//! statements: every read route, refusals and their audit rows, from 16 concurrent clients over
//! two server connections, must answer exactly what the API answers connected directly.

// Only the router, seeds and tokens of the shared module are used here.
#[allow(dead_code)]
mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use common::{TENANTS, app, bearer, seed, token};
use composerp_api::limit::RateLimits;
use composerp_sinks::testing::{PgBouncer, TestDatabase};
use http_body_util::BodyExt;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tower::ServiceExt;

/// The API over `options` as `composerp_api`, with limits high enough to refuse nothing;
/// `named` as behind a pooler (false) or not.
async fn api(options: PgConnectOptions, connections: u32, named: bool) -> anyhow::Result<Router> {
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .connect_with(options)
        .await?;
    let limits = RateLimits {
        per_caller: 1_000_000,
        per_tenant: 1_000_000,
        failures_per_address: 1_000_000,
        failures_per_identity: 1_000_000,
    };
    app(pool, limits, None, named)
}

/// One request: method, path and credentials (header name and value).
type Call = (&'static str, String, (&'static str, String));

/// Every read route with the seeded keys, for each tenant and role, and by API key.
fn reads(api_key: &str) -> Vec<Call> {
    let paths = [
        "/readyz",
        "/v1/items",
        "/v1/items/i1",
        "/v1/items/nope",
        "/v1/locations",
        "/v1/locations/s1",
        "/v1/suppliers",
        "/v1/suppliers/sup1",
        "/v1/positions?limit=2",
        "/v1/positions?location_id=s1&limit=100",
        "/v1/positions/s1/i1",
        "/v1/positions/s1/i1/ledger",
        "/v1/low-stock-events",
        "/v1/rules",
        "/v1/rules/s1/i1",
        "/v1/replenishment-triggers",
        "/v1/purchase-orders",
        "/v1/purchase-orders/PO-1",
        "/v1/purchase-orders/PO-1/commands/00000000-0000-4000-8000-000000000000",
        "/v1/forecasts",
        "/v1/forecasts/s1/i1",
        "/v1/demand-features",
        "/v1/demand-features/s1/i1",
        "/v1/forecast-accuracy",
        "/v1/forecast-accuracy/by-class",
    ];
    let mut calls: Vec<Call> = Vec::new();
    for tenant in TENANTS {
        for role in ["viewer", "admin"] {
            let auth = ("authorization", bearer(&token(tenant, role)));
            calls.extend(paths.iter().map(|p| ("GET", (*p).to_owned(), auth.clone())));
        }
    }
    calls.extend(
        paths[1..4]
            .iter()
            .map(|p| ("GET", (*p).to_owned(), ("x-api-key", api_key.to_owned()))),
    );
    calls
}

/// Refusals that write audit rows: a write by a viewer (403, a tenant's row) and a forged token
/// (401, a row without tenant).
fn refusals() -> Vec<Call> {
    let viewer = ("authorization", bearer(&token(TENANTS[0], "viewer")));
    let forged = ("authorization", "Bearer forged.token.here".to_owned());
    vec![
        ("PUT", "/v1/items/i1".to_owned(), viewer),
        ("GET", "/v1/items".to_owned(), forged),
    ]
}

/// Sends `call`: status and body.
async fn send(app: &Router, (method, path, (name, value)): &Call) -> (StatusCode, String) {
    let mut req = Request::builder()
        .method(*method)
        .uri(path)
        .header(*name, value);
    let body = if *method == "PUT" {
        req = req.header("content-type", "application/json");
        Body::from(r#"{"sku": "S-1", "name": "Renamed", "uom": "EACH"}"#)
    } else {
        Body::empty()
    };
    let res = app
        .clone()
        .oneshot(req.body(body).expect("request"))
        .await
        .expect("infallible");
    let status = res.status();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Audit rows of refusals, read as the table owner.
async fn audited(db: &TestDatabase) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM audit.audit_log WHERE outcome NOT IN ('pending', 'accepted')",
    )
    .fetch_one(&db.pool)
    .await?)
}

/// Waits up to 10 s for `want` refusal rows (they are written in the background).
async fn await_audited(db: &TestDatabase, want: i64) -> anyhow::Result<i64> {
    let started = Instant::now();
    loop {
        let n = audited(db).await?;
        if n >= want || started.elapsed() > Duration::from_secs(10) {
            return Ok(n);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_through_pgbouncer_as_it_does_directly() -> anyhow::Result<()> {
    let db = TestDatabase::new().await?;
    seed(&db).await?;
    let api_key: String =
        sqlx::query_scalar("SELECT auth.create_api_key('acme', 'viewer', 'bouncer-test')")
            .fetch_one(&db.pool)
            .await?;
    let bouncer = PgBouncer::start(&["composerp_api"], 2)?;
    let direct = api(db.options_as("composerp_api"), 2, true).await?;
    let through = api(bouncer.options(&db, "composerp_api"), 16, false).await?;

    let calls = Arc::new(reads(&api_key));
    let mut expected = Vec::new();
    for call in calls.iter() {
        let (status, body) = send(&direct, call).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::NOT_FOUND,
            "{} {}: {status} {body}",
            call.0,
            call.1
        );
        expected.push((status, body));
    }
    assert!(expected.iter().filter(|(s, _)| s.is_success()).count() > calls.len() / 2);

    // 16 clients at once over two server connections, each through every call in its own order:
    // named statements would collide ("prepared statement … already exists") or go missing.
    let expected = Arc::new(expected);
    let mut clients = Vec::new();
    for c in 0..16 {
        let (app, calls, expected) = (through.clone(), calls.clone(), expected.clone());
        clients.push(tokio::spawn(async move {
            let n = calls.len();
            for k in 0..n * 2 {
                let i = (k * 7 + c * 5) % n;
                let (status, body) = send(&app, &calls[i]).await;
                let (want, want_body) = &expected[i];
                assert_eq!(status, *want, "{} {}: {body}", calls[i].0, calls[i].1);
                assert_eq!(&body, want_body, "{} {}", calls[i].0, calls[i].1);
            }
        }));
    }
    for c in clients {
        c.await?;
    }

    // Refusals through PgBouncer leave their audit rows as they do directly.
    for (app, round) in [(&direct, 1), (&through, 2)] {
        for call in refusals() {
            let (status, body) = send(app, &call).await;
            assert!(
                status == StatusCode::FORBIDDEN || status == StatusCode::UNAUTHORIZED,
                "{} {}: {status} {body}",
                call.0,
                call.1
            );
        }
        let want = round * refusals().len() as i64;
        assert_eq!(await_audited(&db, want).await?, want, "round {round}");
    }
    let log = bouncer.log();
    assert!(!log.contains("prepared statement"), "{log}");
    Ok(())
}
