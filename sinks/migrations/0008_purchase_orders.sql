-- Purchase orders, one row per order and one per line. Three topics write them, each only its
-- own columns: po-created (the order as raised), po-approved (the approval, with the lines as
-- approved), po-cancelled (cancelled lines). Events may arrive in any order; each topic's
-- columns keep its newest event.
CREATE TABLE replenishment.purchase_orders (
    tenant_id          text NOT NULL,
    po_number          text NOT NULL,
    location_id        text NOT NULL,
    supplier_id        text NOT NULL,
    currency           text NOT NULL,
    expected_date      date,
    attributes         jsonb,
    -- From PurchaseOrderCreated.
    created_status     text,
    total_value        numeric(18,4),
    trigger_event_id   uuid,
    created_event_id   uuid,
    created_at         timestamptz,
    -- From PurchaseOrderApproved.
    approved_by        text,
    auto_approved      boolean,
    approved_event_id  uuid,
    approved_at        timestamptz,
    PRIMARY KEY (tenant_id, po_number)
);
CREATE INDEX purchase_orders_location ON replenishment.purchase_orders (tenant_id, location_id, po_number);
CREATE INDEX purchase_orders_supplier ON replenishment.purchase_orders (tenant_id, supplier_id, po_number);
CREATE INDEX purchase_orders_attributes ON replenishment.purchase_orders USING gin (attributes jsonb_path_ops);
SELECT sink.protect('replenishment.purchase_orders');

CREATE TABLE replenishment.purchase_order_lines (
    tenant_id           text NOT NULL,
    po_number           text NOT NULL,
    line_number         integer NOT NULL,
    item_id             text NOT NULL,
    -- Null while only a cancellation of the line has arrived.
    quantity            bigint,
    unit_cost           numeric(18,4),
    -- When the quantities above were written (creation or approval, the newer wins).
    lines_at            timestamptz,
    cancelled_by        text,
    cancel_reason       text,
    cancel_event_id     uuid,
    cancelled_at        timestamptz,
    PRIMARY KEY (tenant_id, po_number, line_number)
);
CREATE INDEX purchase_order_lines_item ON replenishment.purchase_order_lines (tenant_id, item_id, po_number);
SELECT sink.protect('replenishment.purchase_order_lines');

-- An order's status from its events (DOMAIN.md §8): CANCELLED when every line is cancelled,
-- APPROVED once approved, else the status it was created with.
CREATE FUNCTION replenishment.po_status(
    created_status text, approved_at timestamptz, lines bigint, cancelled bigint
) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN lines > 0 AND cancelled = lines THEN 'CANCELLED'
        WHEN approved_at IS NOT NULL THEN 'APPROVED'
        ELSE coalesce(created_status, 'DRAFT')
    END
$$;
GRANT EXECUTE ON FUNCTION replenishment.po_status(text, timestamptz, bigint, bigint)
    TO composerp_api, composerp_bi;

CREATE VIEW replenishment.purchase_order_status WITH (security_invoker = true) AS
SELECT o.*, l.lines, l.cancelled_lines, l.open_quantity, l.line_value,
       replenishment.po_status(o.created_status, o.approved_at, l.lines, l.cancelled_lines) AS status
FROM replenishment.purchase_orders o
CROSS JOIN LATERAL (
    SELECT count(*) AS lines,
           count(*) FILTER (WHERE cancelled_at IS NOT NULL) AS cancelled_lines,
           coalesce(sum(quantity) FILTER (WHERE cancelled_at IS NULL), 0)::bigint AS open_quantity,
           coalesce(sum(quantity * unit_cost) FILTER (WHERE cancelled_at IS NULL), 0) AS line_value
    FROM replenishment.purchase_order_lines x
    WHERE x.tenant_id = o.tenant_id AND x.po_number = o.po_number
) l;
GRANT SELECT ON replenishment.purchase_order_status TO composerp_api, composerp_bi;

CREATE VIEW bi.open_purchase_orders WITH (security_invoker = true) AS
SELECT s.tenant_id, s.po_number, s.status, s.location_id, lo.name AS location_name,
       s.supplier_id, su.name AS supplier_name, s.currency, s.expected_date,
       s.lines - s.cancelled_lines AS open_lines, s.open_quantity, s.line_value AS open_value,
       s.created_at, s.approved_at
FROM replenishment.purchase_order_status s
LEFT JOIN catalog.locations lo ON lo.tenant_id = s.tenant_id AND lo.location_id = s.location_id
LEFT JOIN catalog.suppliers su ON su.tenant_id = s.tenant_id AND su.supplier_id = s.supplier_id
WHERE s.status IN ('DRAFT', 'APPROVED', 'SENT', 'PARTIALLY_RECEIVED');
COMMENT ON VIEW bi.open_purchase_orders IS
    'Purchase orders not yet received or cancelled, with their open quantity and value.';
GRANT SELECT ON bi.open_purchase_orders TO composerp_bi, composerp_api;
