-- API keys for services: one tenant and one role each, stored as SHA-256 of the secret only.
CREATE SCHEMA auth;

CREATE TABLE auth.api_keys (
    tenant_id     text NOT NULL,
    key_id        text NOT NULL UNIQUE,
    role          text NOT NULL CHECK (role IN ('viewer', 'planner', 'admin')),
    name          text NOT NULL,
    secret_sha256 bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    PRIMARY KEY (tenant_id, key_id)
);

-- The API looks a key up before it knows the tenant; this function is its only way in.
CREATE FUNCTION auth.find_api_key(id text)
RETURNS TABLE (tenant_id text, role text, secret_sha256 bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, auth AS $$
    SELECT k.tenant_id, k.role, k.secret_sha256 FROM auth.api_keys k
    WHERE k.key_id = id AND k.revoked_at IS NULL
$$;
REVOKE ALL ON FUNCTION auth.find_api_key(text) FROM PUBLIC;
GRANT USAGE ON SCHEMA auth TO composerp_api;
GRANT EXECUTE ON FUNCTION auth.find_api_key(text) TO composerp_api;

-- Creates a key and returns it once (`ck_<id>.<secret>`); run by an administrator.
CREATE FUNCTION auth.create_api_key(tenant text, key_role text, key_name text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    id     text := replace(gen_random_uuid()::text, '-', '');
    secret text := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
BEGIN
    INSERT INTO auth.api_keys (tenant_id, key_id, role, name, secret_sha256)
    VALUES (tenant, id, key_role, key_name, sha256(convert_to(secret, 'UTF8')));
    RETURN 'ck_' || id || '.' || secret;
END
$$;
REVOKE ALL ON FUNCTION auth.create_api_key(text, text, text) FROM PUBLIC;
