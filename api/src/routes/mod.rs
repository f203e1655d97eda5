//! One module per resource; [`v1`] lists them all.

pub mod accuracy;
pub mod catalog;
pub mod features;
pub mod forecasts;
pub mod health;
pub mod ledger;
pub mod order_commands;
pub mod orders;
pub mod positions;
pub mod rules;
pub mod triggers;
pub mod writes;

use axum::Router;

use crate::AppState;

/// Every `/v1` route (authentication is layered on by the caller); a method a path does not
/// answer is a 405 problem.
pub fn v1() -> Router<AppState> {
    Router::new()
        .merge(positions::routes())
        .merge(ledger::routes())
        .merge(catalog::routes())
        .merge(rules::routes())
        .merge(orders::routes())
        .merge(order_commands::routes())
        .merge(triggers::routes())
        .merge(forecasts::routes())
        .merge(accuracy::routes())
        .merge(features::routes())
        .method_not_allowed_fallback(|| async { crate::problem::Problem::method_not_allowed() })
}
