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
