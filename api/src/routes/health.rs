//! `/healthz` (the process answers) and `/readyz` (it can reach Postgres).

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

/// Postgres answers.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "Ready"),
    (status = 503, description = "Postgres unavailable", body = Problem, content_type = "application/problem+json")
))]
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, Problem> {
    sqlx::query("SELECT 1")
        .execute(&state.pool)
        .await
        .map_err(|_| Problem::unavailable("Postgres does not answer"))?;
    Ok("ready")
}
