-- Forecasts (ForecastGenerated and its revisions, ForecastUpdated) with their daily points, and
-- replenishment triggers with their explanation.
CREATE SCHEMA forecasting;
GRANT USAGE ON SCHEMA forecasting TO composerp_api, composerp_bi;

CREATE TABLE forecasting.forecasts (
    tenant_id       text NOT NULL,
    location_id     text NOT NULL,
    item_id         text NOT NULL,
    forecast_id     uuid NOT NULL,
    as_of_date      date NOT NULL,
    model           text NOT NULL,
    model_params    text NOT NULL,
    demand_class    text NOT NULL,
    interval_level  integer,
    -- 0 as generated, then each ForecastUpdated's revision; the highest wins.
    revision        integer NOT NULL,
    reason          text,
    attributes      jsonb,
    event_id        uuid NOT NULL,
    occurred_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, location_id, item_id, forecast_id)
);
CREATE INDEX forecasts_latest ON forecasting.forecasts (tenant_id, location_id, item_id, as_of_date DESC, occurred_at DESC);
CREATE INDEX forecasts_item ON forecasting.forecasts (tenant_id, item_id, location_id);
SELECT sink.protect('forecasting.forecasts');

CREATE TABLE forecasting.forecast_points (
    tenant_id       text NOT NULL,
    location_id     text NOT NULL,
    item_id         text NOT NULL,
    forecast_id     uuid NOT NULL,
    date            date NOT NULL,
    mean            double precision NOT NULL,
    lower           double precision,
    upper           double precision,
    revision        integer NOT NULL,
    PRIMARY KEY (tenant_id, location_id, item_id, forecast_id, date)
);
SELECT sink.protect('forecasting.forecast_points');

-- Gross sale units of an item-location on a local day of its location (DOMAIN.md §5).
CREATE FUNCTION forecasting.sales_on(
    tenant text, location text, item text, day date, zone text
) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(-t.actual_qty), 0)
    FROM inventory.transactions t
    WHERE t.tenant_id = tenant AND t.item_id = item AND t.location_id = location
      AND t.transaction_type = 'SALE'
      AND t.occurred_at >= (day::timestamp AT TIME ZONE zone)
      AND t.occurred_at < ((day + 1)::timestamp AT TIME ZONE zone)
$$;
GRANT EXECUTE ON FUNCTION forecasting.sales_on(text, text, text, date, text)
    TO composerp_api, composerp_bi;

CREATE VIEW bi.forecast_vs_actual WITH (security_invoker = true) AS
SELECT f.tenant_id, f.location_id, f.item_id, f.forecast_id, f.as_of_date, f.model,
       f.demand_class, f.revision, p.date, p.mean AS forecast, p.lower, p.upper,
       CASE WHEN ((p.date + 1)::timestamp AT TIME ZONE coalesce(l.timezone, 'UTC')) <= now()
            THEN forecasting.sales_on(f.tenant_id, f.location_id, f.item_id, p.date,
                                      coalesce(l.timezone, 'UTC'))
       END AS actual
FROM forecasting.forecasts f
JOIN forecasting.forecast_points p
  ON p.tenant_id = f.tenant_id AND p.location_id = f.location_id
 AND p.item_id = f.item_id AND p.forecast_id = f.forecast_id
LEFT JOIN catalog.locations l ON l.tenant_id = f.tenant_id AND l.location_id = f.location_id;
COMMENT ON VIEW bi.forecast_vs_actual IS
    'Each forecast day next to the gross sale units of that local day (null until the day ends).';
GRANT SELECT ON bi.forecast_vs_actual TO composerp_bi, composerp_api;

CREATE TABLE replenishment.triggers (
    tenant_id           text NOT NULL,
    event_id            uuid NOT NULL,
    location_id         text NOT NULL,
    item_id             text NOT NULL,
    supplier_id         text NOT NULL,
    policy              text NOT NULL,
    outcome             text NOT NULL,
    inventory_position  bigint NOT NULL,
    reorder_level       double precision NOT NULL,
    order_up_to         double precision,
    safety_stock        double precision NOT NULL,
    demand_per_day      double precision NOT NULL,
    demand_std_per_day  double precision NOT NULL,
    lead_time_days      double precision NOT NULL,
    lead_time_std_days  double precision NOT NULL,
    service_level       double precision NOT NULL,
    order_quantity      bigint NOT NULL,
    explanation         text NOT NULL,
    source_event_id     uuid NOT NULL,
    occurred_at         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX triggers_item_location ON replenishment.triggers (tenant_id, location_id, item_id, occurred_at DESC);
CREATE INDEX triggers_recent ON replenishment.triggers (tenant_id, occurred_at DESC, event_id);
SELECT sink.protect('replenishment.triggers');

CREATE VIEW bi.replenishment_triggers WITH (security_invoker = true) AS
SELECT t.tenant_id, t.occurred_at, t.location_id, l.name AS location_name, t.item_id,
       i.name AS item_name, t.supplier_id, t.policy, t.outcome, t.inventory_position,
       t.reorder_level, t.order_up_to, t.safety_stock, t.order_quantity, t.explanation
FROM replenishment.triggers t
LEFT JOIN catalog.items i ON i.tenant_id = t.tenant_id AND i.item_id = t.item_id
LEFT JOIN catalog.locations l ON l.tenant_id = t.tenant_id AND l.location_id = t.location_id;
COMMENT ON VIEW bi.replenishment_triggers IS
    'Replenishment decisions with the figures behind them and their explanation.';
GRANT SELECT ON bi.replenishment_triggers TO composerp_bi, composerp_api;
