//! The doctor's Postgres checks: reachable, every migration of this build applied (and none
//! altered), the roles the API and BI readers use, and row-level security on every tenant table.

use std::{collections::HashMap, time::Duration};

use sqlx::{Row, postgres::PgPoolOptions};

use super::{Finding, Severity};

/// Runs every Postgres check against `url` (the owner's URL, as the sinks and `migrate` use).
pub async fn check(url: &str, timeout: Duration, findings: &mut Vec<Finding>) {
    let area = "postgres";
    let shown = redact(url);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(timeout)
        .connect(url)
        .await;
    let pool = match pool {
        Ok(p) => p,
        Err(e) => {
            findings.push(
                Finding::new(area, Severity::Broken, format!("cannot connect to {shown}: {e}"))
                    .fix("start Postgres (or PgBouncer), or fix DATABASE_URL; sinks and the API wait and retry meanwhile"),
            );
            return;
        }
    };
    match migrations(&pool).await {
        Ok(found) => findings.extend(found),
        Err(e) => findings.push(Finding::new(
            area,
            Severity::Broken,
            format!("cannot read the migrations table: {e}"),
        )),
    }
    match roles_and_rls(&pool).await {
        Ok(found) => findings.extend(found),
        Err(e) => findings.push(Finding::new(
            area,
            Severity::Degraded,
            format!("cannot read roles and row-level security: {e}"),
        )),
    }
    pool.close().await;
}

/// This build's migrations against `_sqlx_migrations`.
async fn migrations(pool: &sqlx::PgPool) -> Result<Vec<Finding>, sqlx::Error> {
    let area = "postgres";
    let exists: bool =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations') IS NOT NULL")
            .fetch_one(pool)
            .await?;
    if !exists {
        return Ok(vec![
            Finding::new(
                area,
                Severity::Broken,
                "no migration applied (the database is empty)",
            )
            .fix("run `composerp migrate` (k8s: the composerp-migrate job)"),
        ]);
    }
    let rows = sqlx::query("SELECT version, success, checksum FROM _sqlx_migrations")
        .fetch_all(pool)
        .await?;
    let applied: HashMap<i64, (bool, Vec<u8>)> = rows
        .iter()
        .map(|r| -> Result<(i64, (bool, Vec<u8>)), sqlx::Error> {
            Ok((
                r.try_get("version")?,
                (r.try_get("success")?, r.try_get("checksum")?),
            ))
        })
        .collect::<Result<_, _>>()?;
    let known = &composerp_sinks::MIGRATOR;
    let (mut missing, mut failed, mut altered) = (Vec::new(), Vec::new(), Vec::new());
    for m in known.iter() {
        let name = format!("{:04} {}", m.version, m.description);
        match applied.get(&m.version) {
            None => missing.push(name),
            Some((false, _)) => failed.push(name),
            Some((true, sum)) if sum.as_slice() != &*m.checksum => altered.push(name),
            Some(_) => {}
        }
    }
    let newer = applied
        .keys()
        .filter(|v| !known.iter().any(|m| m.version == **v))
        .count();
    let mut out = Vec::new();
    if !missing.is_empty() {
        out.push(
            Finding::new(area, Severity::Broken, format!("migrations not applied: {}", missing.join(", ")))
                .fix("run `composerp migrate` (k8s: the composerp-migrate job); the sinks also migrate at start"),
        );
    }
    if !failed.is_empty() {
        out.push(
            Finding::new(
                area,
                Severity::Broken,
                format!("migrations that failed half-way: {}", failed.join(", ")),
            )
            .fix("repair by hand, delete its row from _sqlx_migrations, then `composerp migrate`"),
        );
    }
    if !altered.is_empty() {
        out.push(
            Finding::new(area, Severity::Broken, format!("applied migrations differ from this build's: {}", altered.join(", ")))
                .fix("a migration file was edited after release: run the build that applied it, or restore the file"),
        );
    }
    if newer > 0 {
        out.push(
            Finding::new(
                area,
                Severity::Degraded,
                format!("{newer} migration(s) newer than this build are applied"),
            )
            .fix("the database was migrated by a newer Composerp: upgrade this one"),
        );
    }
    if out.is_empty() {
        out.push(Finding::new(
            area,
            Severity::Ok,
            format!("all {} migrations applied", known.iter().count()),
        ));
    }
    Ok(out)
}

/// The API and BI roles exist, and every table with a `tenant_id` they may read has row-level
/// security with policies (tables they cannot read, like `auth.api_keys`, need none).
async fn roles_and_rls(pool: &sqlx::PgPool) -> Result<Vec<Finding>, sqlx::Error> {
    let area = "postgres";
    let mut out = Vec::new();
    let roles: Vec<String> = sqlx::query_scalar(
        "SELECT r FROM unnest(ARRAY['composerp_api', 'composerp_bi']) r \
         WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r)",
    )
    .fetch_all(pool)
    .await?;
    if !roles.is_empty() {
        out.push(
            Finding::new(area, Severity::Broken, format!("roles missing: {}", roles.join(", ")))
                .fix("they are created by migration 0001: run `composerp migrate` as a role that may CREATE ROLE"),
        );
    }
    // has_table_privilege fails on a missing role: with one missing, that is the finding.
    let unprotected: Vec<String> = if !roles.is_empty() {
        Vec::new()
    } else {
        sqlx::query_scalar(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\\_%' \
           AND n.nspname NOT IN ('information_schema', 'public') \
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid \
                       AND a.attname = 'tenant_id' AND NOT a.attisdropped) \
           AND (has_table_privilege('composerp_api', c.oid, 'SELECT') \
                OR has_table_privilege('composerp_bi', c.oid, 'SELECT')) \
           AND (NOT c.relrowsecurity \
                OR NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)) \
         ORDER BY 1",
        )
        .fetch_all(pool)
        .await?
    };
    if !unprotected.is_empty() {
        out.push(
            Finding::new(area, Severity::Broken, format!("tenant tables without row-level security: {}", unprotected.join(", ")))
                .fix("every tenant table needs `SELECT sink.protect('<schema>.<table>')` in its migration; the API could read other tenants' rows"),
        );
    }
    if out.is_empty() {
        out.push(Finding::new(
            area,
            Severity::Ok,
            "roles composerp_api and composerp_bi exist; every tenant table has row-level security",
        ));
    }
    Ok(out)
}

/// The URL with any password removed, for the report.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_the_report() {
        assert_eq!(
            redact("postgres://sink:s3cret@db:5432/composerp"),
            "postgres://sink:***@db:5432/composerp"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
    }
}
