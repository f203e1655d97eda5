//! The OpenAPI 3.1 document, generated from the handlers and served at `/openapi.json`; the
//! checked-in `api/openapi.json` must equal it (a test says how to refresh it).

use axum::{Json, Router, routing::get};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        ContentBuilder, ObjectBuilder, Ref, ResponseBuilder, Type,
        schema::Object,
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::{
    AppState,
    page::Page,
    problem::Problem,
    routes::{
        accuracy, catalog, features, forecasts, health, ledger, order_commands, orders, positions,
        rules, triggers, writes,
    },
};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Composerp API", description = "Inventory positions, stock ledgers, master data, forecasts, replenishment triggers and purchase orders of one tenant per caller."),
    paths(
        health::healthz, health::readyz,
        positions::list, positions::one, ledger::entries, ledger::low_stock,
        catalog::items, catalog::item, catalog::locations, catalog::location,
        catalog::suppliers, catalog::supplier,
        writes::put_item, writes::put_location, writes::put_supplier,
        rules::list, rules::one, rules::put_rule,
        orders::list, orders::one, order_commands::approve, order_commands::cancel,
        order_commands::command,
        triggers::list, forecasts::list, forecasts::one,
        accuracy::list, accuracy::by_class, features::list, features::one,
    ),
    components(schemas(
        Problem,
        positions::Position, Page<positions::Position>,
        ledger::LedgerEntry, Page<ledger::LedgerEntry>,
        ledger::LowStockEvent, Page<ledger::LowStockEvent>,
        catalog::Item, Page<catalog::Item>,
        catalog::Location, Page<catalog::Location>,
        catalog::Supplier, Page<catalog::Supplier>,
        writes::ItemWrite, writes::LocationWrite, writes::SupplierWrite, writes::Accepted,
        rules::Rule, Page<rules::Rule>, rules::RuleWrite,
        orders::PurchaseOrder, Page<orders::PurchaseOrder>, orders::OrderLine,
        orders::PurchaseOrderDetail, order_commands::CancelWrite, order_commands::CommandAccepted,
        order_commands::CommandOutcome,
        triggers::Trigger, Page<triggers::Trigger>,
        forecasts::Forecast, Page<forecasts::Forecast>, forecasts::ForecastDay,
        forecasts::Accuracy, forecasts::ForecastDetail,
        accuracy::ItemAccuracy, Page<accuracy::ItemAccuracy>, accuracy::ClassAccuracy,
        features::DemandFeatures, Page<features::DemandFeatures>,
    )),
    modifiers(&Security),
    tags((name = "positions"), (name = "catalog"), (name = "replenishment"), (name = "forecasting"), (name = "health")),
)]
pub struct ApiDoc;

struct Security;

/// The refusals every `/v1` operation can answer with, as problem documents.
const REFUSALS: [(&str, &str); 5] = [
    ("400", "Malformed parameter"),
    ("401", "No valid credentials"),
    ("403", "The credentials lack the role"),
    ("404", "No such resource for this tenant"),
    ("429", "Rate limit exceeded; see Retry-After"),
];

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (path, item) in doc.paths.paths.iter_mut() {
            if !path.starts_with("/v1/") {
                continue;
            }
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                for (code, description) in REFUSALS {
                    op.responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(|| {
                            ResponseBuilder::new()
                                .description(description)
                                .content(
                                    "application/problem+json",
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name("Problem")))
                                        .build(),
                                )
                                .into()
                        });
                }
            }
        }
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

/// The symbols a string field takes, as an enum schema (the events' Avro enums are not
/// `ToSchema`, so each field names its list here).
fn symbols(values: &[&str]) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

/// `location_type`: STORE, WAREHOUSE or DC.
pub(crate) fn location_types() -> Object {
    symbols(&["STORE", "WAREHOUSE", "DC"])
}

/// `uom`: EACH, KILOGRAM, LITRE or METRE.
pub(crate) fn units() -> Object {
    symbols(&["EACH", "KILOGRAM", "LITRE", "METRE"])
}

/// `policy`: S_Q, S_S, R_S or MIN_MAX.
pub(crate) fn policies() -> Object {
    symbols(&["S_Q", "S_S", "R_S", "MIN_MAX"])
}

/// The document as pretty JSON (what `api/openapi.json` holds).
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

/// `/openapi.json`, without authentication.
pub fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
