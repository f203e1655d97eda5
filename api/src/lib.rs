//! Composerp's read API: the sink tables over HTTP, one tenant per caller.
//!
//! - [`auth`]: bearer JWTs and API keys → a [`Principal`](auth::Principal) (tenant, role).
//! - [`limit`]: rate limits per caller and per tenant (429 with Retry-After).
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

pub mod auth;
pub mod limit;
pub mod openapi;
pub mod page;
pub mod problem;
pub mod publish;
pub mod routes;

use std::{net::SocketAddr, sync::Arc, time::Instant};

use axum::{
    Router,
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::header,
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
    /// Ends a transaction of [`AppState::tenant_tx`] without waiting for the server: nothing
    /// was written, so its rollback is as good as a commit, and sqlx queues it on the
    /// connection, to be flushed when the pool takes the connection back, so the response does
    /// not wait one more round trip.
    pub fn end_read(tx: Transaction<'static, Postgres>) {
        drop(tx);
    }
}

/// The API: `/v1` behind authentication, health and the OpenAPI document without. Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so failed authentications are limited
/// per client address (without it, all clients share one address budget).
pub fn router(state: AppState) -> Router {
    let v1 = routes::v1().layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .merge(v1)
        .merge(routes::health::routes())
        .merge(openapi::routes())
        .fallback(|| async { Problem::not_found("no such endpoint") })
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
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
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

/// Resolves the caller from `Authorization: Bearer …` or `X-Api-Key`; refusals are 401 problems
/// and land in the audit log.
async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let address = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string());
    if let Err(problem) = state.limits.check_address(&address) {
        return problem.into_response();
    }
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
    let result = match (bearer, api_key) {
        (Some(_), Some(_)) => Err(AuthError::Both),
        (Some(token), None) => state.auth.verify(&token),
        (None, Some(key)) => api_key_principal(&state.pool, &key).await,
        (None, None) => Err(AuthError::Missing),
    };
    match result {
        Ok(p) => {
            if let Err(problem) = state.limits.check(&p) {
                tracing::info!(tenant = %p.tenant, "Rate limit exceeded.");
                return problem.into_response();
            }
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(e) => {
            let request_id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            state.limits.failed(&address);
            audit_failure(&state.pool, req.uri().path(), &e, request_id);
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
    }
}

async fn api_key_principal(pool: &PgPool, key: &str) -> Result<Principal, AuthError> {
    let (id, secret) = auth::split_api_key(key).ok_or(AuthError::ApiKey)?;
    let row: Option<(String, String, Vec<u8>)> =
        sqlx::query_as("SELECT tenant_id, role, secret_sha256 FROM auth.find_api_key($1)")
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "API key lookup failed.");
                AuthError::ApiKey
            })?;
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

/// Appends an authentication failure to the audit log, off the request path.
fn audit_failure(pool: &PgPool, path: &str, e: &AuthError, request_id: Option<String>) {
    tracing::info!(path, reason = %e, "Authentication refused.");
    let (pool, path, outcome) = (pool.clone(), path.to_owned(), e.to_string());
    tokio::spawn(async move {
        let r = sqlx::query(
            "INSERT INTO audit.audit_log (tenant_id, actor, action, resource, outcome, request_id) \
             VALUES ('', '', 'authenticate', $1, $2, $3)",
        )
        .bind(path)
        .bind(outcome)
        .bind(request_id)
        .execute(&pool)
        .await;
        if let Err(e) = r {
            tracing::warn!(error = %e, "Audit log write failed.");
        }
    });
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
