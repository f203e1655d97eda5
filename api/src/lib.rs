//! Composerp's read API: the sink tables over HTTP, one tenant per caller.
//!
//! - [`auth`]: bearer JWTs and API keys → a [`Principal`](auth::Principal) (tenant, role).
//! - [`limit`]: rate limits per caller and per tenant (429 with Retry-After), and of failed
//!   authentications per client address ([`client`]) and per presented identity.
//! - [`audit`]: the audit log of refusals and writes.
//! - [`mask`]: personal fields masked for viewers.
//! - [`problem`]: every error as RFC 9457 `application/problem+json`.
//! - [`page`]: keyset pagination with opaque cursors, and query/path extractors whose
//!   refusals are problems too.
//! - [`publish`]: writes become events on their topics; the sinks materialize them.
//! - [`routes`]: one module per resource.
//! - [`openapi`]: the OpenAPI 3.1 document generated from the handlers (`/openapi.json`).
//!
//! Every request runs in a transaction that sets `app.tenant_id` to the caller's tenant, and the
//! API connects as `composerp_api`, a role row-level security always applies to: a query that
//! forgot its tenant filter still sees one tenant.
//!
//! # PgBouncer
//!
//! Every query runs inside a transaction and is prepared `.persistent(state.named)`, readiness
//! on the simple protocol. PgBouncer in transaction mode before 1.21 hands a server connection
//! to another client between transactions without tracking what was prepared on it: named
//! statements then collide or go missing, and an unnamed one prepared outside a transaction can
//! lose its server between Parse and Bind. So behind a pooler `named` is false (a URL with
//! `statement-cache-capacity=0`); connected directly it is true, since an unnamed statement
//! costs a round trip more. A new query must follow both rules; `tests/pgbouncer.rs` runs the
//! routes through Debian's PgBouncer to check.

pub mod audit;
pub mod auth;
pub mod client;
pub mod limit;
pub mod mask;
pub mod openapi;
pub mod page;
pub mod problem;
pub mod publish;
pub mod routes;

use std::{net::SocketAddr, sync::Arc, time::Instant};

use axum::{
    Router,
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use sqlx::{PgPool, Postgres, Transaction};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::{
    auth::{AuthError, Authenticator, Principal, Role},
    limit::Limiter,
    problem::Problem,
};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Connections as `composerp_api`.
    pub pool: PgPool,
    /// Token verification.
    pub auth: Arc<Authenticator>,
    /// Rate limits.
    pub limits: Arc<Limiter>,
    /// Where writes are published; None answers writes with 503.
    pub events: Option<Arc<publish::Events>>,
    /// Whether queries prepare named (cached) statements: true connected to Postgres, false
    /// behind a pooler that hands each transaction any server connection (see "PgBouncer").
    pub named: bool,
}

impl AppState {
    /// A read-only transaction scoped to `tenant` by row-level security, begun in one round trip.
    pub async fn tenant_tx(&self, tenant: &str) -> Result<Transaction<'static, Postgres>, Problem> {
        // Tenant ids are [A-Za-z0-9_-]{1,64} (checked at authentication), so the literal is safe.
        if !auth::valid_tenant(tenant) {
            return Err(Problem::forbidden("invalid tenant id"));
        }
        Ok(self
            .pool
            .begin_with(format!(
                "BEGIN READ ONLY; SELECT set_config('app.tenant_id', '{tenant}', true)"
            ))
            .await?)
    }
    /// A read-write transaction scoped to `tenant` by row-level security (audit rows).
    pub async fn tenant_write_tx(
        &self,
        tenant: &str,
    ) -> Result<Transaction<'static, Postgres>, Problem> {
        if !auth::valid_tenant(tenant) {
            return Err(Problem::forbidden("invalid tenant id"));
        }
        Ok(self
            .pool
            .begin_with(format!(
                "BEGIN; SELECT set_config('app.tenant_id', '{tenant}', true)"
            ))
            .await?)
    }

    /// Ends a transaction of [`AppState::tenant_tx`] without waiting for the server: nothing
    /// was written, so its rollback is as good as a commit, and sqlx queues it on the
    /// connection, to be flushed when the pool takes the connection back, so the response does
    /// not wait one more round trip.
    pub fn end_read(tx: Transaction<'static, Postgres>) {
        drop(tx);
    }
}

/// The API: `/v1` behind authentication, health and the OpenAPI document without (metrics are
/// served on an address of their own by the binary). Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so failed authentications are counted
/// per client address (without it, all clients share one address budget).
pub fn router(state: AppState) -> Router {
    let v1 = routes::v1().layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .merge(v1)
        .merge(routes::health::routes())
        .merge(openapi::routes())
        .fallback(|| async { Problem::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed() })
        .layer(middleware::from_fn(observe))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// Counts and times every request by route and status, in a span with its request id.
async fn observe(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_owned(), |p| p.as_str().to_owned());
    let request_id = audit::cap(&audit::request_id(req.headers()).unwrap_or_default()).0;
    let method = req.method().to_string();
    let span = tracing::info_span!("request", %method, %route, request_id);
    let started = Instant::now();
    let res = tracing::Instrument::instrument(next.run(req), span).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("composerp_api_requests_total", "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("composerp_api_request_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    res
}

/// Resolves the caller from `Authorization: Bearer …` or `X-Api-Key`. Credentials are checked
/// before any failure limit, so valid ones always pass; refusals are 401 (403 without a role)
/// problems and land in the audit log, or 429 without an audit row each once the address or the
/// presented identity fails too often. A 403 of a handler is audited too.
async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let address = peer.map_or_else(
        || "unknown".to_owned(),
        |peer| {
            let forwarded = req
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok());
            state.limits.proxies().client(peer, forwarded).to_string()
        },
    );
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::to_owned);
    let api_key = req
        .headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let result = match (&bearer, &api_key) {
        (Some(_), Some(_)) => Err(AuthError::Both),
        (Some(token), None) => state.auth.verify(token),
        (None, Some(key)) => api_key_principal(&state, key).await,
        (None, None) => Err(AuthError::Missing),
    };
    let p = match result {
        Ok(p) => p,
        Err(e) => {
            let identity = auth::presented_identity(bearer.as_deref(), api_key.as_deref());
            return refuse(&state, &req, &address, identity.as_deref(), e);
        }
    };
    if let Err(problem) = state.limits.check(&p) {
        tracing::info!(tenant = %p.tenant, "Rate limit exceeded.");
        return problem.into_response();
    }
    let (path, request_id) = (
        req.uri().path().to_owned(),
        audit::request_id(req.headers()),
    );
    req.extensions_mut().insert(p.clone());
    let res = next.run(req).await;
    if res.status() == StatusCode::FORBIDDEN {
        audit::refusal(
            &state.pool,
            audit::Refusal {
                tenant: p.tenant,
                actor: p.subject,
                action: "authorize",
                path,
                outcome: "forbidden".into(),
                request_id,
            },
        );
    }
    res
}

/// Answers refused credentials: audited 401/403 within the failure limits, 429 beyond them.
fn refuse(
    state: &AppState,
    req: &Request,
    address: &str,
    identity: Option<&str>,
    e: AuthError,
) -> Response {
    if let Some(retry_after) = state.limits.failed(address, identity) {
        metrics::counter!("composerp_api_audit_dropped_total", "reason" => "failure_limit")
            .increment(1);
        return Problem::too_many_requests(retry_after).into_response();
    }
    tracing::info!(path = %audit::cap(req.uri().path()).0, reason = %e, "Authentication refused.");
    audit::refusal(
        &state.pool,
        audit::Refusal {
            tenant: String::new(),
            actor: String::new(),
            action: "authenticate",
            path: req.uri().path().to_owned(),
            outcome: e.to_string(),
            request_id: audit::request_id(req.headers()),
        },
    );
    let problem = match e {
        AuthError::NoRole => Problem::forbidden(e.to_string()),
        _ => Problem::unauthorized(e.to_string()),
    };
    let mut res = problem.into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"composerp\""),
    );
    res
}

async fn api_key_principal(state: &AppState, key: &str) -> Result<Principal, AuthError> {
    let (id, secret) = auth::split_api_key(key).ok_or(AuthError::ApiKey)?;
    let failed = |e: sqlx::Error| {
        tracing::warn!(error = %e, "API key lookup failed.");
        AuthError::ApiKey
    };
    // In a transaction, since the statement is unnamed (the crate's "PgBouncer").
    let mut tx = state
        .pool
        .begin_with("BEGIN READ ONLY")
        .await
        .map_err(failed)?;
    let row: Option<(String, String, Vec<u8>)> =
        sqlx::query_as("SELECT tenant_id, role, secret_sha256 FROM auth.find_api_key($1)")
            .bind(id)
            .persistent(state.named)
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed)?;
    AppState::end_read(tx);
    let (tenant, role, hash) = row.ok_or(AuthError::ApiKey)?;
    if !auth::valid_tenant(&tenant) {
        return Err(AuthError::NoRole);
    }
    if !auth::api_key_matches(secret, &hash) {
        return Err(AuthError::ApiKey);
    }
    Ok(Principal {
        tenant,
        subject: format!("api-key:{id}"),
        role: Role::parse(&role).ok_or(AuthError::NoRole)?,
    })
}

/// Refuses a caller below `needed` with 403.
pub fn require(p: &Principal, needed: Role) -> Result<(), Problem> {
    if p.role >= needed {
        Ok(())
    } else {
        Err(Problem::forbidden(format!(
            "this needs the {needed:?} role; the caller has {:?}",
            p.role
        )))
    }
}
