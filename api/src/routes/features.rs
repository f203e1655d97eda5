//! `/v1/demand-features`: each item-location's newest demand features (docs/domain.md, Demand
//! features), what replenishment and planners read while a forecast is young.

use axum::{Extension, Json, Router, extract::State, routing::get};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    auth::{Principal, Role},
    page::{Page, Params, Segments, by_location_item, decode_cursor, limit},
    problem::{ApiResult, Problem},
    require,
};

/// Demand feature routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/demand-features", get(list))
        .route("/v1/demand-features/{location_id}/{item_id}", get(one))
}

/// The newest demand features of one item-location.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct DemandFeatures {
    /// Location.
    pub location_id: String,
    /// Item.
    pub item_id: String,
    /// The local day the features are as of (the windows end on it).
    pub as_of_date: NaiveDate,
    /// IANA zone of the location's days.
    pub timezone: String,
    /// Gross units sold on the as-of day.
    pub demand: i64,
    /// The as-of day closed out of stock.
    pub censored: bool,
    /// Uncensored days in the 7-day window.
    pub days_7: i32,
    /// Units over the 7-day window.
    pub sum_7: f64,
    /// Mean over the 7-day window.
    pub mean_7: Option<f64>,
    /// Sample standard deviation over the 7-day window.
    pub std_7: Option<f64>,
    /// Uncensored days in the 28-day window.
    pub days_28: i32,
    /// Units over the 28-day window.
    pub sum_28: f64,
    /// Mean over the 28-day window.
    pub mean_28: Option<f64>,
    /// Sample standard deviation over the 28-day window.
    pub std_28: Option<f64>,
    /// Uncensored days in the 91-day window.
    pub days_91: i32,
    /// Units over the 91-day window.
    pub sum_91: f64,
    /// Mean over the 91-day window.
    pub mean_91: Option<f64>,
    /// Sample standard deviation over the 91-day window.
    pub std_91: Option<f64>,
    /// Share of the 28-day window's days without demand.
    pub zero_fraction_28: Option<f64>,
    /// Exponentially weighted mean of daily demand (λ 0.1).
    pub ewma: Option<f64>,
    /// Days since the last day with demand.
    pub days_since_last_sale: Option<i32>,
    /// Weekday mean / 91-day mean, Monday first.
    #[schema(value_type = Vec<f64>)]
    pub dow_profile: sqlx::types::Json<Vec<f64>>,
    /// Average demand interval (91 days).
    pub adi: Option<f64>,
    /// Squared coefficient of variation of the demand sizes (91 days).
    pub cv2: Option<f64>,
    /// SMOOTH, ERRATIC, INTERMITTENT, LUMPY or NO_DEMAND.
    pub demand_class: String,
    /// Censored days in the 91-day window.
    pub censored_days_91: i32,
    /// Days of history kept.
    pub history_days: i32,
    /// When the as-of day ended.
    pub occurred_at: DateTime<Utc>,
}

const COLUMNS: &str = "location_id, item_id, as_of_date, timezone, demand, censored, days_7, \
    sum_7, mean_7, std_7, days_28, sum_28, mean_28, std_28, days_91, sum_91, mean_91, std_91, \
    zero_fraction_28, ewma, days_since_last_sale, dow_profile, adi, cv2, demand_class, \
    censored_days_91, history_days, occurred_at";

/// Filters of the features list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeatureParams {
    /// Only this location.
    pub location_id: Option<String>,
    /// Only this item.
    pub item_id: Option<String>,
    /// Only this demand class.
    pub demand_class: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The newest demand features of each item-location of the caller's tenant.
#[utoipa::path(get, path = "/v1/demand-features", tag = "forecasting", params(FeatureParams),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "One page", body = Page<DemandFeatures>)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Params(q): Params<FeatureParams>,
) -> ApiResult<Json<Page<DemandFeatures>>> {
    require(&p, Role::Viewer)?;
    let limit = limit(q.limit)?;
    let after: Option<(String, String)> = decode_cursor(q.cursor.as_deref())?;
    let mut sql = QueryBuilder::<Postgres>::new(format!(
        "SELECT {COLUMNS} FROM forecasting.demand_features WHERE tenant_id = "
    ));
    sql.push_bind(&p.tenant);
    for (column, value) in [
        ("location_id", &q.location_id),
        ("item_id", &q.item_id),
        ("demand_class", &q.demand_class),
    ] {
        if let Some(v) = value {
            sql.push(format!(" AND {column} = ")).push_bind(v);
        }
    }
    by_location_item(&mut sql, &p.tenant, after, limit);
    let mut tx = state.tenant_tx(&p.tenant).await?;
    let rows: Vec<DemandFeatures> = sql
        .build_query_as()
        .persistent(state.named)
        .fetch_all(&mut *tx)
        .await?;
    AppState::end_read(tx);
    Ok(Json(Page::of(rows, limit, |r| {
        (r.location_id.clone(), r.item_id.clone())
    })))
}

/// The newest demand features of one item-location.
#[utoipa::path(get, path = "/v1/demand-features/{location_id}/{item_id}", tag = "forecasting",
    params(("location_id" = String, Path, description = "Location"), ("item_id" = String, Path, description = "Item")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The features", body = DemandFeatures)))]
pub async fn one(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Segments((location_id, item_id)): Segments<(String, String)>,
) -> ApiResult<Json<DemandFeatures>> {
    require(&p, Role::Viewer)?;
    let mut tx = state.tenant_tx(&p.tenant).await?;
    let row: Option<DemandFeatures> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM forecasting.demand_features \
         WHERE tenant_id = $1 AND location_id = $2 AND item_id = $3"
    ))
    .bind(&p.tenant)
    .bind(&location_id)
    .bind(&item_id)
    .persistent(state.named)
    .fetch_optional(&mut *tx)
    .await?;
    AppState::end_read(tx);
    row.map(Json).ok_or_else(|| {
        Problem::not_found(format!(
            "no demand features for item {item_id} at {location_id}"
        ))
    })
}
