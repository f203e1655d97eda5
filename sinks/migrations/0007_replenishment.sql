-- Replenishment rules per item-location (written by planners through the API, read by the
-- ledger for reorder points). Triggers and purchase orders come with their processor.
CREATE SCHEMA replenishment;
GRANT USAGE ON SCHEMA replenishment TO composerp_api, composerp_bi;

CREATE TABLE replenishment.rules (
    tenant_id             text NOT NULL,
    location_id           text NOT NULL,
    item_id               text NOT NULL,
    supplier_id           text NOT NULL,
    policy                text NOT NULL,
    reorder_point         bigint,
    order_quantity        bigint,
    min_qty               bigint,
    max_qty               bigint,
    service_level         double precision NOT NULL,
    order_days            text[] NOT NULL,
    rearm_margin          bigint NOT NULL,
    alert_on_safety_stock boolean NOT NULL,
    active                boolean NOT NULL,
    attributes            jsonb,
    event_id              uuid NOT NULL,
    occurred_at           timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, location_id, item_id)
);
CREATE INDEX rules_item ON replenishment.rules (tenant_id, item_id, location_id);
CREATE INDEX rules_supplier ON replenishment.rules (tenant_id, supplier_id, location_id, item_id);
CREATE INDEX rules_attributes ON replenishment.rules USING gin (attributes jsonb_path_ops);
SELECT sink.protect('replenishment.rules');
