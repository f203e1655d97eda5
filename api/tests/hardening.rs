//! The hardening of issue #23 on a real Postgres as `composerp_api`: personal fields masked per
//! role, a failure limiter that never refuses valid credentials, audited 403s and capped
//! refusals, audit rows confined to the caller's tenant, writes recorded before they are
//! published, no metrics on the API, rate-limited readiness, and 405 as a problem.

mod common;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{Request, StatusCode, header},
};
use common::{Api, SECRET, Writable, bearer, token, token_of};
use composerp_api::{
    AppState,
    auth::{AuthConfig, Authenticator},
    client::TrustedProxies,
    limit::{Limiter, RateLimits},
    publish::Events,
    router,
};
use composerp_sinks::testing::TestDatabase;
use serde_json::Value;
use sqlx::{PgPool, postgres::PgPoolOptions};
use tower::ServiceExt;

/// The router over an empty migrated database, and the pool it uses (as `composerp_api`).
async fn bare_api() -> anyhow::Result<(Api, PgPool)> {
    let db = TestDatabase::new().await?;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(db.options_as("composerp_api"))
        .await?;
    let auth = Authenticator::new(&AuthConfig {
        hs256_secret: Some(SECRET.to_vec()),
        ..Default::default()
    })?;
    let app = router(AppState {
        pool: pool.clone(),
        auth: Arc::new(auth),
        limits: Arc::new(Limiter::new(RateLimits::default())),
        events: None,
        named: true,
    });
    Ok((Api { app, db }, pool))
}

/// A GET from the TCP peer `peer`, optionally forwarded for someone: its status.
async fn get_from(
    api: &Api,
    path: &str,
    auth: &str,
    peer: &str,
    forwarded_for: Option<&str>,
) -> StatusCode {
    let mut req = Request::get(path).header("authorization", auth);
    if let Some(f) = forwarded_for {
        req = req.header("x-forwarded-for", f);
    }
    let mut req = req.body(Body::empty()).expect("request");
    let peer: SocketAddr = peer.parse().expect("address");
    req.extensions_mut().insert(ConnectInfo(peer));
    api.app
        .clone()
        .oneshot(req)
        .await
        .expect("infallible")
        .status()
}

/// Waits until `sql` (a count) reaches `n`, for rows written off the request path.
async fn count_reaches(api: &Api, sql: &str, n: i64) -> anyhow::Result<i64> {
    let mut seen = 0;
    for _ in 0..50 {
        seen = sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&api.db.pool)
            .await?;
        if seen >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(seen)
}

#[tokio::test]
async fn viewers_see_personal_fields_masked_and_planners_and_admins_whole() -> anyhow::Result<()> {
    let api = Api::start().await?;
    sqlx::query(
        "UPDATE catalog.suppliers SET contact_phone = '+49 30 1234567' WHERE tenant_id = 'acme'",
    )
    .execute(&api.db.pool)
    .await?;
    sqlx::query(
        "UPDATE replenishment.purchase_orders SET approved_by = 'jane.doe' \
         WHERE tenant_id = 'acme' AND po_number = 'PO-2'",
    )
    .execute(&api.db.pool)
    .await?;
    let key: String = sqlx::query_scalar("SELECT auth.create_api_key('acme', 'viewer', 'bot')")
        .fetch_one(&api.db.pool)
        .await?;
    let viewer = bearer(&token("acme", "viewer"));
    let planner = bearer(&token("acme", "planner"));
    let admin = bearer(&token("acme", "admin"));
    for (who, header, masked) in [
        ("viewer", ("authorization", viewer.as_str()), true),
        ("viewer API key", ("x-api-key", key.as_str()), true),
        ("planner", ("authorization", planner.as_str()), false),
        ("admin", ("authorization", admin.as_str()), false),
    ] {
        let (email, phone, person) = if masked {
            ("a***@b.example", "***67", "j***")
        } else {
            ("a@b.example", "+49 30 1234567", "jane.doe")
        };
        let (status, one, _) = api.get("/v1/suppliers/sup1", Some(header)).await;
        assert_eq!(status, StatusCode::OK, "{who}: {one}");
        assert_eq!(
            (&one["contact_email"], &one["contact_phone"]),
            (&Value::from(email), &Value::from(phone)),
            "{who}"
        );
        let (_, page, _) = api.get("/v1/suppliers", Some(header)).await;
        assert_eq!(page["items"][0]["contact_email"], email, "{who}");
        let (_, order, _) = api.get("/v1/purchase-orders/PO-2", Some(header)).await;
        assert_eq!(order["approved_by"], person, "{who}");
        let (_, orders, _) = api
            .get("/v1/purchase-orders?status=APPROVED", Some(header))
            .await;
        assert_eq!(orders["items"][0]["approved_by"], person, "{who}");
    }
    // The auto-approval rule is no person.
    let (_, order, _) = api
        .get(
            "/v1/purchase-orders/PO-2",
            Some(("authorization", &bearer(&token("globex", "viewer")))),
        )
        .await;
    assert_eq!(order["approved_by"], "rule:auto");
    // The document says which fields are masked for whom.
    let doc: Value = serde_json::from_str(&composerp_api::openapi::document())?;
    let props = &doc["components"]["schemas"]["Supplier"]["properties"];
    for field in ["contact_email", "contact_phone"] {
        assert!(
            props[field]["description"]
                .as_str()
                .is_some_and(|d| d.contains("Masked for the viewer role")),
            "{field}: {}",
            props[field]
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_flood_of_bad_tokens_never_locks_out_valid_callers_behind_the_same_address()
-> anyhow::Result<()> {
    let api = Api::build(
        RateLimits {
            failures_per_address: 2,
            ..RateLimits::default()
        },
        None,
    )
    .await?;
    let forged = bearer(&format!("{}x", token("acme", "admin")));
    let balancer = "10.0.0.1:443";
    let mut refused = Vec::new();
    for _ in 0..30 {
        refused.push(get_from(&api, "/v1/items", &forged, balancer, None).await);
    }
    assert!(refused.iter().all(|s| *s != StatusCode::OK));
    assert!(
        refused.contains(&StatusCode::TOO_MANY_REQUESTS),
        "the flood is throttled: {refused:?}"
    );
    // Every valid caller behind the same balancer still gets in, at once.
    for n in 0..5 {
        let valid = bearer(&token_of("acme", "viewer", &format!("u{n}")));
        assert_eq!(
            get_from(&api, "/v1/items", &valid, balancer, None).await,
            StatusCode::OK
        );
    }
    Ok(())
}

#[tokio::test]
async fn behind_trusted_proxies_failures_count_per_forwarded_client() -> anyhow::Result<()> {
    let limiter = Limiter::new(RateLimits {
        failures_per_address: 1,
        failures_per_identity: 1_000,
        ..RateLimits::default()
    })
    .with_trusted_proxies(TrustedProxies::parse("10.0.0.0/8")?);
    let api = Api::build(limiter, None).await?;
    let bad = bearer("garbage");
    for _ in 0..10 {
        get_from(&api, "/v1/items", &bad, "10.0.0.1:443", Some("203.0.113.7")).await;
    }
    assert_eq!(
        get_from(&api, "/v1/items", &bad, "10.0.0.1:443", Some("203.0.113.7")).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client through the same proxy has its own budget.
    assert_eq!(
        get_from(&api, "/v1/items", &bad, "10.0.0.1:443", Some("203.0.113.8")).await,
        StatusCode::UNAUTHORIZED
    );
    // A client forging the header from outside is counted as itself.
    for _ in 0..10 {
        get_from(
            &api,
            "/v1/items",
            &bad,
            "198.51.100.1:5",
            Some("203.0.113.9"),
        )
        .await;
    }
    assert_eq!(
        get_from(&api, "/v1/items", &bad, "10.0.0.1:443", Some("203.0.113.9")).await,
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}

#[tokio::test]
async fn a_403_is_audited_and_refusals_store_capped_text() -> anyhow::Result<()> {
    let api = Api::start().await?;
    let viewer = bearer(&token("acme", "viewer"));
    let (status, _, _) = api
        .send(
            Request::put("/v1/items/i9"),
            &viewer,
            r#"{"sku": "S", "name": "N", "uom": "EACH"}"#,
            true,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let forbidden = count_reaches(
        &api,
        "SELECT count(*) FROM audit.audit_log WHERE tenant_id = 'acme' AND actor = 'acme-user' \
         AND action = 'authorize' AND outcome = 'forbidden' AND resource = '/v1/items/i9'",
        1,
    )
    .await?;
    assert_eq!(forbidden, 1, "the 403 is in the audit log");

    let long_path = format!("/v1/items/{}", "x".repeat(20_000));
    let res = api
        .app
        .clone()
        .oneshot(
            Request::get(&long_path)
                .header("x-request-id", "r".repeat(30_000))
                .body(Body::empty())?,
        )
        .await?;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let stored = count_reaches(
        &api,
        "SELECT count(*) FROM audit.audit_log WHERE action = 'authenticate' \
         AND detail -> 'cut' ? 'resource' AND detail -> 'cut' ? 'request_id'",
        1,
    )
    .await?;
    assert_eq!(stored, 1);
    let longest: i32 = sqlx::query_scalar(
        "SELECT max(greatest(octet_length(resource), octet_length(request_id))) \
         FROM audit.audit_log",
    )
    .fetch_one(&api.db.pool)
    .await?;
    assert!(longest <= 300, "{longest} bytes stored");
    Ok(())
}

#[tokio::test]
async fn the_api_role_appends_audit_rows_of_its_scoped_tenant_only() -> anyhow::Result<()> {
    let (_api, pool) = bare_api().await?;
    let insert = |tenant: &'static str, actor: &'static str| {
        sqlx::query(
            "INSERT INTO audit.audit_log (tenant_id, actor, action, resource, outcome) \
             VALUES ($1, $2, 'put', 'items/i1', 'accepted')",
        )
        .bind(tenant)
        .bind(actor)
    };
    let mut tx = pool
        .begin_with("BEGIN; SELECT set_config('app.tenant_id', 'acme', true)")
        .await?;
    insert("acme", "ann").execute(&mut *tx).await?;
    tx.commit().await?;
    let mut tx = pool
        .begin_with("BEGIN; SELECT set_config('app.tenant_id', 'acme', true)")
        .await?;
    assert!(
        insert("globex", "ann").execute(&mut *tx).await.is_err(),
        "another tenant's row from an acme transaction"
    );
    tx.rollback().await?;
    assert!(
        insert("globex", "ann").execute(&pool).await.is_err(),
        "a tenant's row outside any tenant scope"
    );
    assert!(
        insert("", "ann").execute(&pool).await.is_err(),
        "an actor without a tenant"
    );
    insert("", "").execute(&pool).await?;
    Ok(())
}

#[tokio::test]
async fn a_write_is_audited_before_it_is_published() -> anyhow::Result<()> {
    // A broker that never answers: the publish fails after the write was recorded.
    let kafka = composerp_kafka::KafkaSettings::new(
        "127.0.0.1:9",
        Some("message.timeout.ms=500,socket.connection.setup.timeout.ms=1000"),
    )?;
    let events = Events::new(&kafka, composerp_events::Codec::embedded())?;
    let api = Api::build(RateLimits::default(), Some(Arc::new(events))).await?;
    let planner = bearer(&token("acme", "planner"));
    let body = r#"{"sku": "S9", "name": "Nine", "uom": "EACH"}"#;
    let (status, problem, _) = api
        .send(
            Request::put("/v1/items/i9").header("idempotency-key", "k-9"),
            &planner,
            body,
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT outcome, detail ->> 'event_id' FROM audit.audit_log \
         WHERE tenant_id = 'acme' AND action = 'put' AND resource = 'items/i9'",
    )
    .fetch_all(&api.db.pool)
    .await?;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, "pending");
    // The retry names the same event, so the log keeps one write.
    let (status, _, _) = api
        .send(
            Request::put("/v1/items/i9").header("idempotency-key", "k-9"),
            &planner,
            body,
            true,
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let events: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT detail ->> 'event_id' FROM audit.audit_log \
         WHERE tenant_id = 'acme' AND resource = 'items/i9'",
    )
    .fetch_all(&api.db.pool)
    .await?;
    assert_eq!(events, [rows[0].1.clone()]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_retry_of_an_accepted_write_publishes_nothing_again() -> anyhow::Result<()> {
    let w = Writable::start().await?;
    let planner = bearer(&token("acme", "planner"));
    let put = || {
        w.api.send(
            Request::put("/v1/items/i7").header("idempotency-key", "retry-7"),
            &planner,
            r#"{"sku": "S7", "name": "Seven", "uom": "EACH"}"#,
            true,
        )
    };
    let (status, first, _) = put().await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (status, again, _) = put().await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(first["event_id"], again["event_id"]);
    let outcomes: Vec<String> = sqlx::query_scalar(
        "SELECT outcome FROM audit.audit_log WHERE tenant_id = 'acme' AND resource = 'items/i7' \
         ORDER BY id",
    )
    .fetch_all(&w.api.db.pool)
    .await?;
    assert_eq!(
        outcomes,
        ["pending", "accepted"],
        "recorded, then acknowledged, once"
    );
    // The sink sees the one event.
    let sink = w.sink("retry-test");
    let mut seen = StatusCode::NOT_FOUND;
    for _ in 0..150 {
        seen = w
            .api
            .get("/v1/items/i7", Some(("authorization", &planner)))
            .await
            .0;
        if seen == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    sink.stop().await?;
    assert_eq!(seen, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn metrics_are_not_on_the_api_and_readiness_is_rate_limited() -> anyhow::Result<()> {
    let (api, pool) = bare_api().await?;
    let (status, _, content_type) = api.get("/metrics", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/problem+json");
    let (status, _, _) = api.get("/readyz", None).await;
    assert_eq!(status, StatusCode::OK);
    // Within the second, probes get the last answer without touching Postgres.
    pool.close().await;
    for _ in 0..20 {
        let (status, _, _) = api.get("/readyz", None).await;
        assert_eq!(status, StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (status, _, _) = api.get("/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    Ok(())
}

#[tokio::test]
async fn an_unsupported_method_is_a_405_problem() -> anyhow::Result<()> {
    let api = Api::start().await?;
    let res = api
        .app
        .clone()
        .oneshot(
            Request::delete("/v1/items/i1")
                .header("authorization", bearer(&token("acme", "admin")))
                .body(Body::empty())?,
        )
        .await?;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        res.headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.as_bytes()),
        Some(&b"application/problem+json"[..])
    );
    assert!(res.headers().contains_key(header::ALLOW));
    Ok(())
}
