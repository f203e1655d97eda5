//! `/healthz` (the process answers) and `/readyz` (it can reach Postgres). Both are public, so
//! readiness queries Postgres at most once a second; other probes get the last answer.

use axum::{Router, extract::State, routing::get};

use crate::{AppState, problem::Problem};

/// Health routes, without authentication.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "Up")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Postgres answers (checked at most once a second).
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "Ready"),
    (status = 503, description = "Postgres unavailable", body = Problem, content_type = "application/problem+json")
))]
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, Problem> {
    let ready = match state.limits.readiness_due() {
        Some(last) => last,
        None => {
            // The simple protocol prepares nothing, so it needs no transaction behind PgBouncer.
            let ok = sqlx::raw_sql("SELECT 1").execute(&state.pool).await.is_ok();
            state.limits.record_readiness(ok);
            ok
        }
    };
    if ready {
        Ok("ready")
    } else {
        Err(Problem::unavailable("Postgres does not answer"))
    }
}
