-- Demand features (DemandFeaturesUpdated) and rolling forecast accuracy next to the seasonal
-- naive baseline (ForecastAccuracyUpdated): the newest row per item-location.
CREATE TABLE forecasting.demand_features (
    tenant_id               text NOT NULL,
    location_id             text NOT NULL,
    item_id                 text NOT NULL,
    as_of_date              date NOT NULL,
    timezone                text NOT NULL,
    demand                  bigint NOT NULL,
    censored                boolean NOT NULL,
    days_7                  integer NOT NULL,
    sum_7                   double precision NOT NULL,
    mean_7                  double precision,
    std_7                   double precision,
    days_28                 integer NOT NULL,
    sum_28                  double precision NOT NULL,
    mean_28                 double precision,
    std_28                  double precision,
    days_91                 integer NOT NULL,
    sum_91                  double precision NOT NULL,
    mean_91                 double precision,
    std_91                  double precision,
    zero_fraction_28        double precision,
    ewma                    double precision,
    days_since_last_sale    integer,
    -- Weekday mean / 91-day mean as a JSON array, Monday first.
    dow_profile             jsonb NOT NULL,
    adi                     double precision,
    cv2                     double precision,
    demand_class            text NOT NULL,
    censored_days_91        integer NOT NULL,
    history_days            integer NOT NULL,
    event_id                uuid NOT NULL,
    occurred_at             timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, location_id, item_id)
);
CREATE INDEX demand_features_class ON forecasting.demand_features (tenant_id, demand_class);
SELECT sink.protect('forecasting.demand_features');

CREATE TABLE forecasting.accuracy (
    tenant_id           text NOT NULL,
    location_id         text NOT NULL,
    item_id             text NOT NULL,
    as_of_date          date NOT NULL,
    model               text NOT NULL,
    demand_class        text NOT NULL,
    window_days         integer NOT NULL,
    days                integer NOT NULL,
    actual              double precision NOT NULL,
    mae                 double precision,
    rmse                double precision,
    bias                double precision,
    wape                double precision,
    mase                double precision,
    rmsse               double precision,
    baseline_mae        double precision,
    baseline_rmse       double precision,
    baseline_bias       double precision,
    baseline_wape       double precision,
    baseline_mase       double precision,
    baseline_rmsse      double precision,
    mase_m              integer NOT NULL,
    mase_scale          double precision,
    rmsse_scale         double precision,
    event_id            uuid NOT NULL,
    occurred_at         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, location_id, item_id)
);
CREATE INDEX accuracy_class ON forecasting.accuracy (tenant_id, demand_class, model);
SELECT sink.protect('forecasting.accuracy');

-- Forecast value added: how much of the baseline's error the model removes, per item-location.
CREATE VIEW bi.forecast_accuracy WITH (security_invoker = true) AS
SELECT a.tenant_id, a.location_id, a.item_id, a.as_of_date, a.model, a.demand_class,
       a.window_days, a.days, a.actual, a.mae, a.rmse, a.bias, a.wape, a.mase, a.rmsse,
       a.baseline_mae, a.baseline_wape, a.baseline_mase, a.mase_m,
       a.baseline_wape - a.wape AS wape_value_added,
       a.wape < a.baseline_wape AS beats_baseline
FROM forecasting.accuracy a;
COMMENT ON VIEW bi.forecast_accuracy IS
    'Rolling one-day-ahead accuracy per item-location next to the seasonal naive baseline on the same days.';
GRANT SELECT ON bi.forecast_accuracy TO composerp_bi, composerp_api;

-- WAPE per demand class, weighted by sales: sum |e| / sum actual over the item-locations.
CREATE VIEW bi.forecast_accuracy_by_class WITH (security_invoker = true) AS
SELECT a.tenant_id, a.demand_class, count(*) AS item_locations, sum(a.actual) AS actual,
       sum(a.wape * a.actual) / nullif(sum(a.actual), 0) AS wape,
       sum(a.baseline_wape * a.actual) / nullif(sum(a.actual), 0) AS baseline_wape
FROM forecasting.accuracy a
WHERE a.wape IS NOT NULL AND a.baseline_wape IS NOT NULL
GROUP BY a.tenant_id, a.demand_class;
COMMENT ON VIEW bi.forecast_accuracy_by_class IS
    'Sales-weighted WAPE of the models and of seasonal naive per demand class.';
GRANT SELECT ON bi.forecast_accuracy_by_class TO composerp_bi, composerp_api;
