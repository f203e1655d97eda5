//! The OpenAPI 3.1 document, generated from the handlers and served at `/openapi.json`; the
//! checked-in `api/openapi.json` must equal it (a test says how to refresh it).

use axum::{Json, Router, routing::get};
use utoipa::{
    Modify, OpenApi,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::{
    AppState,
    page::Page,
    problem::Problem,
    routes::{catalog, health, ledger, positions},
};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Composerp API", description = "Inventory positions, stock ledgers and master data of one tenant per caller."),
    paths(
        health::healthz, health::readyz,
        positions::list, positions::one, ledger::entries, ledger::low_stock,
        catalog::items, catalog::item, catalog::locations, catalog::location,
        catalog::suppliers, catalog::supplier,
    ),
    components(schemas(
        Problem,
        positions::Position, Page<positions::Position>,
        ledger::LedgerEntry, Page<ledger::LedgerEntry>,
        ledger::LowStockEvent, Page<ledger::LowStockEvent>,
        catalog::Item, Page<catalog::Item>,
        catalog::Location, Page<catalog::Location>,
        catalog::Supplier, Page<catalog::Supplier>,
    )),
    modifiers(&Security),
    tags((name = "positions"), (name = "catalog"), (name = "health")),
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
    }
}

/// The document as pretty JSON (what `api/openapi.json` holds).
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

/// `/openapi.json`, without authentication.
pub fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
