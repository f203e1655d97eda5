//! `/v1/forecast-accuracy`: each item-location's rolling one-day-ahead forecast accuracy next to
//! the seasonal naive baseline on the same days, and the sales-weighted summary per demand class
//! that tells a planner whether the models add value over naive.

use axum::{Extension, Json, Router, extract::State, routing::get};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};

use crate::{
    AppState,
    auth::{Principal, Role},
    page::{Page, Params, by_location_item, decode_cursor, limit},
    problem::ApiResult,
    require,
};

/// Accuracy routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/forecast-accuracy", get(list))
        .route("/v1/forecast-accuracy/by-class", get(by_class))
}

/// Rolling accuracy of one item-location (docs/domain.md, Forecast accuracy).
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct ItemAccuracy {
    /// Location.
    pub location_id: String,
    /// Item.
    pub item_id: String,
    /// The local day whose actual closed last.
    pub as_of_date: NaiveDate,
    /// Model of the forecasts scored.
    pub model: String,
    /// SMOOTH, ERRATIC, INTERMITTENT, LUMPY or NO_DEMAND.
    pub demand_class: String,
    /// Length of the rolling window in days.
    pub window_days: i32,
    /// Days scored (uncensored, with a forecast).
    pub days: i32,
    /// Units sold on the scored days.
    pub actual: f64,
    /// Mean absolute error.
    pub mae: Option<f64>,
    /// Root mean squared error.
    pub rmse: Option<f64>,
    /// Mean of forecast − actual (positive = over-forecast).
    pub bias: Option<f64>,
    /// Σ|e| / Σ actual; null when nothing was sold.
    pub wape: Option<f64>,
    /// MAE over the in-sample seasonal (or naive) MAE.
    pub mase: Option<f64>,
    /// RMSE over the in-sample naive RMSE.
    pub rmsse: Option<f64>,
    /// Seasonal naive MAE on the same days.
    pub baseline_mae: Option<f64>,
    /// Seasonal naive RMSE on the same days.
    pub baseline_rmse: Option<f64>,
    /// Seasonal naive bias on the same days.
    pub baseline_bias: Option<f64>,
    /// Seasonal naive WAPE on the same days.
    pub baseline_wape: Option<f64>,
    /// Seasonal naive MASE on the same days.
    pub baseline_mase: Option<f64>,
    /// Seasonal naive RMSSE on the same days.
    pub baseline_rmsse: Option<f64>,
    /// Season of the MASE scale: 7, or 1 under two weeks of history.
    pub mase_m: i32,
    /// The MASE scale.
    pub mase_scale: Option<f64>,
    /// The RMSSE scale.
    pub rmsse_scale: Option<f64>,
    /// When the newest scored day closed.
    pub occurred_at: DateTime<Utc>,
}

const COLUMNS: &str = "location_id, item_id, as_of_date, model, demand_class, window_days, \
    days, actual, mae, rmse, bias, wape, mase, rmsse, baseline_mae, baseline_rmse, \
    baseline_bias, baseline_wape, baseline_mase, baseline_rmsse, mase_m, mase_scale, \
    rmsse_scale, occurred_at";

/// Filters of the accuracy list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccuracyParams {
    /// Only this location.
    pub location_id: Option<String>,
    /// Only this item.
    pub item_id: Option<String>,
    /// Only this demand class.
    pub demand_class: Option<String>,
    /// Only this model.
    pub model: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Rolling forecast accuracy of each item-location of the caller's tenant, by location then item.
#[utoipa::path(get, path = "/v1/forecast-accuracy", tag = "forecasting", params(AccuracyParams),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "One page", body = Page<ItemAccuracy>)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Params(q): Params<AccuracyParams>,
) -> ApiResult<Json<Page<ItemAccuracy>>> {
    require(&p, Role::Viewer)?;
    let limit = limit(q.limit)?;
    let after: Option<(String, String)> = decode_cursor(q.cursor.as_deref())?;
    let mut sql = QueryBuilder::<Postgres>::new(format!(
        "SELECT {COLUMNS} FROM forecasting.accuracy WHERE tenant_id = "
    ));
    sql.push_bind(&p.tenant);
    for (column, value) in [
        ("location_id", &q.location_id),
        ("item_id", &q.item_id),
        ("demand_class", &q.demand_class),
        ("model", &q.model),
    ] {
        if let Some(v) = value {
            sql.push(format!(" AND {column} = ")).push_bind(v);
        }
    }
    by_location_item(&mut sql, &p.tenant, after, limit);
    let mut tx = state.tenant_tx(&p.tenant).await?;
    let rows: Vec<ItemAccuracy> = sql
        .build_query_as()
        .persistent(state.named)
        .fetch_all(&mut *tx)
        .await?;
    AppState::end_read(tx);
    Ok(Json(Page::of(rows, limit, |r| {
        (r.location_id.clone(), r.item_id.clone())
    })))
}

/// Sales-weighted accuracy of one demand class, next to seasonal naive.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct ClassAccuracy {
    /// SMOOTH, ERRATIC, INTERMITTENT, LUMPY or NO_DEMAND.
    pub demand_class: String,
    /// Item-locations scored.
    pub item_locations: i64,
    /// Units sold on the scored days.
    pub actual: Option<f64>,
    /// Σ|e| / Σ actual of the models' forecasts.
    pub wape: Option<f64>,
    /// Σ|e| / Σ actual of seasonal naive on the same days.
    pub baseline_wape: Option<f64>,
}

/// WAPE per demand class of the caller's tenant, for the models and for seasonal naive.
#[utoipa::path(get, path = "/v1/forecast-accuracy/by-class", tag = "forecasting",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "One row per demand class", body = Vec<ClassAccuracy>)))]
pub async fn by_class(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Vec<ClassAccuracy>>> {
    require(&p, Role::Viewer)?;
    let mut tx = state.tenant_tx(&p.tenant).await?;
    let rows: Vec<ClassAccuracy> = sqlx::query_as(
        "SELECT demand_class, item_locations, actual, wape, baseline_wape \
         FROM bi.forecast_accuracy_by_class WHERE tenant_id = $1 ORDER BY demand_class",
    )
    .bind(&p.tenant)
    .persistent(state.named)
    .fetch_all(&mut *tx)
    .await?;
    AppState::end_read(tx);
    Ok(Json(rows))
}
