//! `/v1/forecasts`: the newest forecast of each item-location, and one forecast's days next to
//! the actual sales with the accuracy of the days that have ended.

use axum::{Extension, Json, Router, extract::State, routing::get};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    AppState,
    auth::{Principal, Role},
    page::{Page, Params, Segments, by_location_item, decode_cursor, limit},
    problem::{ApiResult, Problem},
    require,
};

/// Forecast routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/forecasts", get(list))
        .route("/v1/forecasts/{location_id}/{item_id}", get(one))
}

/// A forecast run of one item-location.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Forecast {
    /// Location.
    pub location_id: String,
    /// Item.
    pub item_id: String,
    /// Id of the forecast run.
    pub forecast_id: Uuid,
    /// Last day of history used.
    pub as_of_date: NaiveDate,
    /// MOVING_AVERAGE, SES, SEASONAL_NAIVE, HOLT_WINTERS, CROSTON, SBA or TSB.
    pub model: String,
    /// Model parameters (JSON text).
    pub model_params: String,
    /// SMOOTH, ERRATIC, INTERMITTENT, LUMPY or NO_DEMAND.
    pub demand_class: String,
    /// Interval level in percent.
    pub interval_level: Option<i32>,
    /// 0 as generated, then the revision number.
    pub revision: i32,
    /// Why it was revised.
    pub reason: Option<String>,
    /// When it was produced.
    pub occurred_at: DateTime<Utc>,
}

const COLUMNS: &str = "location_id, item_id, forecast_id, as_of_date, model, model_params, \
    demand_class, interval_level, revision, reason, occurred_at";

/// Filters of the forecast list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ForecastParams {
    /// Only this location.
    pub location_id: Option<String>,
    /// Only this item.
    pub item_id: Option<String>,
    /// Only this model.
    pub model: Option<String>,
    /// Rows per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The newest forecast of each item-location of the caller's tenant, by location then item.
#[utoipa::path(get, path = "/v1/forecasts", tag = "forecasting", params(ForecastParams),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "One page", body = Page<Forecast>)))]
pub async fn list(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Params(q): Params<ForecastParams>,
) -> ApiResult<Json<Page<Forecast>>> {
    require(&p, Role::Viewer)?;
    let limit = limit(q.limit)?;
    let after: Option<(String, String)> = decode_cursor(q.cursor.as_deref())?;
    let mut sql = QueryBuilder::<Postgres>::new(format!(
        "SELECT {COLUMNS} FROM (SELECT DISTINCT ON (location_id, item_id) tenant_id, {COLUMNS} \
         FROM forecasting.forecasts WHERE tenant_id = "
    ));
    sql.push_bind(&p.tenant);
    for (column, value) in [("location_id", &q.location_id), ("item_id", &q.item_id)] {
        if let Some(v) = value {
            sql.push(format!(" AND {column} = ")).push_bind(v);
        }
    }
    sql.push(
        " ORDER BY location_id, item_id, as_of_date DESC, occurred_at DESC) newest \
         WHERE true",
    );
    if let Some(m) = &q.model {
        sql.push(" AND model = ").push_bind(m);
    }
    by_location_item(&mut sql, &p.tenant, after, limit);
    let mut tx = state.tenant_tx(&p.tenant).await?;
    let rows: Vec<Forecast> = sql
        .build_query_as()
        .persistent(state.named)
        .fetch_all(&mut *tx)
        .await?;
    AppState::end_read(tx);
    Ok(Json(Page::of(rows, limit, |r| {
        (r.location_id.clone(), r.item_id.clone())
    })))
}

/// One forecast day next to what was sold.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct ForecastDay {
    /// Local day of the location.
    pub date: NaiveDate,
    /// Forecast units.
    pub forecast: f64,
    /// Lower interval bound.
    pub lower: Option<f64>,
    /// Upper interval bound.
    pub upper: Option<f64>,
    /// Gross sale units of that day; null until the day has ended.
    pub actual: Option<i64>,
}

/// Accuracy of the ended forecast days, e = actual − forecast (docs/domain.md, Forecast accuracy).
#[derive(Debug, Serialize, ToSchema)]
pub struct Accuracy {
    /// Days that have ended.
    pub days: usize,
    /// Mean absolute error.
    pub mae: Option<f64>,
    /// Root mean squared error.
    pub rmse: Option<f64>,
    /// Mean of forecast − actual (positive = over-forecast).
    pub bias: Option<f64>,
    /// Σ|e| / Σ actual; null when nothing was sold.
    pub wape: Option<f64>,
}

impl Accuracy {
    /// The metrics of the days with an actual.
    pub fn of(days: &[ForecastDay]) -> Self {
        let pairs: Vec<(f64, f64)> = days
            .iter()
            .filter_map(|d| d.actual.map(|a| (a as f64, d.forecast)))
            .collect();
        let n = pairs.len() as f64;
        if pairs.is_empty() {
            return Accuracy {
                days: 0,
                mae: None,
                rmse: None,
                bias: None,
                wape: None,
            };
        }
        let abs: f64 = pairs.iter().map(|(y, f)| (y - f).abs()).sum();
        let sq: f64 = pairs.iter().map(|(y, f)| (y - f).powi(2)).sum();
        let over: f64 = pairs.iter().map(|(y, f)| f - y).sum();
        let sold: f64 = pairs.iter().map(|(y, _)| y.abs()).sum();
        Accuracy {
            days: pairs.len(),
            mae: Some(abs / n),
            rmse: Some((sq / n).sqrt()),
            bias: Some(over / n),
            wape: (sold > 0.0).then(|| abs / sold),
        }
    }
}

/// A forecast with its days and accuracy so far.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastDetail {
    /// The forecast run.
    #[serde(flatten)]
    pub forecast: Forecast,
    /// Its days in order.
    pub days: Vec<ForecastDay>,
    /// Accuracy of the days that have ended.
    pub accuracy: Accuracy,
}

/// Which forecast of the item-location.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ForecastOneParams {
    /// A forecast run; the newest when absent.
    pub forecast_id: Option<Uuid>,
}

/// The newest (or a given) forecast of one item-location, with actual sales and accuracy.
#[utoipa::path(get, path = "/v1/forecasts/{location_id}/{item_id}", tag = "forecasting",
    params(("location_id" = String, Path, description = "Location"), ("item_id" = String, Path, description = "Item"), ForecastOneParams),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The forecast", body = ForecastDetail)))]
pub async fn one(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Segments((location_id, item_id)): Segments<(String, String)>,
    Params(q): Params<ForecastOneParams>,
) -> ApiResult<Json<ForecastDetail>> {
    require(&p, Role::Viewer)?;
    let mut tx = state.tenant_tx(&p.tenant).await?;
    let forecast: Option<Forecast> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM forecasting.forecasts \
         WHERE tenant_id = $1 AND location_id = $2 AND item_id = $3 \
           AND ($4::uuid IS NULL OR forecast_id = $4) \
         ORDER BY as_of_date DESC, occurred_at DESC LIMIT 1"
    ))
    .bind(&p.tenant)
    .bind(&location_id)
    .bind(&item_id)
    .bind(q.forecast_id)
    .persistent(state.named)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(forecast) = forecast else {
        return Err(Problem::not_found(format!(
            "no forecast for item {item_id} at {location_id}"
        )));
    };
    let days: Vec<ForecastDay> = sqlx::query_as(
        "SELECT date, forecast, lower, upper, actual FROM bi.forecast_vs_actual \
         WHERE tenant_id = $1 AND location_id = $2 AND item_id = $3 AND forecast_id = $4 \
         ORDER BY date",
    )
    .bind(&p.tenant)
    .bind(&location_id)
    .bind(&item_id)
    .bind(forecast.forecast_id)
    .persistent(state.named)
    .fetch_all(&mut *tx)
    .await?;
    AppState::end_read(tx);
    let accuracy = Accuracy::of(&days);
    Ok(Json(ForecastDetail {
        forecast,
        days,
        accuracy,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(forecast: f64, actual: Option<i64>) -> ForecastDay {
        ForecastDay {
            date: NaiveDate::default(),
            forecast,
            lower: None,
            upper: None,
            actual,
        }
    }

    #[test]
    fn accuracy_follows_the_domain_definitions() {
        // e = y − ŷ: (4 − 2) = 2, (0 − 1) = −1, (2 − 2) = 0; the open day is left out.
        let a = Accuracy::of(&[
            day(2.0, Some(4)),
            day(1.0, Some(0)),
            day(2.0, Some(2)),
            day(5.0, None),
        ]);
        assert_eq!(a.days, 3);
        assert_eq!(a.mae, Some(1.0));
        assert_eq!(a.rmse, Some((5.0f64 / 3.0).sqrt()));
        assert_eq!(a.bias, Some(-1.0 / 3.0));
        assert_eq!(a.wape, Some(0.5));
        let none = Accuracy::of(&[day(1.0, Some(0))]);
        assert_eq!((none.wape, none.mae), (None, Some(1.0)));
    }
}
