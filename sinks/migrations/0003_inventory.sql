-- The Inventory Ledger's outputs: current positions, stock ledger entries, low-stock alerts.
CREATE SCHEMA inventory;
GRANT USAGE ON SCHEMA inventory TO composerp_api, composerp_bi;

-- One row per item-location: the InventoryUpdated with the highest sequence.
CREATE TABLE inventory.positions (
    tenant_id            text NOT NULL,
    location_id          text NOT NULL,
    item_id              text NOT NULL,
    sequence             bigint NOT NULL,
    on_hand              bigint NOT NULL,
    on_order             bigint NOT NULL,
    in_transit           bigint NOT NULL,
    reserved             bigint NOT NULL,
    damaged              bigint NOT NULL,
    backordered          bigint NOT NULL,
    available            bigint NOT NULL,
    available_raw        bigint NOT NULL,
    inventory_position   bigint NOT NULL,
    valuation_rate       numeric(18,4) NOT NULL,
    stock_value          numeric(18,4) NOT NULL,
    reorder_point        bigint,
    negative_on_hand     boolean NOT NULL,
    unknown_item         boolean NOT NULL,
    unknown_location     boolean NOT NULL,
    last_source_event_id uuid NOT NULL,
    event_id             uuid NOT NULL,
    occurred_at          timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, location_id, item_id)
) WITH (fillfactor = 70);
-- Positions are updated all the time: free space per page and indexes on key columns only keep
-- the updates HOT (no index writes). Filters on buckets (below the reorder point, negative) scan
-- one tenant's rows in key order and stop at the page size.
CREATE INDEX positions_item ON inventory.positions (tenant_id, item_id, location_id);
SELECT sink.protect('inventory.positions');

-- Stock ledger entries (SSLE/WSLE), one per input line; never updated.
CREATE TABLE inventory.transactions (
    tenant_id               text NOT NULL,
    event_id                uuid NOT NULL,
    location_id             text NOT NULL,
    item_id                 text NOT NULL,
    ledger                  text NOT NULL,
    transaction_type        text NOT NULL,
    source_event_id         uuid NOT NULL,
    source_line             integer NOT NULL,
    document_ref            text,
    sequence                bigint NOT NULL,
    actual_qty              bigint NOT NULL,
    qty_after_transaction   bigint NOT NULL,
    incoming_rate           numeric(18,4),
    valuation_rate          numeric(18,4) NOT NULL,
    stock_value             numeric(18,4) NOT NULL,
    stock_value_difference  numeric(18,4) NOT NULL,
    superseded              boolean NOT NULL,
    negative_on_hand        boolean NOT NULL,
    unknown_item            boolean NOT NULL,
    unknown_location        boolean NOT NULL,
    occurred_at             timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX transactions_item_location
    ON inventory.transactions (tenant_id, item_id, location_id, occurred_at, sequence);
SELECT sink.protect('inventory.transactions');

-- Low-stock alerts; never updated.
CREATE TABLE inventory.low_stock_events (
    tenant_id          text NOT NULL,
    event_id           uuid NOT NULL,
    location_id        text NOT NULL,
    item_id            text NOT NULL,
    available          bigint NOT NULL,
    inventory_position bigint NOT NULL,
    threshold          bigint NOT NULL,
    threshold_kind     text NOT NULL,
    source_event_id    uuid NOT NULL,
    occurred_at        timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX low_stock_item_location
    ON inventory.low_stock_events (tenant_id, item_id, location_id, occurred_at);
CREATE INDEX low_stock_time ON inventory.low_stock_events (tenant_id, occurred_at);
SELECT sink.protect('inventory.low_stock_events');
