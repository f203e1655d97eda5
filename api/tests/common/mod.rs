//! What the API's test files share: the router on a fresh database seeded with two tenants'
//! rows, tokens, and an API that publishes to a local broker with a sink behind it.

use std::sync::Arc;

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Request, StatusCode, header},
};
use composerp_api::{
    AppState,
    auth::{AuthConfig, Authenticator},
    limit::{Limiter, RateLimits},
    publish::Events,
    router,
};
use composerp_sinks::testing::TestDatabase;
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;
use tower::ServiceExt;

pub const SECRET: &[u8] = b"test secret of at least 32 bytes!!";
pub const TENANTS: [&str; 2] = ["acme", "globex"];

/// The router over a fresh, seeded database, connected as `composerp_api`.
pub struct Api {
    /// The API.
    pub app: Router,
    /// Its database.
    pub db: TestDatabase,
}

impl Api {
    pub async fn start() -> anyhow::Result<Self> {
        Self::build(RateLimits::default(), None).await
    }

    pub async fn build(
        limits: impl Into<Limiter>,
        events: Option<Arc<Events>>,
    ) -> anyhow::Result<Self> {
        let db = TestDatabase::new().await?;
        seed(&db).await?;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(db.options_as("composerp_api"))
            .await?;
        let app = app(pool, limits, events, true)?;
        Ok(Api { app, db })
    }

    /// Sends `req` with `auth` and `body` (as JSON when `json`): status, body, headers.
    pub async fn send(
        &self,
        req: axum::http::request::Builder,
        auth: &str,
        body: &str,
        json: bool,
    ) -> (StatusCode, Value, HeaderMap) {
        let mut req = req.header("authorization", auth);
        if json {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let res = self
            .app
            .clone()
            .oneshot(req.body(Body::from(body.to_owned())).expect("request"))
            .await
            .expect("infallible");
        let (status, headers) = (res.status(), res.headers().clone());
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body, headers)
    }

    pub async fn get(&self, path: &str, auth: Option<(&str, &str)>) -> (StatusCode, Value, String) {
        let mut req = Request::get(path);
        if let Some((name, value)) = auth {
            req = req.header(name, value);
        }
        let res = self
            .app
            .clone()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = res.status();
        let content_type = res
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body, content_type)
    }
}

/// The router over `pool` with the test secret, `limits` and `events`; statements `named` (as
/// connected directly) or not (as behind a pooler).
pub fn app(
    pool: sqlx::PgPool,
    limits: impl Into<Limiter>,
    events: Option<Arc<Events>>,
    named: bool,
) -> anyhow::Result<Router> {
    let auth = Authenticator::new(&AuthConfig {
        hs256_secret: Some(SECRET.to_vec()),
        audience: "composerp".into(),
        ..Default::default()
    })?;
    Ok(router(AppState {
        pool,
        auth: Arc::new(auth),
        limits: Arc::new(limits.into()),
        events,
        named,
    }))
}

pub fn token(tenant: &str, role: &str) -> String {
    token_of(tenant, role, &format!("{tenant}-user"))
}

pub fn token_of(tenant: &str, role: &str, subject: &str) -> String {
    let claims = json!({
        "sub": subject, "aud": "composerp", "tenant_id": tenant,
        "roles": [role], "exp": chrono::Utc::now().timestamp() + 300,
    });
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .expect("token")
}

pub fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

/// Three item-locations, a ledger entry, a low-stock alert and master data per tenant.
pub async fn seed(db: &TestDatabase) -> anyhow::Result<()> {
    for tenant in TENANTS {
        for k in 0..3 {
            sqlx::query(
                "INSERT INTO inventory.positions VALUES ($1, 's1', $2, 1, $3, 0, 0, 0, 0, 0, $3, \
                 $3, $3, 1.5, $3 * 1.5, 5, false, false, false, gen_random_uuid(), \
                 gen_random_uuid(), now())",
            )
            .bind(tenant)
            .bind(format!("i{k}"))
            .bind(k as i64 * 4)
            .execute(&db.pool)
            .await?;
            sqlx::query(
                "INSERT INTO inventory.transactions VALUES ($1, gen_random_uuid(), 's1', $2, \
                 'SSLE', 'RECEIPT', gen_random_uuid(), 1, 'PO-1', 1, $3, $3, 1.5, 1.5, 1, 0, \
                 false, false, false, false, now())",
            )
            .bind(tenant)
            .bind(format!("i{k}"))
            .bind(k as i64 * 4)
            .execute(&db.pool)
            .await?;
            sqlx::query(
                "INSERT INTO catalog.items VALUES ($1, $2, $2, 'Item', 'food', 'EACH', 0, 1.5, \
                 true, '{\"color\": \"red\"}', gen_random_uuid(), now())",
            )
            .bind(tenant)
            .bind(format!("i{k}"))
            .execute(&db.pool)
            .await?;
        }
        sqlx::query(
            "INSERT INTO inventory.low_stock_events VALUES ($1, gen_random_uuid(), 's1', 'i0', \
             0, 0, 5, 'REORDER_POINT', gen_random_uuid(), now())",
        )
        .bind(tenant)
        .execute(&db.pool)
        .await?;
        sqlx::query(
            "INSERT INTO catalog.locations VALUES ($1, 's1', 'Store 1', 'STORE', 'UTC', true, \
             NULL, gen_random_uuid(), now())",
        )
        .bind(tenant)
        .execute(&db.pool)
        .await?;
        sqlx::query(
            "INSERT INTO replenishment.rules VALUES ($1, 's1', 'i1', 'sup1', 'MIN_MAX', NULL, \
             NULL, 5, 20, 0.95, '{}', 0, false, true, NULL, gen_random_uuid(), now())",
        )
        .bind(tenant)
        .execute(&db.pool)
        .await?;
        sqlx::query(
            "INSERT INTO catalog.suppliers VALUES ($1, 'sup1', 'Supplier', 'a@b.example', \
             NULL, 'EUR', true, NULL, gen_random_uuid(), now())",
        )
        .bind(tenant)
        .execute(&db.pool)
        .await?;
        seed_planning(db, tenant).await?;
    }
    Ok(())
}

/// Per tenant: PO-1 (DRAFT, two lines) and PO-2 (approved), a trigger, and a forecast of
/// s1/i1 over two ended days (4 and 0 units sold) and tomorrow.
pub async fn seed_planning(db: &TestDatabase, tenant: &str) -> anyhow::Result<()> {
    for (po, status, approved) in [("PO-1", "DRAFT", false), ("PO-2", "APPROVED", true)] {
        sqlx::query(
            "INSERT INTO replenishment.purchase_orders (tenant_id, po_number, location_id, \
             supplier_id, currency, created_status, total_value, created_event_id, created_at, \
             approved_by, approved_at) VALUES ($1, $2, 's1', 'sup1', 'EUR', $3, 35, \
             gen_random_uuid(), now(), CASE WHEN $4 THEN 'rule:auto' END, \
             CASE WHEN $4 THEN now() END)",
        )
        .bind(tenant)
        .bind(po)
        .bind(status)
        .bind(approved)
        .execute(&db.pool)
        .await?;
        sqlx::query(
            "INSERT INTO replenishment.purchase_order_lines (tenant_id, po_number, line_number, \
             item_id, quantity, unit_cost, lines_at) \
             VALUES ($1, $2, 1, 'i1', 10, 2.5, now()), ($1, $2, 2, 'i2', 4, 2.5, now())",
        )
        .bind(tenant)
        .bind(po)
        .execute(&db.pool)
        .await?;
    }
    sqlx::query(
        "INSERT INTO replenishment.triggers VALUES ($1, gen_random_uuid(), 's1', 'i1', 'sup1', \
         'S_Q', 'ORDER', 3, 12.5, NULL, 4.2, 2, 1, 4, 0.5, 0.95, 10, \
         'IP 3 < s 12.5: order 1 x Q 10', gen_random_uuid(), now())",
    )
    .bind(tenant)
    .execute(&db.pool)
    .await?;
    sqlx::query(
        "INSERT INTO forecasting.forecasts (tenant_id, location_id, item_id, forecast_id, \
         as_of_date, model, model_params, demand_class, revision, event_id, occurred_at) \
         VALUES ($1, 's1', 'i1', gen_random_uuid(), current_date - 3, 'SES', '{}', 'SMOOTH', 0, \
         gen_random_uuid(), now())",
    )
    .bind(tenant)
    .execute(&db.pool)
    .await?;
    sqlx::query(
        "INSERT INTO forecasting.forecast_points \
         SELECT tenant_id, location_id, item_id, forecast_id, current_date + d, m, NULL, NULL, 0 \
         FROM forecasting.forecasts, (VALUES (-2, 3.0), (-1, 1.0), (1, 2.0)) AS p(d, m) \
         WHERE tenant_id = $1",
    )
    .bind(tenant)
    .execute(&db.pool)
    .await?;
    sqlx::query(
        "INSERT INTO forecasting.demand_features (tenant_id, location_id, item_id, as_of_date, \
         timezone, demand, censored, days_7, sum_7, mean_7, days_28, sum_28, days_91, sum_91, \
         dow_profile, demand_class, censored_days_91, history_days, event_id, occurred_at) \
         VALUES ($1, 's1', 'i1', current_date - 1, 'UTC', 4, false, 7, 21, 3, 28, 84, 60, 170, \
         '[1,1,1,1,1.2,1.4,0.4]', 'SMOOTH', 0, 60, gen_random_uuid(), now())",
    )
    .bind(tenant)
    .execute(&db.pool)
    .await?;
    sqlx::query(
        "INSERT INTO forecasting.accuracy (tenant_id, location_id, item_id, as_of_date, model, \
         demand_class, window_days, days, actual, mae, wape, baseline_mae, baseline_wape, \
         mase_m, event_id, occurred_at) VALUES ($1, 's1', 'i1', current_date - 1, 'SES', \
         'SMOOTH', 28, 20, 40, 1.0, 0.5, 2.0, 1.0, 7, gen_random_uuid(), now())",
    )
    .bind(tenant)
    .execute(&db.pool)
    .await?;
    sqlx::query(
        "INSERT INTO inventory.transactions (tenant_id, event_id, location_id, item_id, ledger, \
         transaction_type, source_event_id, source_line, sequence, actual_qty, \
         qty_after_transaction, valuation_rate, stock_value, stock_value_difference, superseded, \
         negative_on_hand, unknown_item, unknown_location, occurred_at) \
         VALUES ($1, gen_random_uuid(), 's1', 'i1', 'SSLE', 'SALE', gen_random_uuid(), 1, 2, -4, \
         0, 1.5, 0, -6, false, false, false, false, (current_date - 2) + time '12:00')",
    )
    .bind(tenant)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// An API that publishes its writes to a local broker, and a sink that materializes them.
pub struct Writable {
    /// The API, publishing its writes.
    pub api: Api,
    /// The broker's settings.
    pub kafka: composerp_kafka::KafkaSettings,
    /// The codec the API and sink use.
    pub codec: composerp_events::Codec,
    _broker: composerp_kafka::LocalBroker,
}

/// A sink running on a blocking thread until [`RunningSink::stop`].
pub struct RunningSink {
    stop: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningSink {
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.await?
    }
}

impl Writable {
    pub async fn start() -> anyhow::Result<Self> {
        use composerp_topics::{TopicCatalog, admin::Admin};
        let broker = composerp_kafka::LocalBroker::start()?;
        let kafka = composerp_kafka::KafkaSettings::new(&broker.brokers(), None)?;
        Admin::new(&kafka.admin())?
            .apply(TopicCatalog::embedded().topics())
            .await?;
        let codec = composerp_events::Codec::embedded();
        let api = Api::build(
            RateLimits::default(),
            Some(Arc::new(Events::new(&kafka, codec.clone())?)),
        )
        .await?;
        Ok(Writable {
            api,
            kafka,
            codec,
            _broker: broker,
        })
    }

    /// Starts `composerp sink` (group `name`) over the API's database.
    pub fn sink(&self, name: &str) -> RunningSink {
        use composerp_sinks::sink::{self, SinkConfig};
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (kafka, codec, flag) = (self.kafka.clone(), self.codec.clone(), stop.clone());
        let cfg = SinkConfig::new(name, &self.api.db.url());
        let rt = tokio::runtime::Handle::current();
        let task = tokio::task::spawn_blocking(move || {
            Ok(sink::run(
                composerp_sinks::tables(),
                &kafka,
                codec,
                cfg,
                rt,
                flag,
            )?)
        });
        RunningSink { stop, task }
    }
}
