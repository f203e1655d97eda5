//! `composerp api serve|token`: the read API, and HS256 tokens for local use.

use std::{process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context;
use composerp_api::{
    AppState,
    auth::{AuthConfig, Authenticator, JwksSource, Role},
    client::TrustedProxies,
    limit::{Limiter, RateLimits},
    publish::Events,
};
use composerp_events::Codec;
use composerp_kafka::KafkaSettings;
use sqlx::postgres::PgPoolOptions;

use crate::cli::{ApiCommand, ApiServeArgs, JwtArgs, Settings};

pub async fn run(cmd: ApiCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    match cmd {
        ApiCommand::Serve(a) => serve(a, settings).await,
        ApiCommand::Token(a) => {
            println!(
                "{}",
                token_for(&a.jwt, &settings.tenant, &a.role, &a.subject, a.ttl)?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The verification settings, the JWKS read from its file or https URL.
pub async fn auth_config(jwt: &JwtArgs) -> anyhow::Result<AuthConfig> {
    let jwks = match jwt.jwks.as_deref().map(JwksSource::parse).transpose()? {
        None => None,
        Some(JwksSource::Https(src)) => Some(
            reqwest::get(&src)
                .await
                .and_then(|r| r.error_for_status())
                .with_context(|| format!("fetching the JWKS from {src}"))?
                .text()
                .await?,
        ),
        Some(JwksSource::File(path)) => Some(
            std::fs::read_to_string(&path)
                .with_context(|| format!("reading the JWKS file {path}"))?,
        ),
    };
    Ok(AuthConfig {
        hs256_secret: jwt.jwt_hs256_secret.as_ref().map(|s| s.as_bytes().to_vec()),
        jwks,
        allow_hs256_with_jwks: jwt.allow_hs256_with_jwks,
        audience: jwt.jwt_audience.clone(),
        issuer: jwt.jwt_issuer.clone(),
        tenant_claim: jwt.jwt_tenant_claim.clone(),
        roles_claim: jwt.jwt_roles_claim.clone(),
        max_ttl_secs: jwt.jwt_max_ttl,
    })
}

/// Reads a JWKS URL again every 5 minutes, so rotated keys apply without a restart; a failed read
/// keeps the keys in place.
async fn refresh_jwks(url: String, auth: Arc<Authenticator>) {
    let mut every = tokio::time::interval(Duration::from_secs(300));
    every.tick().await;
    loop {
        every.tick().await;
        let fetched = async { reqwest::get(&url).await?.error_for_status()?.text().await }.await;
        match fetched.map(|text| auth.replace_jwks(&text)) {
            Ok(Ok(keys)) => tracing::info!(keys, "JWKS refreshed."),
            Ok(Err(e)) => tracing::warn!(error = %e, "JWKS refresh refused; keys kept."),
            Err(e) => tracing::warn!(error = %e, "JWKS refresh failed; keys kept."),
        }
    }
}

/// DATABASE_URL with the API's role as user (and no password: set API_DATABASE_URL for one).
pub fn api_database_url(database_url: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(database_url).context("DATABASE_URL is not a URL")?;
    url.set_username("composerp_api")
        .and_then(|()| url.set_password(None))
        .map_err(|()| anyhow::anyhow!("DATABASE_URL cannot carry a user"))?;
    Ok(url.to_string())
}

/// Whether the API may name its prepared statements: not when `url` turns sqlx's statement
/// cache off (`statement-cache-capacity=0`), as a URL to PgBouncer in transaction mode should.
pub fn named_statements(url: &str) -> bool {
    url::Url::parse(url).map_or(true, |u| {
        !u.query_pairs()
            .any(|(k, v)| k == "statement-cache-capacity" && v.trim() == "0")
    })
}

/// The API's state: a pool as `composerp_api`, the token verifier and the limits (pruned every
/// minute).
pub async fn state(
    url: &str,
    jwt: &JwtArgs,
    limits: impl Into<Limiter>,
    kafka: &KafkaSettings,
    codec: Codec,
) -> anyhow::Result<AppState> {
    let auth = Authenticator::new(&auth_config(jwt).await?)
        .context("COMPOSERP_JWT_HS256_SECRET / COMPOSERP_JWKS")?;
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(3))
        .connect(url)
        .await
        .context("connecting to Postgres as the API role (composerp_api)")?;
    let limits = Arc::new(limits.into());
    Limiter::spawn_pruning(&limits, Duration::from_secs(60));
    Ok(AppState {
        named: named_statements(url),
        pool,
        auth: Arc::new(auth),
        limits,
        events: Some(Arc::new(
            Events::new(kafka, codec).context("creating the Kafka producer for writes")?,
        )),
    })
}

async fn serve(args: ApiServeArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let url = match args.api_database_url {
        Some(u) => u,
        None => api_database_url(&settings.database_url)?,
    };
    let limits = Limiter::new(RateLimits {
        per_caller: args.rate_per_caller,
        per_tenant: args.rate_per_tenant,
        failures_per_address: args.failures_per_address,
        failures_per_identity: args.failures_per_identity,
    })
    .with_trusted_proxies(
        TrustedProxies::parse(&args.trusted_proxies).context("--trusted-proxies")?,
    );
    let codec = super::codec(settings).await?;
    let state = state(&url, &args.jwt, limits, &settings.kafka, codec).await?;
    if let Some(Ok(JwksSource::Https(src))) = args.jwt.jwks.as_deref().map(JwksSource::parse) {
        tokio::spawn(refresh_jwks(src, state.auth.clone()));
    }
    // Metrics go to an address of their own (as for `run` and `sink`), never the public API's.
    super::metrics::expose(args.metrics_addr, super::metrics::install()?).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    eprintln!(
        "API on http://{}/v1 (OpenAPI at /openapi.json)",
        listener.local_addr()?
    );
    let app = composerp_api::router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async { super::Signals::new().next().await })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// An HS256 token for `tenant` (`--tenant`, COMPOSERP_TENANT) with one role, valid from now for
/// `ttl` seconds (at most COMPOSERP_JWT_MAX_TTL).
pub fn token_for(
    jwt: &JwtArgs,
    tenant: &str,
    role: &str,
    subject: &str,
    ttl: i64,
) -> anyhow::Result<String> {
    let secret = jwt
        .jwt_hs256_secret
        .as_ref()
        .context("COMPOSERP_JWT_HS256_SECRET is needed to sign a token")?;
    Role::parse(role).with_context(|| format!("no role {role:?}: viewer, planner or admin"))?;
    let max = i64::try_from(jwt.jwt_max_ttl).unwrap_or(i64::MAX);
    if !(1..=max).contains(&ttl) {
        anyhow::bail!("--ttl {ttl}: a token lives 1 to {max} s (COMPOSERP_JWT_MAX_TTL)");
    }
    let now = chrono::Utc::now().timestamp();
    let mut claims = serde_json::json!({
        "sub": subject, "aud": jwt.jwt_audience, "iat": now, "nbf": now, "exp": now + ttl,
    });
    claims[jwt.jwt_tenant_claim.as_str()] = tenant.into();
    claims[jwt.jwt_roles_claim.as_str()] = serde_json::json!([role]);
    if let Some(iss) = &jwt.jwt_issuer {
        claims["iss"] = iss.as_str().into();
    }
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt() -> JwtArgs {
        JwtArgs {
            jwt_hs256_secret: Some("0123456789abcdef0123456789abcdef".into()),
            jwks: None,
            allow_hs256_with_jwks: false,
            jwt_audience: "composerp".into(),
            jwt_issuer: None,
            jwt_tenant_claim: "tenant_id".into(),
            jwt_roles_claim: "roles".into(),
            jwt_max_ttl: 3600,
        }
    }

    #[test]
    fn statements_are_unnamed_only_with_the_cache_off() {
        assert!(named_statements("postgres://composerp_api@db/composerp"));
        assert!(named_statements(
            "postgres://db/c?statement-cache-capacity=100"
        ));
        assert!(!named_statements(
            "postgres://pgbouncer:6432/c?sslmode=require&statement-cache-capacity=0"
        ));
    }

    #[test]
    fn a_token_longer_than_the_maximum_is_not_minted() {
        let j = jwt();
        assert!(token_for(&j, "acme", "viewer", "ann", 3601).is_err());
        assert!(token_for(&j, "acme", "viewer", "ann", 0).is_err());
        let t = token_for(&j, "acme", "viewer", "ann", 3600).expect("within the maximum");
        let auth = Authenticator::new(&AuthConfig {
            hs256_secret: Some(b"0123456789abcdef0123456789abcdef".to_vec()),
            max_ttl_secs: 3600,
            ..Default::default()
        })
        .expect("valid config");
        assert_eq!(auth.verify(&t).map(|p| p.tenant), Ok("acme".to_owned()));
    }
}
