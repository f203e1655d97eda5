//! Writes of planners: items, locations and suppliers (routed with their reads in
//! [`super::catalog`]). Each is validated (custom
//! attributes against the tenant's JSON Schema for the entity), published as an event, and
//! audited; the sinks materialize it, so a read shows it a moment later.

use axum::{
    Extension, Json,
    extract::{FromRequest, Request, State},
    http::{HeaderMap, StatusCode},
};
use chrono_tz::Tz;
use composerp_events::{
    EventId, Money, Timestamp,
    catalog::{Item, Location, LocationType, Supplier, UnitOfMeasure},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use utoipa::ToSchema;

use crate::{
    AppState,
    audit::{self, Recorded},
    auth::{Principal, Role},
    page::Segments,
    problem::{ApiResult, Problem},
    require,
};

/// A JSON body; a malformed one is a 400 problem, a missing JSON content type a 415.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::JsonRejection as J;
        match Json::<T>::from_request(req, state).await {
            Ok(Json(t)) => Ok(Body(t)),
            Err(J::MissingJsonContentType(e)) => {
                Err(Problem::unsupported_media_type(e.body_text()))
            }
            Err(e) => Err(Problem::bad_request(e.body_text())),
        }
    }
}

/// What a write answers: the event it became.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Id of the published event.
    pub event_id: uuid::Uuid,
    /// Always `accepted`: the tables show it once the sink has written it.
    pub status: &'static str,
}

fn text(field: &str, v: &str, max: usize) -> Result<(), Problem> {
    if v.trim().is_empty() || v.chars().count() > max || v.contains('\0') {
        return Err(
            Problem::unprocessable(format!("{field} must be 1 to {max} characters"))
                .at(format!("/{field}")),
        );
    }
    Ok(())
}

/// Checks an id from the path or body: 1 to 64 of `[A-Za-z0-9._-]`.
pub(crate) fn id(field: &str, v: &str) -> Result<(), Problem> {
    let ok = (1..=64).contains(&v.len())
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c));
    if !ok {
        return Err(
            Problem::unprocessable(format!("{field} must be 1 to 64 of [A-Za-z0-9._-]"))
                .at(field.to_owned()),
        );
    }
    Ok(())
}

/// Checks custom attributes: a JSON object valid against the tenant's schema for `entity`
/// (`catalog.tenants.attribute_schemas`), if it has one. Returns them as JSON text.
pub(crate) async fn attributes(
    state: &AppState,
    p: &Principal,
    entity: &str,
    value: Option<serde_json::Value>,
) -> Result<Option<String>, Problem> {
    let Some(value) = value else {
        return Ok(None);
    };
    if !value.is_object() {
        return Err(Problem::unprocessable("attributes must be a JSON object").at("/attributes"));
    }
    let mut tx = state.tenant_tx(&p.tenant).await?;
    let schema: Option<serde_json::Value> = sqlx::query_scalar(
        "SELECT attribute_schemas -> $2 FROM catalog.tenants WHERE tenant_id = $1",
    )
    .bind(&p.tenant)
    .bind(entity)
    .persistent(state.named)
    .fetch_optional(&mut *tx)
    .await?
    .flatten();
    AppState::end_read(tx);
    if let Some(schema) = schema {
        let validator = jsonschema::validator_for(&schema).map_err(|e| {
            tracing::error!(error = %e, tenant = %p.tenant, entity, "Tenant attribute schema is invalid.");
            Problem::unprocessable("the tenant's attribute schema is invalid; ask an administrator")
        })?;
        if let Some(e) = validator.iter_errors(&value).next() {
            return Err(Problem::unprocessable(format!("attributes: {e}"))
                .at(format!("/attributes{}", e.instance_path())));
        }
    }
    Ok(Some(value.to_string()))
}

/// Publishes a create-or-replace, audits it and answers 202.
pub(crate) async fn accept<E: composerp_events::Event>(
    state: &AppState,
    p: &Principal,
    headers: &HeaderMap,
    topic: &str,
    resource: String,
    event: E,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    accept_as(state, p, headers, "put", topic, resource, event).await
}

/// Publishes the event of `action` on `resource`, audits it and answers 202.
pub(crate) async fn accept_as<E: composerp_events::Event>(
    state: &AppState,
    p: &Principal,
    headers: &HeaderMap,
    action: &str,
    topic: &str,
    resource: String,
    event: E,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    publish_audited(
        state,
        p,
        headers,
        (action, resource.as_str()),
        topic,
        &event,
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            event_id: event.event_id().0,
            status: "accepted",
        }),
    ))
}

/// Records the write (`action` on `resource`) in the audit log with its event id and commits,
/// then publishes `event` to `topic` and appends its acknowledgement: a published write is
/// always in the log, and a keyed retry of an acknowledged one publishes nothing again.
pub(crate) async fn publish_audited<E: composerp_events::Event>(
    state: &AppState,
    p: &Principal,
    headers: &HeaderMap,
    (action, resource): (&str, &str),
    topic: &str,
    event: &E,
) -> Result<(), Problem> {
    let events = state.events.as_ref().ok_or_else(Problem::writes_disabled)?;
    let w = audit::Write {
        p,
        action,
        resource,
        event_id: event.event_id(),
    };
    if audit::record(state, w, headers).await? == Recorded::Accepted {
        tracing::info!(tenant = %p.tenant, actor = %p.subject, action, resource, "Write repeated.");
        return Ok(());
    }
    events.publish(topic, event).await?;
    audit::accepted(state, w, headers).await?;
    tracing::info!(tenant = %p.tenant, actor = %p.subject, action, resource, "Write accepted.");
    Ok(())
}

/// The event id of a write of `resource` (derived from `Idempotency-Key` when one is sent, so a
/// retry names the same event) and the current instant.
pub(crate) fn envelope(
    headers: &HeaderMap,
    p: &Principal,
    resource: &str,
) -> Result<(EventId, Timestamp), Problem> {
    let (id, _) = audit::event_id(headers, p, ("write", resource, "put"))?;
    Ok((id, Timestamp::now()))
}

/// An item as a planner writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemWrite {
    /// Stock keeping unit.
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    pub sku: String,
    /// Name.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// Category.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub category: Option<String>,
    /// EACH, KILOGRAM, LITRE or METRE.
    #[schema(schema_with = crate::openapi::units)]
    pub uom: UnitOfMeasure,
    /// Standard cost, decimal text with up to 4 places.
    #[schema(pattern = r"^[+-]?[0-9]{1,14}(\.[0-9]{1,4})?$")]
    pub standard_cost: Option<String>,
    /// Sold and replenished (default true).
    pub active: Option<bool>,
    /// Custom attributes, checked against the tenant's schema for `item`.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
}

/// Creates or replaces an item (planner).
#[utoipa::path(put, path = "/v1/items/{item_id}", tag = "catalog",
    params(("item_id" = String, Path, description = "Item", pattern = "^[A-Za-z0-9._-]{1,64}$"),
           ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key names the same event and publishes nothing again once accepted")),
    request_body = ItemWrite,
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 202, description = "Published", body = Accepted),
              (status = 422, description = "A value breaks a rule", body = Problem, content_type = "application/problem+json")))]
pub async fn put_item(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Segments(item_id): Segments<String>,
    Body(w): Body<ItemWrite>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    require(&p, Role::Planner)?;
    id("item_id", &item_id)?;
    text("sku", &w.sku, 64)?;
    text("name", &w.name, 200)?;
    if let Some(c) = &w.category {
        text("category", c, 100)?;
    }
    let standard_cost = w
        .standard_cost
        .as_deref()
        .map(str::parse::<Money>)
        .transpose()
        .map_err(|e| Problem::unprocessable(e.to_string()).at("/standard_cost"))?;
    let attributes = attributes(&s, &p, "item", w.attributes).await?;
    let (event_id, now) = envelope(&headers, &p, &format!("items/{item_id}"))?;
    let item = Item {
        event_id,
        tenant_id: p.tenant.clone(),
        occurred_at: now,
        produced_at: now,
        source: "composerp-api".into(),
        item_id: item_id.clone(),
        sku: w.sku,
        name: w.name,
        category: w.category,
        uom: w.uom,
        uom_scale: 0,
        standard_cost,
        active: w.active.unwrap_or(true),
        attributes,
    };
    accept(
        &s,
        &p,
        &headers,
        "catalog.items",
        format!("items/{item_id}"),
        item,
    )
    .await
}

/// A location as a planner writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationWrite {
    /// Name.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// STORE, WAREHOUSE or DC.
    #[schema(schema_with = crate::openapi::location_types)]
    pub location_type: LocationType,
    /// IANA time zone, e.g. Europe/Berlin.
    #[schema(min_length = 1, max_length = 64)]
    pub timezone: String,
    /// In operation (default true).
    pub active: Option<bool>,
    /// Custom attributes, checked against the tenant's schema for `location`.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
}

/// Creates or replaces a location (planner).
#[utoipa::path(put, path = "/v1/locations/{location_id}", tag = "catalog",
    params(("location_id" = String, Path, description = "Location", pattern = "^[A-Za-z0-9._-]{1,64}$"),
           ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key names the same event and publishes nothing again once accepted")),
    request_body = LocationWrite,
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 202, description = "Published", body = Accepted),
              (status = 422, description = "A value breaks a rule", body = Problem, content_type = "application/problem+json")))]
pub async fn put_location(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Segments(location_id): Segments<String>,
    Body(w): Body<LocationWrite>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    require(&p, Role::Planner)?;
    id("location_id", &location_id)?;
    text("name", &w.name, 200)?;
    if w.timezone.parse::<Tz>().is_err() {
        return Err(
            Problem::unprocessable(format!("{:?} is not an IANA time zone", w.timezone))
                .at("/timezone"),
        );
    }
    let attributes = attributes(&s, &p, "location", w.attributes).await?;
    let (event_id, now) = envelope(&headers, &p, &format!("locations/{location_id}"))?;
    let location = Location {
        event_id,
        tenant_id: p.tenant.clone(),
        occurred_at: now,
        produced_at: now,
        source: "composerp-api".into(),
        location_id: location_id.clone(),
        name: w.name,
        location_type: w.location_type,
        timezone: w.timezone,
        active: w.active.unwrap_or(true),
        attributes,
    };
    accept(
        &s,
        &p,
        &headers,
        "catalog.locations",
        format!("locations/{location_id}"),
        location,
    )
    .await
}

/// A supplier as a planner writes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplierWrite {
    /// Name.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// Contact email (personal data: never logged).
    #[schema(max_length = 254, pattern = "@")]
    pub contact_email: Option<String>,
    /// Contact phone (personal data: never logged).
    #[schema(min_length = 1, max_length = 40, pattern = r"\S")]
    pub contact_phone: Option<String>,
    /// ISO 4217 currency of its prices, e.g. EUR.
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// Orderable (default true).
    pub active: Option<bool>,
    /// Custom attributes, checked against the tenant's schema for `supplier`.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
}

/// Creates or replaces a supplier (planner).
#[utoipa::path(put, path = "/v1/suppliers/{supplier_id}", tag = "catalog",
    params(("supplier_id" = String, Path, description = "Supplier", pattern = "^[A-Za-z0-9._-]{1,64}$"),
           ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key names the same event and publishes nothing again once accepted")),
    request_body = SupplierWrite,
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 202, description = "Published", body = Accepted),
              (status = 422, description = "A value breaks a rule", body = Problem, content_type = "application/problem+json")))]
pub async fn put_supplier(
    State(s): State<AppState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Segments(supplier_id): Segments<String>,
    Body(w): Body<SupplierWrite>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    require(&p, Role::Planner)?;
    id("supplier_id", &supplier_id)?;
    text("name", &w.name, 200)?;
    if w.currency.len() != 3 || !w.currency.bytes().all(|c| c.is_ascii_uppercase()) {
        return Err(
            Problem::unprocessable("currency must be an ISO 4217 code like EUR").at("/currency"),
        );
    }
    if let Some(e) = &w.contact_email
        && (e.len() > 254 || !e.contains('@') || e.contains('\0'))
    {
        return Err(
            Problem::unprocessable("contact_email is not an email address").at("/contact_email"),
        );
    }
    if let Some(phone) = &w.contact_phone {
        text("contact_phone", phone, 40)?;
    }
    let attributes = attributes(&s, &p, "supplier", w.attributes).await?;
    let (event_id, now) = envelope(&headers, &p, &format!("suppliers/{supplier_id}"))?;
    let supplier = Supplier {
        event_id,
        tenant_id: p.tenant.clone(),
        occurred_at: now,
        produced_at: now,
        source: "composerp-api".into(),
        supplier_id: supplier_id.clone(),
        name: w.name,
        contact_email: w.contact_email,
        contact_phone: w.contact_phone,
        currency: w.currency,
        active: w.active.unwrap_or(true),
        attributes,
    };
    accept(
        &s,
        &p,
        &headers,
        "catalog.suppliers",
        format!("suppliers/{supplier_id}"),
        supplier,
    )
    .await
}
