//! A fresh, migrated database per test or benchmark run, so runs never collide; dropped with it.
//! And Debian's PgBouncer in front of it, for what must work through a transaction pooler.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    str::FromStr,
    time::{Duration, Instant},
};

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

/// Debian's PgBouncer (1.18, which tracks no prepared statements) in transaction mode on a free
/// loopback port in front of the test server, trusting the users it is started with; SIGKILLed,
/// and its directory removed, on drop.
pub struct PgBouncer {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl PgBouncer {
    /// Starts it with at most `server_connections` per database and user, so concurrent clients
    /// share them. PgBouncer refuses to run as root, so as root it runs as `postgres`.
    pub fn start(users: &[&str], server_connections: u32) -> std::io::Result<Self> {
        Self::start_with(users, server_connections, "")
    }

    /// As [`PgBouncer::start`], with `settings` (lines of the `[pgbouncer]` section, e.g.
    /// `pkt_buf = 65536`) added to its configuration.
    pub fn start_with(
        users: &[&str],
        server_connections: u32,
        settings: &str,
    ) -> std::io::Result<Self> {
        let server = PgConnectOptions::from_str(&server_url()).map_err(std::io::Error::other)?;
        let host = match server.get_host() {
            h if h.starts_with('/') => "127.0.0.1",
            h => h,
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = std::env::temp_dir().join(format!("composerp-pgbouncer-{port}"));
        std::fs::create_dir_all(&dir)?;
        let userlist: String = users.iter().map(|u| format!("\"{u}\" \"\"\n")).collect();
        std::fs::write(dir.join("users.txt"), userlist)?;
        let ini = dir.join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host={host} port={}\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
                 listen_port = {port}\nunix_socket_dir =\npool_mode = transaction\n\
                 auth_type = trust\nauth_file = {}\ndefault_pool_size = {server_connections}\n\
                 max_client_conn = 500\nignore_startup_parameters = extra_float_digits,options\n\
                 {settings}\n",
                server.get_port(),
                dir.join("users.txt").display()
            ),
        )?;
        // Killed with the process that started it, even by SIGKILL, so none is left behind.
        let mut cmd = Command::new("setpriv");
        cmd.arg("--pdeathsig=KILL");
        // `id -u` rather than libc: the crates forbid unsafe code.
        if Command::new("id").arg("-u").output()?.stdout == b"0\n" {
            Command::new("chmod")
                .arg("-R")
                .arg("a+rwX")
                .arg(&dir)
                .status()?;
            cmd.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]);
        }
        cmd.arg("pgbouncer");
        let child = cmd
            .arg(&ini)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("pgbouncer.log"))?)
            .spawn()
            .map_err(|e| {
                std::io::Error::other(format!(
                    "starting pgbouncer (Debian package pgbouncer): {e}"
                ))
            })?;
        let bouncer = PgBouncer { child, dir, port };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                return Err(std::io::Error::other(format!(
                    "pgbouncer did not start: {}",
                    bouncer.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(bouncer)
    }

    /// Its loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connection options of `db` as `user` through PgBouncer.
    pub fn options(&self, db: &TestDatabase, user: &str) -> PgConnectOptions {
        db.options_as(user).host("127.0.0.1").port(self.port)
    }

    /// What PgBouncer logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
