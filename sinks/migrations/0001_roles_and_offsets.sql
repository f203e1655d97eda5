-- Roles the API and BI tools connect as, and the sinks' consumed offsets.
--
-- Roles are cluster-wide, so creating them tolerates a concurrent migration of another database.
-- composerp_api: the read API; sees the rows of the tenant in the session setting app.tenant_id.
-- composerp_bi: group role of BI readers; each reader sees the one tenant catalog.bi_readers
-- names for it (see catalog.grant_bi_reader). Neither owns a table, so row-level security
-- always applies to them.
DO $$
BEGIN
    BEGIN
        CREATE ROLE composerp_api LOGIN NOINHERIT;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
    BEGIN
        CREATE ROLE composerp_bi NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
END
$$;

CREATE SCHEMA sink;

-- The next offset to consume per sink and input partition, written in the same transaction as
-- the rows, so a restart continues exactly where the last commit ended.
CREATE TABLE sink.offsets (
    sink        text    NOT NULL,
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sink, topic, partition)
);

-- The tenant of the current request (API) or reader (BI); NULL when none, which matches no row.
CREATE FUNCTION sink.current_tenant() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT NULLIF(current_setting('app.tenant_id', true), '')
$$;
