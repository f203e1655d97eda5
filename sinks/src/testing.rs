//! A fresh, migrated database per test or benchmark run, so runs never collide; dropped with it.

use std::{str::FromStr, time::Duration};

use sqlx::{
    Connection, PgConnection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

/// The server tests use: `DATABASE_URL`, else the local one.
pub fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A database of its own on the test server, migrated; dropped (with its connections) on drop.
pub struct TestDatabase {
    server: PgConnectOptions,
    name: String,
    /// A pool connected as the owner (as the sinks connect).
    pub pool: PgPool,
}

impl TestDatabase {
    /// Creates and migrates `composerp_test_<random>` on the server of `DATABASE_URL`.
    pub async fn new() -> Result<Self, sqlx::Error> {
        let server = PgConnectOptions::from_str(&server_url())?;
        let name = format!("composerp_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect_with(&server).await?;
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(server.clone().database(&name))
            .await?;
        crate::migrate(&pool).await?;
        Ok(TestDatabase { server, name, pool })
    }

    /// Connection options of this database as `user` (e.g. composerp_api).
    pub fn options_as(&self, user: &str) -> PgConnectOptions {
        self.server.clone().database(&self.name).username(user)
    }

    /// URL of this database as the owner.
    pub fn url(&self) -> String {
        let mut url = url::Url::parse(&server_url()).expect("DATABASE_URL parsed before");
        url.set_path(&self.name);
        url.to_string()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server, name, pool) = (self.server.clone(), self.name.clone(), self.pool.clone());
        // A thread of its own: drop may run inside or outside a Tokio runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                // A connection the test just let go of returns to the pool in a task of the
                // test's runtime, which this join blocks when it has one thread: waiting for it
                // would never end. FORCE closes whatever is left.
                let _ = tokio::time::timeout(Duration::from_secs(1), pool.close()).await;
                let mut admin = PgConnection::connect_with(&server).await?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                Ok::<_, sqlx::Error>(())
            })
            .map_err(std::io::Error::other)
        })
        .join();
    }
}
