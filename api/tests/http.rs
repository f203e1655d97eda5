//! The API on a real, migrated Postgres as `composerp_api`: every endpoint with two tenants'
//! rows, credentials refused, problems for bad input, and the checked-in OpenAPI document.

mod common;

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use common::{Api, SECRET, TENANTS, Writable, bearer, token, token_of};
use composerp_api::limit::RateLimits;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tower::ServiceExt;

impl Api {
    async fn with_limits(limits: RateLimits) -> anyhow::Result<Self> {
        Self::build(limits, None).await
    }

    async fn put(&self, path: &str, auth: &str, body: &str, json: bool) -> (StatusCode, Value) {
        let (status, body, _) = self.send(Request::put(path), auth, body, json).await;
        (status, body)
    }

    /// A PUT of `payload` must be a 422 problem pointing at `pointer`.
    async fn refused_at(&self, path: &str, auth: &str, payload: &str, pointer: &str) {
        let (status, body) = self.put(path, auth, payload, true).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{payload}: {body}"
        );
        assert_eq!(body["pointer"], pointer, "{payload}: {body}");
    }
}

/// Every list endpoint with the number of rows one tenant has.
const LISTS: [(&str, usize); 12] = [
    ("/v1/positions", 3),
    ("/v1/positions/s1/i1/ledger", 2),
    ("/v1/low-stock-events", 1),
    ("/v1/items", 3),
    ("/v1/locations", 1),
    ("/v1/suppliers", 1),
    ("/v1/rules", 1),
    ("/v1/purchase-orders", 2),
    ("/v1/replenishment-triggers", 1),
    ("/v1/forecasts", 1),
    ("/v1/forecast-accuracy", 1),
    ("/v1/demand-features", 1),
];

#[tokio::test]
async fn every_endpoint_shows_the_callers_tenant_only() -> anyhow::Result<()> {
    let api = Api::start().await?;
    for tenant in TENANTS {
        let auth = bearer(&token(tenant, "viewer"));
        for (path, n) in LISTS {
            let (status, body, _) = api.get(path, Some(("authorization", &auth))).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            let items = body["items"].as_array().cloned().unwrap_or_default();
            assert_eq!(items.len(), n, "{tenant} {path}: {body}");
        }
        for path in [
            "/v1/positions/s1/i2",
            "/v1/items/i2",
            "/v1/locations/s1",
            "/v1/suppliers/sup1",
            "/v1/rules/s1/i1",
            "/v1/purchase-orders/PO-1",
            "/v1/forecasts/s1/i1",
            "/v1/demand-features/s1/i1",
        ] {
            let (status, body, _) = api.get(path, Some(("authorization", &auth))).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
        }
    }
    // The same ids exist in both tenants; what each sees must be its own row.
    sqlx::query("UPDATE inventory.positions SET on_hand = 777 WHERE tenant_id = 'globex'")
        .execute(&api.db.pool)
        .await?;
    let acme = bearer(&token("acme", "viewer"));
    let (_, body, _) = api
        .get("/v1/positions/s1/i2", Some(("authorization", &acme)))
        .await;
    assert_eq!(body["on_hand"], 8);
    let (_, body, _) = api
        .get(
            "/v1/positions?negative=false",
            Some(("authorization", &acme)),
        )
        .await;
    assert!(
        body["items"]
            .as_array()
            .is_some_and(|a| a.iter().all(|p| p["on_hand"] != 777))
    );
    Ok(())
}

#[tokio::test]
async fn filters_pages_and_etags() -> anyhow::Result<()> {
    let api = Api::start().await?;
    let auth = bearer(&token("acme", "viewer"));
    let h = Some(("authorization", auth.as_str()));
    let (_, body, _) = api.get("/v1/positions?below_reorder_point=true", h).await;
    assert_eq!(body["items"].as_array().map(Vec::len), Some(2), "{body}");
    let (_, first, _) = api.get("/v1/positions?limit=2", h).await;
    assert_eq!(first["items"].as_array().map(Vec::len), Some(2));
    let cursor = first["next_cursor"]
        .as_str()
        .expect("more pages")
        .to_owned();
    let (_, second, _) = api
        .get(&format!("/v1/positions?limit=2&cursor={cursor}"), h)
        .await;
    assert_eq!(second["items"][0]["item_id"], "i2");
    assert_eq!(second["next_cursor"], Value::Null);

    let res = api
        .app
        .clone()
        .oneshot(
            Request::get("/v1/positions/s1/i1")
                .header("authorization", &auth)
                .header("if-none-match", "\"1\"")
                .body(Body::empty())?,
        )
        .await?;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    Ok(())
}

/// The list and the single position render a row alike: every field, times (whole seconds,
/// milliseconds, microseconds, other offsets) in UTC, and awkward text in keys.
#[tokio::test]
async fn the_position_list_renders_rows_exactly_as_the_single_position() -> anyhow::Result<()> {
    let api = Api::start().await?;
    for (n, (item, at)) in [
        ("j\"1\\é", "2026-03-04 05:06:07+00"),
        ("j\u{1}2\t", "2026-03-04 05:06:07.120+00"),
        ("j3/\u{2028}", "2026-03-04 05:06:07.123456+02"),
    ]
    .into_iter()
    .enumerate()
    {
        sqlx::query(
            "INSERT INTO inventory.positions VALUES ('acme', 'z9', $1, 3, -2, 1, 0, 0, 0, 0, 0, \
             -1, 0, 0.123456, -0.246912, $2, true, false, false, gen_random_uuid(), \
             gen_random_uuid(), $3::timestamptz)",
        )
        .bind(item)
        .bind(if n == 1 { None } else { Some(7i64) })
        .bind(at)
        .execute(&api.db.pool)
        .await?;
    }
    let auth = bearer(&token("acme", "viewer"));
    let h = Some(("authorization", auth.as_str()));
    let (status, list, content_type) = api.get("/v1/positions?location_id=z9", h).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "{list}");
    for item in items {
        let id = item["item_id"].as_str().expect("item id");
        let escaped: String = id
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let path = format!("/v1/positions/z9/{escaped}");
        let (status, one, _) = api.get(&path, h).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(*item, one);
    }
    let as_of = |id: &str| {
        items
            .iter()
            .find(|i| i["item_id"] == id)
            .map(|i| i["as_of"].clone())
    };
    assert_eq!(as_of("j\"1\\é"), Some(json!("2026-03-04T05:06:07Z")));
    assert_eq!(as_of("j\u{1}2\t"), Some(json!("2026-03-04T05:06:07.120Z")));
    assert_eq!(
        as_of("j3/\u{2028}"),
        Some(json!("2026-03-04T03:06:07.123456Z"))
    );
    Ok(())
}

#[tokio::test]
async fn bad_input_is_a_problem_never_a_500() -> anyhow::Result<()> {
    let api = Api::start().await?;
    let auth = bearer(&token("acme", "viewer"));
    let h = Some(("authorization", auth.as_str()));
    for path in [
        "/v1/positions?limit=0",
        "/v1/positions?limit=abc",
        "/v1/positions?cursor=garbage",
        "/v1/positions?below_reorder_point=maybe",
        "/v1/positions?unknown=1",
        "/v1/positions/s1/i1/ledger?from=yesterday",
        "/v1/positions/s1/i1/ledger?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
        "/v1/low-stock-events?cursor=eyJ4IjoxfQ",
        "/v1/items?active=perhaps",
        "/v1/positions?location_id=s%00",
        "/v1/items/i%001",
    ] {
        let (status, body, content_type) = api.get(path, h).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(content_type, "application/problem+json", "{path}");
        assert_eq!(body["status"], 400);
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    let (status, body, _) = api.get("/v1/items/nope", h).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _, content_type) = api.get("/v1/nothing-here", h).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/problem+json");
    Ok(())
}

#[tokio::test]
async fn credentials_are_checked_and_failures_audited() -> anyhow::Result<()> {
    let api = Api::start().await?;
    let (status, body, content_type) = api.get("/v1/positions", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(content_type, "application/problem+json");
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "x", "aud": "composerp", "tenant_id": "acme", "roles": ["admin"],
                "exp": chrono::Utc::now().timestamp() + 300}),
        &EncodingKey::from_secret(b"a different secret, 32 bytes long"),
    )?;
    let expired = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "x", "aud": "composerp", "tenant_id": "acme", "roles": ["admin"],
                "exp": chrono::Utc::now().timestamp() - 300}),
        &EncodingKey::from_secret(SECRET),
    )?;
    let wrong_audience = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "x", "aud": "billing", "tenant_id": "acme", "roles": ["admin"],
                "exp": chrono::Utc::now().timestamp() + 300}),
        &EncodingKey::from_secret(SECRET),
    )?;
    let wrong_algorithm = jsonwebtoken::encode(
        &Header::new(Algorithm::HS384),
        &json!({"sub": "x", "aud": "composerp", "tenant_id": "acme", "roles": ["admin"],
                "exp": chrono::Utc::now().timestamp() + 300}),
        &EncodingKey::from_secret(SECRET),
    )?;
    for t in [
        forged,
        expired,
        wrong_audience,
        wrong_algorithm,
        "abc.def.ghi".into(),
    ] {
        let (status, body, _) = api
            .get("/v1/positions", Some(("authorization", &bearer(&t))))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }

    // API keys: made by an administrator in SQL, shown once, checked by hash.
    let key: String = sqlx::query_scalar("SELECT auth.create_api_key('globex', 'viewer', 'bot')")
        .fetch_one(&api.db.pool)
        .await?;
    let (status, body, _) = api.get("/v1/items", Some(("x-api-key", &key))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(3));
    let tampered = format!("{}x", &key[..key.len() - 1]);
    let (status, _, _) = api.get("/v1/items", Some(("x-api-key", &tampered))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Every refusal above is in the audit log (written off the request path).
    let mut audited = 0;
    for _ in 0..50 {
        audited = sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM audit.audit_log WHERE action = 'authenticate'",
        )
        .fetch_one(&api.db.pool)
        .await?;
        if audited >= 7 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(audited, 7);
    Ok(())
}

#[tokio::test]
async fn a_caller_over_its_rate_gets_429_with_retry_after() -> anyhow::Result<()> {
    let api = Api::with_limits(RateLimits {
        per_caller: 2,
        ..RateLimits::default()
    })
    .await?;
    let auth = bearer(&token("acme", "viewer"));
    let mut statuses = Vec::new();
    let started = std::time::Instant::now();
    for _ in 0..10 {
        let res = api
            .app
            .clone()
            .oneshot(
                Request::get("/v1/locations")
                    .header("authorization", &auth)
                    .body(Body::empty())?,
            )
            .await?;
        statuses.push(res.status().as_u16());
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers().contains_key(header::RETRY_AFTER));
            assert_eq!(
                res.headers()
                    .get(header::CONTENT_TYPE)
                    .map(|v| v.as_bytes()),
                Some(&b"application/problem+json"[..])
            );
        }
    }
    // A burst of 4 passes, then the budget refills at 2 a second: no more than that may pass
    // (a loaded machine makes the ten calls take a while), and some must be refused.
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(statuses[..4], [200; 4], "{statuses:?}");
    let passed = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        passed <= 4 + (elapsed * 2.0).ceil() as usize,
        "{statuses:?} in {elapsed:.2} s"
    );
    assert!(statuses.contains(&429), "{statuses:?} in {elapsed:.2} s");
    // Another caller of the same tenant is not held back.
    let (status, _, _) = api
        .get(
            "/v1/locations",
            Some(("authorization", &bearer(&token_of("acme", "viewer", "bob")))),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn the_served_openapi_document_is_the_checked_in_one() -> anyhow::Result<()> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    let generated = composerp_api::openapi::document();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(path, format!("{generated}\n"))?;
    }
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(
        checked_in.trim_end(),
        generated,
        "api/openapi.json is stale: UPDATE_OPENAPI=1 cargo test -p composerp-api --test http openapi"
    );
    let api = Api::start().await?;
    let (status, served, _) = api.get("/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served, serde_json::from_str::<Value>(&generated)?);
    assert_eq!(served["openapi"], "3.1.0");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_validated_published_and_materialized_by_the_sink() -> anyhow::Result<()> {
    let w = Writable::start().await?;
    let api = &w.api;
    sqlx::query(
        "INSERT INTO catalog.tenants (tenant_id, name, attribute_schemas) VALUES ('acme', 'Acme', \
         '{\"supplier\": {\"type\": \"object\", \"required\": [\"tier\"], \
           \"properties\": {\"tier\": {\"enum\": [\"gold\", \"silver\"]}}}}') \
         ON CONFLICT (tenant_id) DO UPDATE SET attribute_schemas = EXCLUDED.attribute_schemas",
    )
    .execute(&api.db.pool)
    .await?;
    let planner = bearer(&token("acme", "planner"));
    let good = r#"{"name": "Fresh Farms", "currency": "EUR", "contact_email": "jo@farm.example",
                   "attributes": {"tier": "gold"}}"#;

    let (status, body) = api
        .put(
            "/v1/suppliers/sup9",
            &bearer(&token("acme", "viewer")),
            good,
            true,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a viewer cannot write: {body}"
    );
    for (payload, pointer) in [
        (
            r#"{"name": "X", "currency": "EUR", "attributes": {"tier": "bronze"}}"#,
            "/attributes/tier",
        ),
        (
            r#"{"name": "X", "currency": "EUR", "attributes": {}}"#,
            "/attributes",
        ),
        (r#"{"name": "X", "currency": "euro"}"#, "/currency"),
        (r#"{"name": "", "currency": "EUR"}"#, "/name"),
        (
            r#"{"name": "X", "currency": "EUR", "contact_email": "nope"}"#,
            "/contact_email",
        ),
    ] {
        api.refused_at("/v1/suppliers/sup9", &planner, payload, pointer)
            .await;
    }
    let (status, _) = api
        .put("/v1/suppliers/sup9", &planner, "{not json", true)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api.put("/v1/suppliers/sup9", &planner, good, false).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _) = api
        .put(
            "/v1/locations/s9",
            &planner,
            r#"{"name": "S9", "location_type": "STORE", "timezone": "Mars/Olympus"}"#,
            true,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    for (payload, pointer) in [
        (
            r#"{"supplier_id": "sup9", "policy": "MIN_MAX", "min_qty": 9, "max_qty": 3}"#,
            "/max_qty",
        ),
        (
            r#"{"supplier_id": "sup9", "policy": "MIN_MAX"}"#,
            "/min_qty",
        ),
        (
            r#"{"supplier_id": "sup9", "policy": "R_S", "order_days": []}"#,
            "/order_days",
        ),
        (
            r#"{"supplier_id": "sup9", "policy": "S_Q"}"#,
            "/order_quantity",
        ),
        (
            r#"{"supplier_id": "sup9", "policy": "S_Q", "order_quantity": 5, "service_level": 1.0}"#,
            "/service_level",
        ),
    ] {
        api.refused_at("/v1/rules/s9/i9", &planner, payload, pointer)
            .await;
    }
    let (status, body) = api
        .put(
            "/v1/rules/s9/i9",
            &planner,
            r#"{"supplier_id": "sup9", "policy": "R_S", "order_days": ["MON", "THU"]}"#,
            true,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = api.put("/v1/suppliers/sup9", &planner, good, true).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let (status, body) = api
        .put(
            "/v1/items/i9",
            &planner,
            r#"{"sku": "SKU9", "name": "Nine", "uom": "EACH", "standard_cost": "2.5000"}"#,
            true,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    // Nothing is in the tables until the sink writes the events.
    let sink = w.sink("api-test");
    let mut seen = (StatusCode::NOT_FOUND, Value::Null, String::new());
    for _ in 0..150 {
        seen = api
            .get("/v1/suppliers/sup9", Some(("authorization", &planner)))
            .await;
        if seen.0 == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    sink.stop().await?;
    assert_eq!(seen.0, StatusCode::OK, "the sink materialized the write");
    assert_eq!(seen.1["name"], "Fresh Farms");
    assert_eq!(seen.1["attributes"]["tier"], "gold");
    let (status, item, _) = api
        .get("/v1/items/i9", Some(("authorization", &planner)))
        .await;
    assert_eq!(
        (status, &item["standard_cost"]),
        (StatusCode::OK, &json!("2.5000"))
    );
    let (status, _, _) = api
        .get(
            "/v1/suppliers/sup9",
            Some(("authorization", &bearer(&token("globex", "viewer")))),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another tenant does not see it"
    );
    let writes: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit.audit_log WHERE action = 'put' AND actor = 'acme-user' \
         AND tenant_id = 'acme' AND outcome = 'accepted' AND NOT detail::text LIKE '%farm.example%'",
    )
    .fetch_one(&api.db.pool)
    .await?;
    assert_eq!(writes, 3, "every write audited, without the contact data");
    Ok(())
}

#[tokio::test]
async fn forecasts_show_actual_sales_and_accuracy() -> anyhow::Result<()> {
    let api = Api::start().await?;
    let auth = bearer(&token("acme", "viewer"));
    let (status, body, _) = api
        .get("/v1/forecasts/s1/i1", Some(("authorization", &auth)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let actual: Vec<Value> = body["days"]
        .as_array()
        .map(|d| d.iter().map(|d| d["actual"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(actual, [json!(4), json!(0), Value::Null]);
    // e = 4 − 3 and 0 − 1: MAE 1, bias 0, WAPE 2 / 4.
    assert_eq!(body["accuracy"]["days"], 2);
    assert_eq!(body["accuracy"]["mae"], 1.0);
    assert_eq!(body["accuracy"]["bias"], 0.0);
    assert_eq!(body["accuracy"]["wape"], 0.5);
    let (status, body, _) = api
        .get("/v1/forecasts/s1/i2", Some(("authorization", &auth)))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Rolling accuracy next to seasonal naive, and the sales-weighted summary per class.
    let (_, body, _) = api
        .get(
            "/v1/forecast-accuracy/by-class",
            Some(("authorization", &auth)),
        )
        .await;
    assert_eq!(
        (
            &body[0]["demand_class"],
            &body[0]["wape"],
            &body[0]["baseline_wape"]
        ),
        (&json!("SMOOTH"), &json!(0.5), &json!(1.0)),
        "{body}"
    );
    let (status, _, _) = api
        .get(
            "/v1/forecasts/s1/i1?forecast_id=nope",
            Some(("authorization", &auth)),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, page, _) = api
        .get(
            "/v1/purchase-orders?status=DRAFT",
            Some(("authorization", &auth)),
        )
        .await;
    assert_eq!(page["items"][0]["po_number"], "PO-1");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    let (_, order, _) = api
        .get("/v1/purchase-orders/PO-2", Some(("authorization", &auth)))
        .await;
    assert_eq!(
        (
            &order["status"],
            &order["open_quantity"],
            &order["open_value"]
        ),
        (&json!("APPROVED"), &json!(14), &json!("35.0000"))
    );
    assert_eq!(order["order_lines"].as_array().map(Vec::len), Some(2));
    Ok(())
}
