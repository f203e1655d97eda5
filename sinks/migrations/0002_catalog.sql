-- Master data (compacted catalog topics) and per-tenant settings.
CREATE SCHEMA catalog;

CREATE TABLE catalog.tenants (
    tenant_id  text PRIMARY KEY,
    name       text NOT NULL,
    -- Per-tenant settings, e.g. {"currency": "EUR", "timezone": "Europe/Berlin"}.
    settings   jsonb NOT NULL DEFAULT '{}',
    -- JSON Schemas of custom attributes per entity: {"item": {...}, "location": {...}}.
    attribute_schemas jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE catalog.items (
    tenant_id     text NOT NULL,
    item_id       text NOT NULL,
    sku           text NOT NULL,
    name          text NOT NULL,
    category      text,
    uom           text NOT NULL,
    uom_scale     integer NOT NULL,
    standard_cost numeric(18,4),
    active        boolean NOT NULL,
    attributes    jsonb,
    event_id      uuid NOT NULL,
    occurred_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, item_id)
);
CREATE INDEX items_sku ON catalog.items (tenant_id, sku);
CREATE INDEX items_category ON catalog.items (tenant_id, category, item_id);
CREATE INDEX items_attributes ON catalog.items USING gin (attributes jsonb_path_ops);

CREATE TABLE catalog.locations (
    tenant_id     text NOT NULL,
    location_id   text NOT NULL,
    name          text NOT NULL,
    location_type text NOT NULL,
    timezone      text NOT NULL,
    active        boolean NOT NULL,
    attributes    jsonb,
    event_id      uuid NOT NULL,
    occurred_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, location_id)
);
CREATE INDEX locations_type ON catalog.locations (tenant_id, location_type, location_id);
CREATE INDEX locations_attributes ON catalog.locations USING gin (attributes jsonb_path_ops);

CREATE TABLE catalog.suppliers (
    tenant_id     text NOT NULL,
    supplier_id   text NOT NULL,
    name          text NOT NULL,
    contact_email text,
    contact_phone text,
    currency      text NOT NULL,
    active        boolean NOT NULL,
    attributes    jsonb,
    event_id      uuid NOT NULL,
    occurred_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, supplier_id)
);
CREATE INDEX suppliers_attributes ON catalog.suppliers USING gin (attributes jsonb_path_ops);

CREATE TABLE catalog.supplier_items (
    tenant_id           text NOT NULL,
    supplier_id         text NOT NULL,
    item_id             text NOT NULL,
    lead_time_mean_days double precision NOT NULL,
    lead_time_std_days  double precision NOT NULL,
    moq                 bigint NOT NULL,
    pack_size           bigint NOT NULL,
    max_order_qty       bigint,
    unit_cost           numeric(18,4) NOT NULL,
    currency            text NOT NULL,
    active              boolean NOT NULL,
    attributes          jsonb,
    event_id            uuid NOT NULL,
    occurred_at         timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, supplier_id, item_id)
);
CREATE INDEX supplier_items_item ON catalog.supplier_items (tenant_id, item_id, supplier_id);
CREATE INDEX supplier_items_attributes ON catalog.supplier_items USING gin (attributes jsonb_path_ops);

-- Which tenant each BI reader role may read.
CREATE TABLE catalog.bi_readers (
    role_name text PRIMARY KEY,
    tenant_id text NOT NULL
);
CREATE INDEX bi_readers_tenant ON catalog.bi_readers (tenant_id, role_name);

-- The tenant of the BI reader connected now (session_user: SET ROLE cannot change it).
CREATE FUNCTION catalog.bi_tenant() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, catalog AS $$
    SELECT tenant_id FROM catalog.bi_readers WHERE role_name = session_user
$$;

-- Creates (if needed) a login role that reads one tenant's bi views and nothing else.
-- Run by an administrator; set the role's password separately.
CREATE FUNCTION catalog.grant_bi_reader(reader text, tenant text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE format('CREATE ROLE %I LOGIN', reader);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    EXECUTE format('GRANT composerp_bi TO %I', reader);
    EXECUTE format('ALTER ROLE %I SET default_transaction_read_only = on', reader);
    INSERT INTO catalog.bi_readers (role_name, tenant_id) VALUES (reader, tenant)
    ON CONFLICT (role_name) DO UPDATE SET tenant_id = EXCLUDED.tenant_id;
END
$$;

-- Row-level security of a tenant table: the API sees the tenant of its session setting, a BI
-- reader the tenant catalog.bi_readers names; both may only read. The sinks connect as the
-- owner, which RLS does not restrict.
CREATE FUNCTION sink.protect(t regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
        'CREATE POLICY api_tenant ON %s FOR SELECT TO composerp_api USING (tenant_id = sink.current_tenant())', t);
    EXECUTE format(
        'CREATE POLICY bi_tenant ON %s FOR SELECT TO composerp_bi USING (tenant_id = catalog.bi_tenant())', t);
    EXECUTE format('GRANT SELECT ON %s TO composerp_api, composerp_bi', t);
END
$$;

GRANT USAGE ON SCHEMA sink, catalog TO composerp_api, composerp_bi;
SELECT sink.protect('catalog.tenants');
SELECT sink.protect('catalog.items');
SELECT sink.protect('catalog.locations');
SELECT sink.protect('catalog.suppliers');
SELECT sink.protect('catalog.supplier_items');
