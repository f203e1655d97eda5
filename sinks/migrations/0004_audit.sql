-- Who did what, when: every API write and every authentication failure.
CREATE SCHEMA audit;
GRANT USAGE ON SCHEMA audit TO composerp_api;

CREATE TABLE audit.audit_log (
    -- Empty for authentication failures that name no valid tenant.
    tenant_id  text NOT NULL,
    id         bigint GENERATED ALWAYS AS IDENTITY,
    at         timestamptz NOT NULL DEFAULT now(),
    -- Subject of the token or API key id; empty when unauthenticated.
    actor      text NOT NULL,
    action     text NOT NULL,
    resource   text NOT NULL,
    outcome    text NOT NULL,
    request_id text,
    detail     jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_at ON audit.audit_log (tenant_id, at);
ALTER TABLE audit.audit_log ENABLE ROW LEVEL SECURITY;
-- The API appends for any tenant (authentication failures come before a tenant is known) and
-- reads only its session's tenant.
CREATE POLICY api_append ON audit.audit_log FOR INSERT TO composerp_api WITH CHECK (true);
CREATE POLICY api_read ON audit.audit_log FOR SELECT TO composerp_api
    USING (tenant_id = sink.current_tenant());
GRANT INSERT, SELECT ON audit.audit_log TO composerp_api;
