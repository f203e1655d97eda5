//! `composerp api serve|token`: the read API, and HS256 tokens for local use.

use std::{process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context;
use composerp_api::{
    AppState,
    auth::{AuthConfig, Authenticator, Role},
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

/// The verification settings, the JWKS read from its file or URL.
pub async fn auth_config(jwt: &JwtArgs) -> anyhow::Result<AuthConfig> {
    let jwks = match &jwt.jwks {
        None => None,
        Some(src) if src.starts_with("http://") || src.starts_with("https://") => Some(
            reqwest::get(src)
                .await
                .and_then(|r| r.error_for_status())
                .with_context(|| format!("fetching the JWKS from {src}"))?
                .text()
                .await?,
        ),
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the JWKS file {path}"))?,
        ),
    };
    Ok(AuthConfig {
        hs256_secret: jwt.jwt_hs256_secret.as_ref().map(|s| s.as_bytes().to_vec()),
        jwks,
        audience: jwt.jwt_audience.clone(),
        issuer: jwt.jwt_issuer.clone(),
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

/// The API's state: a pool as `composerp_api` and the token verifier.
pub async fn state(
    url: &str,
    jwt: &JwtArgs,
    limits: RateLimits,
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
    Ok(AppState {
        pool,
        auth: Arc::new(auth),
        limits: Arc::new(Limiter::new(limits)),
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
    let limits = RateLimits {
        per_caller: args.rate_per_caller,
        per_tenant: args.rate_per_tenant,
        failures_per_address: args.failures_per_address,
    };
    let codec = super::codec(settings).await?;
    let state = state(&url, &args.jwt, limits, &settings.kafka, codec).await?;
    if let Some(src) = args.jwt.jwks.clone().filter(|s| s.starts_with("http")) {
        tokio::spawn(refresh_jwks(src, state.auth.clone()));
    }
    let recorder = super::metrics::install()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    eprintln!(
        "API on http://{}/v1 (OpenAPI at /openapi.json)",
        listener.local_addr()?
    );
    let app = composerp_api::router(state).route(
        "/metrics",
        axum::routing::get(move || std::future::ready(recorder.render())),
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async { super::Signals::new().next().await })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// An HS256 token for `tenant` (`--tenant`, COMPOSERP_TENANT) with one role.
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
    let mut claims = serde_json::json!({
        "sub": subject, "aud": jwt.jwt_audience, "tenant_id": tenant, "roles": [role],
        "exp": chrono::Utc::now().timestamp() + ttl,
    });
    if let Some(iss) = &jwt.jwt_issuer {
        claims["iss"] = iss.as_str().into();
    }
    Ok(jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )?)
}
