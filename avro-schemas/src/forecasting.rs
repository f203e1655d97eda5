//! Forecast records (`composerp.forecasting.v1`).

use serde::{Deserialize, Serialize};

use crate::{
    Date, EventId,
    event::{avro_enum, event},
};

avro_enum! {
    /// Syntetos-Boylan-Croston demand class.
    DemandClass { SMOOTH, ERRATIC, INTERMITTENT, LUMPY, NO_DEMAND }
}

avro_enum! {
    /// Forecast model.
    ForecastModel { MOVING_AVERAGE, SES, SEASONAL_NAIVE, HOLT_WINTERS, CROSTON, SBA, TSB }
}

/// Forecast for one local day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastPoint {
    /// Local day.
    pub date: Date,
    /// Point forecast of demand units.
    pub mean: f64,
    /// Lower interval bound, floored at 0.
    #[serde(default)]
    pub lower: Option<f64>,
    /// Upper interval bound.
    #[serde(default)]
    pub upper: Option<f64>,
}

event! {
    /// A new forecast for one item-location (FORECAST_GENERATED).
    ForecastGenerated = "composerp.forecasting.v1.ForecastGenerated", key(location = location_id) {
        /// Location; part of the key.
        location_id: String,
        /// Item.
        item_id: String,
        /// Stable id of the forecast run.
        forecast_id: EventId,
        /// Last day of history used.
        as_of_date: Date,
        /// Model used.
        model: ForecastModel,
        /// Model parameters as JSON.
        model_params: String,
        /// Demand class.
        demand_class: DemandClass,
        /// Interval level in percent.
        #[serde(default)]
        interval_level: Option<i32>,
        /// Daily forecasts.
        points: Vec<ForecastPoint>,
        /// Custom attributes as a JSON object.
        #[serde(default)]
        attributes: Option<String>,
    }
}

event! {
    /// A revision of an item-location forecast (FORECAST_UPDATED).
    ForecastUpdated = "composerp.forecasting.v1.ForecastUpdated", key(location = location_id) {
        /// Location; part of the key.
        location_id: String,
        /// Item.
        item_id: String,
        /// Stable id of the forecast run.
        forecast_id: EventId,
        /// Last day of history used.
        as_of_date: Date,
        /// Model used.
        model: ForecastModel,
        /// Model parameters as JSON.
        model_params: String,
        /// Demand class.
        demand_class: DemandClass,
        /// Interval level in percent.
        #[serde(default)]
        interval_level: Option<i32>,
        /// Daily forecasts.
        points: Vec<ForecastPoint>,
        /// Revision number.
        revision: i32,
        /// Why it was revised.
        reason: String,
        /// Custom attributes as a JSON object.
        #[serde(default)]
        attributes: Option<String>,
    }
}

event! {
    /// Rolling demand features of one item-location as of a closed local day.
    DemandFeaturesUpdated = "composerp.forecasting.v1.DemandFeaturesUpdated", key(location = location_id) {
        /// Location; part of the key.
        location_id: String,
        /// Item.
        item_id: String,
        /// The local day just closed.
        as_of_date: Date,
        /// IANA zone of the location.
        timezone: String,
        /// Gross sale units of the as-of day.
        demand: i64,
        /// The as-of day closed out of stock.
        censored: bool,
        /// Uncensored days in the 7-day window.
        days_7: i32,
        /// Demand over the 7-day window.
        sum_7: f64,
        /// Mean over the 7-day window.
        #[serde(default)]
        mean_7: Option<f64>,
        /// Sample standard deviation over the 7-day window.
        #[serde(default)]
        std_7: Option<f64>,
        /// Uncensored days in the 28-day window.
        days_28: i32,
        /// Demand over the 28-day window.
        sum_28: f64,
        /// Mean over the 28-day window.
        #[serde(default)]
        mean_28: Option<f64>,
        /// Sample standard deviation over the 28-day window.
        #[serde(default)]
        std_28: Option<f64>,
        /// Uncensored days in the 91-day window.
        days_91: i32,
        /// Demand over the 91-day window.
        sum_91: f64,
        /// Mean over the 91-day window.
        #[serde(default)]
        mean_91: Option<f64>,
        /// Sample standard deviation over the 91-day window.
        #[serde(default)]
        std_91: Option<f64>,
        /// Share of zero-demand days in the 28-day window.
        #[serde(default)]
        zero_fraction_28: Option<f64>,
        /// Exponentially weighted mean of daily demand.
        #[serde(default)]
        ewma: Option<f64>,
        /// Days since the last day with demand.
        #[serde(default)]
        days_since_last_sale: Option<i32>,
        /// Weekday mean / window mean, Monday first.
        dow_profile: Vec<f64>,
        /// Average demand interval.
        #[serde(default)]
        adi: Option<f64>,
        /// Squared coefficient of variation of demand sizes.
        #[serde(default)]
        cv2: Option<f64>,
        /// Demand class of the 91-day window.
        demand_class: DemandClass,
        /// Censored days in the 91-day window.
        censored_days_91: i32,
        /// Days of history kept.
        history_days: i32,
    }
}

event! {
    /// Rolling accuracy of one item-location's one-day-ahead forecasts and of the seasonal
    /// naive baseline on the same days.
    ForecastAccuracyUpdated = "composerp.forecasting.v1.ForecastAccuracyUpdated", key(location = location_id) {
        /// Location; part of the key.
        location_id: String,
        /// Item.
        item_id: String,
        /// The local day whose actual just closed.
        as_of_date: Date,
        /// Model of the forecasts scored.
        model: ForecastModel,
        /// Demand class on the as-of day.
        demand_class: DemandClass,
        /// Length of the rolling window in days.
        window_days: i32,
        /// Days scored.
        days: i32,
        /// Sum of the actuals scored.
        actual: f64,
        /// Mean absolute error.
        #[serde(default)]
        mae: Option<f64>,
        /// Root mean squared error.
        #[serde(default)]
        rmse: Option<f64>,
        /// Mean of forecast − actual.
        #[serde(default)]
        bias: Option<f64>,
        /// Σ|e| / Σ actual.
        #[serde(default)]
        wape: Option<f64>,
        /// MAE / MASE scale.
        #[serde(default)]
        mase: Option<f64>,
        /// RMSE / √RMSSE scale.
        #[serde(default)]
        rmsse: Option<f64>,
        /// Baseline mean absolute error.
        #[serde(default)]
        baseline_mae: Option<f64>,
        /// Baseline root mean squared error.
        #[serde(default)]
        baseline_rmse: Option<f64>,
        /// Baseline bias.
        #[serde(default)]
        baseline_bias: Option<f64>,
        /// Baseline WAPE.
        #[serde(default)]
        baseline_wape: Option<f64>,
        /// Baseline MASE.
        #[serde(default)]
        baseline_mase: Option<f64>,
        /// Baseline RMSSE.
        #[serde(default)]
        baseline_rmsse: Option<f64>,
        /// Season of the MASE scale (7 or 1).
        mase_m: i32,
        /// MASE scale.
        #[serde(default)]
        mase_scale: Option<f64>,
        /// RMSSE scale.
        #[serde(default)]
        rmsse_scale: Option<f64>,
    }
}

event! {
    /// An item-location's daily demand from a batch backfill (internal).
    DemandHistorySeeded = "composerp.forecasting.v1.DemandHistorySeeded", key(location = location_id) {
        /// Location; part of the key.
        location_id: String,
        /// Item.
        item_id: String,
        /// Local day of `demand[0]`.
        first_date: Date,
        /// The last local day covered.
        as_of_date: Date,
        /// IANA zone of the days.
        timezone: String,
        /// Gross sale units per local day.
        demand: Vec<i64>,
        /// Days that closed out of stock.
        censored_dates: Vec<Date>,
        /// The newest day with a sale.
        #[serde(default)]
        last_sale_date: Option<Date>,
        /// Sale lines the history was built from.
        sale_lines: i64,
    }
}
