//! `composerp migrate`: brings DATABASE_URL to the current schema (the sinks do it at start too).

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::Settings;

pub async fn run(settings: &Settings) -> anyhow::Result<ExitCode> {
    apply(&settings.database_url).await?;
    eprintln!(
        "migrated: {} migrations",
        composerp_sinks::MIGRATOR.iter().count()
    );
    Ok(ExitCode::SUCCESS)
}

/// Applies the migrations to `url`; idempotent, safe from several processes at once.
pub async fn apply(url: &str) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(url)
        .await
        .context("connecting to DATABASE_URL")?;
    composerp_sinks::migrate(&pool)
        .await
        .context("migrating the database")?;
    pool.close().await;
    Ok(())
}
