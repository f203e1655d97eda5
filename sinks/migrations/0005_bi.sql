-- Documented views for BI tools. security_invoker makes row-level security apply to the
-- reader, so a BI reader sees its one tenant.
CREATE SCHEMA bi;
GRANT USAGE ON SCHEMA bi TO composerp_bi, composerp_api;

CREATE VIEW bi.current_positions WITH (security_invoker = true) AS
SELECT p.tenant_id, p.location_id, l.name AS location_name, l.location_type,
       p.item_id, i.sku, i.name AS item_name, i.category,
       p.on_hand, p.on_order, p.in_transit, p.reserved, p.damaged, p.backordered,
       p.available, p.inventory_position, p.reorder_point,
       p.valuation_rate, p.stock_value, p.negative_on_hand, p.occurred_at AS as_of
FROM inventory.positions p
LEFT JOIN catalog.items i ON i.tenant_id = p.tenant_id AND i.item_id = p.item_id
LEFT JOIN catalog.locations l ON l.tenant_id = p.tenant_id AND l.location_id = p.location_id;
COMMENT ON VIEW bi.current_positions IS
    'Every item-location''s current stock buckets with item and location names.';

CREATE VIEW bi.stock_value_by_location WITH (security_invoker = true) AS
SELECT p.tenant_id, p.location_id, l.name AS location_name,
       count(*) AS items, sum(p.on_hand) AS units_on_hand, sum(p.stock_value) AS stock_value
FROM inventory.positions p
LEFT JOIN catalog.locations l ON l.tenant_id = p.tenant_id AND l.location_id = p.location_id
GROUP BY p.tenant_id, p.location_id, l.name;
COMMENT ON VIEW bi.stock_value_by_location IS
    'Units on hand and stock value (moving-average cost) per location.';

CREATE VIEW bi.low_stock AS
SELECT * FROM bi.current_positions WHERE available < reorder_point;
ALTER VIEW bi.low_stock SET (security_invoker = true);
COMMENT ON VIEW bi.low_stock IS
    'Item-locations whose available stock is below the reorder point now.';

CREATE VIEW bi.stock_ledger WITH (security_invoker = true) AS
SELECT t.tenant_id, t.location_id, t.item_id, t.occurred_at, t.sequence, t.ledger,
       t.transaction_type, t.document_ref, t.actual_qty, t.qty_after_transaction,
       t.valuation_rate, t.stock_value, t.stock_value_difference, t.superseded
FROM inventory.transactions t;
COMMENT ON VIEW bi.stock_ledger IS
    'Stock ledger entries in the order they applied per item-location (sequence).';

GRANT SELECT ON ALL TABLES IN SCHEMA bi TO composerp_bi, composerp_api;
