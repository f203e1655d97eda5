//! Forecasts: `forecasting.forecasts` (one row per forecast run, its newest revision) and
//! `forecasting.forecast_points` (one row per forecast day), from ForecastGenerated (revision
//! 0) and ForecastUpdated.

use composerp_events::{
    EventId, Timestamp,
    forecasting::{DemandClass, ForecastGenerated, ForecastModel, ForecastPoint, ForecastUpdated},
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
