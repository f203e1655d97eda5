//! Forecasts: `forecasting.forecasts` (one row per forecast run, its newest revision) and
//! `forecasting.forecast_points` (one row per forecast day), from ForecastGenerated (revision
//! 0) and ForecastUpdated; the newest demand features and rolling accuracy per item-location.

use composerp_events::{
    EventId, Timestamp,
    forecasting::{
        DemandClass, DemandFeaturesUpdated, ForecastAccuracyUpdated, ForecastGenerated,
        ForecastModel, ForecastPoint, ForecastUpdated,
    },
};

use crate::{
    copy::{RowError, Rows},
    table::{Table, Version},
};

const FORECAST_COLUMNS: &[&str] = &[
    "tenant_id",
    "location_id",
    "item_id",
    "forecast_id",
    "as_of_date",
    "model",
    "model_params",
    "demand_class",
    "interval_level",
    "revision",
    "reason",
    "attributes",
    "event_id",
    "occurred_at",
];
const FORECAST_KEY: &[&str] = &["tenant_id", "location_id", "item_id", "forecast_id"];
const POINT_COLUMNS: &[&str] = &[
    "tenant_id",
    "location_id",
    "item_id",
    "forecast_id",
    "date",
    "mean",
    "lower",
    "upper",
    "revision",
];
const POINT_KEY: &[&str] = &["tenant_id", "location_id", "item_id", "forecast_id", "date"];
const BY_REVISION: Version = Version::Newer {
    column: "revision",
    ties_replace: true,
};

/// The fields both forecast events share, borrowed.
struct Forecast<'a> {
    tenant: &'a str,
    location: &'a str,
    item: &'a str,
    forecast_id: EventId,
    as_of: composerp_events::Date,
    model: ForecastModel,
    params: &'a str,
    class: DemandClass,
    level: Option<i32>,
    points: &'a [ForecastPoint],
    revision: i32,
    reason: Option<&'a str>,
    attributes: Option<&'a str>,
    event_id: EventId,
    at: Timestamp,
}

impl<'a> From<&'a ForecastGenerated> for Forecast<'a> {
    fn from(e: &'a ForecastGenerated) -> Self {
        Forecast {
            tenant: &e.tenant_id,
            location: &e.location_id,
            item: &e.item_id,
            forecast_id: e.forecast_id,
            as_of: e.as_of_date,
            model: e.model,
            params: &e.model_params,
            class: e.demand_class,
            level: e.interval_level,
            points: &e.points,
            revision: 0,
            reason: None,
            attributes: e.attributes.as_deref(),
            event_id: e.event_id,
            at: e.occurred_at,
        }
    }
}

impl<'a> From<&'a ForecastUpdated> for Forecast<'a> {
    fn from(e: &'a ForecastUpdated) -> Self {
        Forecast {
            tenant: &e.tenant_id,
            location: &e.location_id,
            item: &e.item_id,
            forecast_id: e.forecast_id,
            as_of: e.as_of_date,
            model: e.model,
            params: &e.model_params,
            class: e.demand_class,
            level: e.interval_level,
            points: &e.points,
            revision: e.revision,
            reason: Some(&e.reason),
            attributes: e.attributes.as_deref(),
            event_id: e.event_id,
            at: e.occurred_at,
        }
    }
}

impl Forecast<'_> {
    fn header(&self, out: &mut Rows<'_>) -> Result<(), RowError> {
        let r = &mut out.row();
        r.text("tenant_id", self.tenant)?
            .text("location_id", self.location)?
            .text("item_id", self.item)?
            .id(self.forecast_id)
            .date(self.as_of)
            .text("model", self.model.symbol())?
            .text("model_params", self.params)?
            .text("demand_class", self.class.symbol())?
            .opt_int(self.level.map(i64::from))
            .int(self.revision.into())
            .opt_text("reason", self.reason)?
            .json("attributes", self.attributes)?
            .id(self.event_id)
            .time(self.at);
        Ok(())
    }

    fn points(&self, out: &mut Rows<'_>) -> Result<(), RowError> {
        for p in self.points {
            let r = &mut out.row();
            r.text("tenant_id", self.tenant)?
                .text("location_id", self.location)?
                .text("item_id", self.item)?
                .id(self.forecast_id)
                .date(p.date)
                .float(p.mean)
                .opt_float(p.lower)
                .opt_float(p.upper)
                .int(self.revision.into());
        }
        Ok(())
    }
}

/// Forecast runs as generated.
pub struct Forecasts;

impl Table for Forecasts {
    const TOPIC: &'static str = "forecasting.forecasts";
    const TABLE: &'static str = "forecasting.forecasts";
    const COLUMNS: &'static [&'static str] = FORECAST_COLUMNS;
    const KEY: &'static [&'static str] = FORECAST_KEY;
    const VERSION: Version = BY_REVISION;
    type Event = ForecastGenerated;

    fn rows(e: &ForecastGenerated, out: &mut Rows<'_>) -> Result<(), RowError> {
        Forecast::from(e).header(out)
    }
}

/// Daily points of generated forecasts.
pub struct ForecastPoints;

impl Table for ForecastPoints {
    const TOPIC: &'static str = "forecasting.forecasts";
    const TABLE: &'static str = "forecasting.forecast_points";
    const COLUMNS: &'static [&'static str] = POINT_COLUMNS;
    const KEY: &'static [&'static str] = POINT_KEY;
    const VERSION: Version = BY_REVISION;
    type Event = ForecastGenerated;

    fn rows(e: &ForecastGenerated, out: &mut Rows<'_>) -> Result<(), RowError> {
        Forecast::from(e).points(out)
    }
}

/// Forecast revisions.
pub struct ForecastRevisions;

impl Table for ForecastRevisions {
    const TOPIC: &'static str = "forecasting.forecast-updates";
    const TABLE: &'static str = "forecasting.forecasts";
    const COLUMNS: &'static [&'static str] = FORECAST_COLUMNS;
    const KEY: &'static [&'static str] = FORECAST_KEY;
    const VERSION: Version = BY_REVISION;
    type Event = ForecastUpdated;

    fn rows(e: &ForecastUpdated, out: &mut Rows<'_>) -> Result<(), RowError> {
        Forecast::from(e).header(out)
    }
}

/// Daily points of forecast revisions.
pub struct RevisedPoints;

impl Table for RevisedPoints {
    const TOPIC: &'static str = "forecasting.forecast-updates";
    const TABLE: &'static str = "forecasting.forecast_points";
    const COLUMNS: &'static [&'static str] = POINT_COLUMNS;
    const KEY: &'static [&'static str] = POINT_KEY;
    const VERSION: Version = BY_REVISION;
    type Event = ForecastUpdated;

    fn rows(e: &ForecastUpdated, out: &mut Rows<'_>) -> Result<(), RowError> {
        Forecast::from(e).points(out)
    }
}

const ITEM_LOCATION: &[&str] = &["tenant_id", "location_id", "item_id"];
const BY_AS_OF: Version = Version::Newer {
    column: "as_of_date",
    ties_replace: true,
};

/// The newest demand features of each item-location.
pub struct DemandFeatures;

impl Table for DemandFeatures {
    const TOPIC: &'static str = "forecasting.demand-features";
    const TABLE: &'static str = "forecasting.demand_features";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "location_id",
        "item_id",
        "as_of_date",
        "timezone",
        "demand",
        "censored",
        "days_7",
        "sum_7",
        "mean_7",
        "std_7",
        "days_28",
        "sum_28",
        "mean_28",
        "std_28",
        "days_91",
        "sum_91",
        "mean_91",
        "std_91",
        "zero_fraction_28",
        "ewma",
        "days_since_last_sale",
        "dow_profile",
        "adi",
        "cv2",
        "demand_class",
        "censored_days_91",
        "history_days",
        "event_id",
        "occurred_at",
    ];
    const KEY: &'static [&'static str] = ITEM_LOCATION;
    const VERSION: Version = BY_AS_OF;
    type Event = DemandFeaturesUpdated;

    fn rows(e: &DemandFeaturesUpdated, out: &mut Rows<'_>) -> Result<(), RowError> {
        // A JSON array of plain numbers: a text column Postgres parses as jsonb.
        let profile = serde_json::to_string(&e.dow_profile).unwrap_or_else(|_| "[]".into());
        let r = &mut out.row();
        r.text("tenant_id", &e.tenant_id)?
            .text("location_id", &e.location_id)?
            .text("item_id", &e.item_id)?
            .date(e.as_of_date)
            .text("timezone", &e.timezone)?
            .int(e.demand)
            .bool(e.censored);
        for (days, sum, mean, std) in [
            (e.days_7, e.sum_7, e.mean_7, e.std_7),
            (e.days_28, e.sum_28, e.mean_28, e.std_28),
            (e.days_91, e.sum_91, e.mean_91, e.std_91),
        ] {
            r.int(days.into()).float(sum).opt_float(mean).opt_float(std);
        }
        r.opt_float(e.zero_fraction_28)
            .opt_float(e.ewma)
            .opt_int(e.days_since_last_sale.map(i64::from))
            .text("dow_profile", &profile)?
            .opt_float(e.adi)
            .opt_float(e.cv2)
            .text("demand_class", e.demand_class.symbol())?
            .int(e.censored_days_91.into())
            .int(e.history_days.into())
            .id(e.event_id)
            .time(e.occurred_at);
        Ok(())
    }
}

/// The newest rolling forecast accuracy of each item-location, next to its baseline.
pub struct Accuracy;

impl Table for Accuracy {
    const TOPIC: &'static str = "forecasting.accuracy";
    const TABLE: &'static str = "forecasting.accuracy";
    const COLUMNS: &'static [&'static str] = &[
        "tenant_id",
        "location_id",
        "item_id",
        "as_of_date",
        "model",
        "demand_class",
        "window_days",
        "days",
        "actual",
        "mae",
        "rmse",
        "bias",
        "wape",
        "mase",
        "rmsse",
        "baseline_mae",
        "baseline_rmse",
        "baseline_bias",
        "baseline_wape",
        "baseline_mase",
        "baseline_rmsse",
        "mase_m",
        "mase_scale",
        "rmsse_scale",
        "event_id",
        "occurred_at",
    ];
    const KEY: &'static [&'static str] = ITEM_LOCATION;
    const VERSION: Version = BY_AS_OF;
    type Event = ForecastAccuracyUpdated;

    fn rows(e: &ForecastAccuracyUpdated, out: &mut Rows<'_>) -> Result<(), RowError> {
        let r = &mut out.row();
        r.text("tenant_id", &e.tenant_id)?
            .text("location_id", &e.location_id)?
            .text("item_id", &e.item_id)?
            .date(e.as_of_date)
            .text("model", e.model.symbol())?
            .text("demand_class", e.demand_class.symbol())?
            .int(e.window_days.into())
            .int(e.days.into())
            .float(e.actual);
        for v in [
            e.mae,
            e.rmse,
            e.bias,
            e.wape,
            e.mase,
            e.rmsse,
            e.baseline_mae,
            e.baseline_rmse,
            e.baseline_bias,
            e.baseline_wape,
            e.baseline_mase,
            e.baseline_rmsse,
        ] {
            r.opt_float(v);
        }
        r.int(e.mase_m.into())
            .opt_float(e.mase_scale)
            .opt_float(e.rmsse_scale)
            .id(e.event_id)
            .time(e.occurred_at);
        Ok(())
    }
}
