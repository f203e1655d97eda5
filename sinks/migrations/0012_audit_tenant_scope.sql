-- The API appends audit rows only for the tenant its transaction is scoped to (app.tenant_id),
-- and rows without tenant and actor (refused authentications, before a tenant is known) only
-- outside any tenant scope: a request of one tenant cannot write into another's log.
DROP POLICY api_append ON audit.audit_log;
CREATE POLICY api_append ON audit.audit_log FOR INSERT TO composerp_api
    WITH CHECK (
        tenant_id = sink.current_tenant()
        OR (tenant_id = '' AND actor = '' AND sink.current_tenant() IS NULL)
    );

-- A write is found by its event id: a keyed retry, and a command's outcome.
CREATE INDEX audit_log_event ON audit.audit_log (tenant_id, resource, (detail ->> 'event_id'));
