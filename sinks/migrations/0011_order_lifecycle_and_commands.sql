-- The replenishment processor owns purchase order state: planners' approve and cancel become
-- commands it applies in order, answered by a status change (every transition and receipt) or a
-- rejection. Triggers carry every number of their decision; categories and tenants carry default
-- and auto-approval rules; supplier-items their order days.

-- The trigger's full explanation. NULL on rows stored before it existed.
ALTER TABLE replenishment.triggers
    ADD COLUMN evaluated_on                text,
    ADD COLUMN rule_source                 text,
    ADD COLUMN demand_source               text,
    ADD COLUMN supplier_reason             text,
    ADD COLUMN position_before_open_orders bigint,
    ADD COLUMN open_order_quantity         bigint,
    ADD COLUMN on_hand                     bigint,
    ADD COLUMN on_order                    bigint,
    ADD COLUMN in_transit                  bigint,
    ADD COLUMN reserved                    bigint,
    ADD COLUMN backordered                 bigint,
    ADD COLUMN damaged                     bigint,
    ADD COLUMN z                           double precision,
    ADD COLUMN protection_days             double precision,
    ADD COLUMN review_period_days          integer,
    ADD COLUMN lots                        bigint,
    ADD COLUMN raw_need                    double precision,
    ADD COLUMN quantity_after_moq          bigint,
    ADD COLUMN quantity_after_pack         bigint,
    ADD COLUMN capped                      boolean,
    ADD COLUMN moq                         bigint,
    ADD COLUMN pack_size                   bigint,
    ADD COLUMN max_order_qty               bigint,
    ADD COLUMN unit_cost                   numeric(18,4),
    ADD COLUMN order_value                 numeric(18,4),
    ADD COLUMN po_number                   text;
-- "Which decisions went into this order?"
CREATE INDEX triggers_po ON replenishment.triggers (tenant_id, po_number, occurred_at DESC)
    WHERE po_number IS NOT NULL;

-- Every PurchaseOrderStatusChanged, as it was published (facts, one per event id): the order's
-- history, and the change a planner's command caused (command_id).
CREATE TABLE replenishment.purchase_order_status_changes (
    tenant_id          text NOT NULL,
    event_id           uuid NOT NULL,
    location_id        text NOT NULL,
    po_number          text NOT NULL,
    supplier_id        text NOT NULL,
    status             text NOT NULL,
    previous_status    text,
    -- [{line_number, item_id, ordered, received, cancelled, over_received}] after the change.
    lines              jsonb NOT NULL,
    received_quantity  bigint NOT NULL,
    over_received      boolean NOT NULL,
    cause_event_id     uuid NOT NULL,
    command_id         uuid,
    expected_date      date,
    occurred_at        timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX purchase_order_status_changes_order
    ON replenishment.purchase_order_status_changes (tenant_id, po_number, occurred_at);
CREATE INDEX purchase_order_status_changes_command
    ON replenishment.purchase_order_status_changes (tenant_id, command_id)
    WHERE command_id IS NOT NULL;
SELECT sink.protect('replenishment.purchase_order_status_changes');

-- The newest status change of each order. An order only moves forward (DOMAIN.md §8: stage,
-- units received and lines cancelled never go back), so `progress` orders changes by (stage,
-- units received, lines cancelled, event time) as one number, and a change replaces the row
-- only when it has come at least as far: a replay or a late delivery never regresses it, and
-- two changes stamped alike (a creation and its auto-approval) still order by stage.
CREATE TABLE replenishment.purchase_order_lifecycle (
    tenant_id          text NOT NULL,
    po_number          text NOT NULL,
    location_id        text NOT NULL,
    supplier_id        text NOT NULL,
    status             text NOT NULL,
    previous_status    text,
    lines              jsonb NOT NULL,
    received_quantity  bigint NOT NULL,
    over_received      boolean NOT NULL,
    command_id         uuid,
    expected_date      date,
    status_event_id    uuid NOT NULL,
    status_at          timestamptz NOT NULL,
    progress           numeric NOT NULL,
    PRIMARY KEY (tenant_id, po_number)
);
SELECT sink.protect('replenishment.purchase_order_lifecycle');

-- Commands the processor refused (facts, one per event id), with the order's status then.
CREATE TABLE replenishment.purchase_order_command_rejections (
    tenant_id     text NOT NULL,
    event_id      uuid NOT NULL,
    location_id   text NOT NULL,
    po_number     text NOT NULL,
    command_id    uuid NOT NULL,
    action        text NOT NULL,
    requested_by  text NOT NULL,
    code          text NOT NULL,
    detail        text NOT NULL,
    status        text,
    occurred_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX purchase_order_command_rejections_command
    ON replenishment.purchase_order_command_rejections (tenant_id, command_id);
CREATE INDEX purchase_order_command_rejections_order
    ON replenishment.purchase_order_command_rejections (tenant_id, po_number, occurred_at);
SELECT sink.protect('replenishment.purchase_order_command_rejections');

-- The status is the processor's once it has published one; before (orders of the old API path,
-- or while the first change is on its way) it is derived from the order's events as before.
-- Columns are appended: CREATE OR REPLACE keeps the ones views and readers depend on.
CREATE OR REPLACE VIEW replenishment.purchase_order_status WITH (security_invoker = true) AS
SELECT o.*, l.lines, l.cancelled_lines, l.open_quantity, l.line_value,
       coalesce(s.status,
                replenishment.po_status(o.created_status, o.approved_at, l.lines,
                                        l.cancelled_lines)) AS status,
       coalesce(s.received_quantity, 0)::bigint AS received_quantity,
       coalesce(s.over_received, false) AS over_received,
       s.previous_status, s.status_at
FROM replenishment.purchase_orders o
CROSS JOIN LATERAL (
    SELECT count(*) AS lines,
           count(*) FILTER (WHERE cancelled_at IS NOT NULL) AS cancelled_lines,
           coalesce(sum(quantity) FILTER (WHERE cancelled_at IS NULL), 0)::bigint AS open_quantity,
           coalesce(sum(quantity * unit_cost) FILTER (WHERE cancelled_at IS NULL), 0) AS line_value
    FROM replenishment.purchase_order_lines x
    WHERE x.tenant_id = o.tenant_id AND x.po_number = o.po_number
) l
LEFT JOIN replenishment.purchase_order_lifecycle s
  ON s.tenant_id = o.tenant_id AND s.po_number = o.po_number;

-- Each line with what it has received according to the order's newest status change.
CREATE VIEW replenishment.purchase_order_line_status WITH (security_invoker = true) AS
SELECT l.*, coalesce(r.received, 0)::bigint AS received,
       coalesce(r.over_received, false) AS over_received
FROM replenishment.purchase_order_lines l
LEFT JOIN replenishment.purchase_order_lifecycle s
  ON s.tenant_id = l.tenant_id AND s.po_number = l.po_number
LEFT JOIN LATERAL (
    SELECT (e ->> 'received')::bigint AS received, (e ->> 'over_received')::boolean AS over_received
    FROM jsonb_array_elements(s.lines) e
    WHERE (e ->> 'line_number')::integer = l.line_number
    LIMIT 1
) r ON true;
GRANT SELECT ON replenishment.purchase_order_line_status TO composerp_api, composerp_bi;

CREATE OR REPLACE VIEW bi.open_purchase_orders WITH (security_invoker = true) AS
SELECT s.tenant_id, s.po_number, s.status, s.location_id, lo.name AS location_name,
       s.supplier_id, su.name AS supplier_name, s.currency, s.expected_date,
       s.lines - s.cancelled_lines AS open_lines, s.open_quantity, s.line_value AS open_value,
       s.created_at, s.approved_at, s.received_quantity, s.over_received
FROM replenishment.purchase_order_status s
LEFT JOIN catalog.locations lo ON lo.tenant_id = s.tenant_id AND lo.location_id = s.location_id
LEFT JOIN catalog.suppliers su ON su.tenant_id = s.tenant_id AND su.supplier_id = s.supplier_id
WHERE s.status IN ('DRAFT', 'APPROVED', 'SENT', 'PARTIALLY_RECEIVED');

CREATE OR REPLACE VIEW bi.replenishment_triggers WITH (security_invoker = true) AS
SELECT t.tenant_id, t.occurred_at, t.location_id, l.name AS location_name, t.item_id,
       i.name AS item_name, t.supplier_id, t.policy, t.outcome, t.inventory_position,
       t.reorder_level, t.order_up_to, t.safety_stock, t.order_quantity, t.explanation,
       t.evaluated_on, t.rule_source, t.demand_source, t.supplier_reason, t.on_hand, t.on_order,
       t.in_transit, t.reserved, t.backordered, t.open_order_quantity, t.raw_need,
       t.quantity_after_moq, t.quantity_after_pack, t.capped, t.unit_cost, t.order_value,
       t.po_number
FROM replenishment.triggers t
LEFT JOIN catalog.items i ON i.tenant_id = t.tenant_id AND i.item_id = t.item_id
LEFT JOIN catalog.locations l ON l.tenant_id = t.tenant_id AND l.location_id = t.location_id;

-- The command resource finds a still pending command by the write that published it.
CREATE INDEX audit_log_resource ON audit.audit_log (tenant_id, resource, at);

-- Rules a category's items inherit, per kind of location (the newest event per category wins;
-- `rules` holds its list as published) and, expanded, one row per kind of location.
CREATE TABLE replenishment.default_rules (
    tenant_id    text NOT NULL,
    category     text NOT NULL,
    rules        jsonb NOT NULL,
    event_id     uuid NOT NULL,
    occurred_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, category)
);
SELECT sink.protect('replenishment.default_rules');

CREATE VIEW replenishment.category_rules WITH (security_invoker = true) AS
SELECT d.tenant_id, d.category, r.location_type, r.supplier_id, r.policy, r.order_quantity,
       r.min_qty, r.max_qty, r.service_level, r.order_days, r.active, d.event_id, d.occurred_at
FROM replenishment.default_rules d
CROSS JOIN LATERAL jsonb_to_recordset(d.rules) AS r(
    location_type text, supplier_id text, policy text, order_quantity bigint, min_qty bigint,
    max_qty bigint, service_level double precision, order_days text[], active boolean);
GRANT SELECT ON replenishment.category_rules TO composerp_api, composerp_bi;

-- Each tenant's rule for approving small orders without a person (the newest event wins).
CREATE TABLE replenishment.auto_approval_rules (
    tenant_id    text NOT NULL,
    max_value    numeric(18,4) NOT NULL,
    max_qty      bigint NOT NULL,
    active       boolean NOT NULL,
    event_id     uuid NOT NULL,
    occurred_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id)
);
SELECT sink.protect('replenishment.auto_approval_rules');

-- Days a supplier takes orders for an item (SupplierItem v2); NULL on rows stored before.
ALTER TABLE catalog.supplier_items ADD COLUMN order_days text[];
