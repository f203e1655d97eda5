//! The API through PgBouncer in transaction mode (Debian's 1.18, which does not track prepared
//! statements): concurrent requests that share two server connections must all succeed, on the
//! paths inside a transaction (tenant reads) and outside one (readiness, API keys).
//!
//! Ignored until the API's queries change: sqlx 0.8.6 names every persistent statement
//! (`sqlx_s_<n>`, counted per client connection) even with `statement-cache-capacity=0`, so two
//! clients sharing a server connection collide ("prepared statement \"sqlx_s_2\" already
//! exists"; run it with `--ignored` to see). README, "PgBouncer", says what has to change.

mod common;

use std::{
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::Proc;
use composerp_sinks::testing::{TestDatabase, server_url};

const SECRET: &str = "pgbouncer-test-secret-of-at-least-32-bytes";

/// A free loopback port.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// PgBouncer in transaction mode on `port` in front of the test server, at most two server
/// connections per database and user, so concurrent clients share them. It refuses to run as
/// root, so as root it runs as the `postgres` user.
fn pgbouncer(dir: &Path, port: u16) -> anyhow::Result<Proc> {
    let server = url::Url::parse(&server_url())?;
    let ini = dir.join("pgbouncer.ini");
    std::fs::write(
        dir.join("users.txt"),
        "\"postgres\" \"\"\n\"composerp_api\" \"\"\n\"root\" \"\"\n",
    )?;
    std::fs::write(
        &ini,
        format!(
            "[databases]\n* = host={} port={}\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
             listen_port = {port}\nunix_socket_dir =\npool_mode = transaction\nauth_type = trust\n\
             auth_file = {}\ndefault_pool_size = 2\nmax_client_conn = 200\n\
             ignore_startup_parameters = extra_float_digits,options\n",
            server.host_str().unwrap_or("127.0.0.1"),
            server.port().unwrap_or(5432),
            dir.join("users.txt").display()
        ),
    )?;
    let mut cmd = Command::new("pgbouncer");
    // `id -u` rather than libc: the crate forbids unsafe code.
    let root = Command::new("id")
        .arg("-u")
        .output()?
        .stdout
        .starts_with(b"0");
    if root {
        for f in ["pgbouncer.ini", "users.txt"] {
            Command::new("chmod").arg("644").arg(dir.join(f)).status()?;
        }
        Command::new("chmod").arg("755").arg(dir).status()?;
        cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "pgbouncer",
        ]);
    }
    let child = cmd
        .arg(&ini)
        .stdout(Stdio::null())
        .stderr(common::append(&dir.join("pgbouncer.log"))?)
        .spawn()
        .map_err(|e| anyhow::anyhow!("starting pgbouncer (Debian package pgbouncer): {e}"))?;
    let proc = Proc(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(10),
            "pgbouncer did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(proc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "sqlx names statements even with the cache off; the API's queries must be unnamed (README, PgBouncer)"]
async fn the_api_answers_every_concurrent_request_through_pgbouncer() -> anyhow::Result<()> {
    let db = TestDatabase::new().await?;
    let key: String =
        sqlx::query_scalar("SELECT auth.create_api_key('demo', 'viewer', 'bouncer-test')")
            .fetch_one(&db.pool)
            .await?;
    let dir = tempfile::tempdir()?;
    let bouncer_port = free_port()?;
    let mut bouncer = pgbouncer(dir.path(), bouncer_port)?;
    let name = url::Url::parse(&db.url())?
        .path()
        .trim_start_matches('/')
        .to_owned();
    let through = format!(
        "postgres://composerp_api@127.0.0.1:{bouncer_port}/{name}?statement-cache-capacity=0"
    );

    let api_port = free_port()?;
    let mut api = Proc(
        common::composerp("127.0.0.1:9")
            .env("COMPOSERP_JWT_HS256_SECRET", SECRET)
            .env("API_DATABASE_URL", &through)
            .args(["api", "serve", "--listen", &format!("127.0.0.1:{api_port}")])
            .args([
                "--rate-per-caller",
                "1000000",
                "--rate-per-tenant",
                "1000000",
            ])
            .stdout(Stdio::null())
            .stderr(common::append(&dir.path().join("api.log"))?)
            .spawn()?,
    );
    let token = common::composerp("127.0.0.1:9")
        .env("COMPOSERP_JWT_HS256_SECRET", SECRET)
        .args(["api", "token", "--role", "viewer"])
        .output()?;
    anyhow::ensure!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let token = String::from_utf8(token.stdout)?.trim().to_owned();

    let base = format!("http://127.0.0.1:{api_port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "the API did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 16 clients at once over two server connections: named statements would collide
    // ("prepared statement … already exists") or go missing after the first few requests.
    let mut tasks = Vec::new();
    for c in 0..16 {
        let (client, base, token, key) = (client.clone(), base.clone(), token.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for n in 0..40 {
                let request = match (c + n) % 4 {
                    0 => client.get(format!("{base}/readyz")),
                    1 => client
                        .get(format!("{base}/v1/items"))
                        .header("x-api-key", &key),
                    2 => client
                        .get(format!("{base}/v1/positions?limit=10"))
                        .bearer_auth(&token),
                    _ => client
                        .get(format!("{base}/v1/items/i-{n}"))
                        .bearer_auth(&token),
                };
                let r = request.send().await?;
                statuses.push((r.status().as_u16(), r.url().path().to_owned()));
            }
            Ok::<_, reqwest::Error>(statuses)
        }));
    }
    let mut answered = 0;
    for t in tasks {
        for (status, path) in t.await?? {
            answered += 1;
            let expected = if path.starts_with("/v1/items/i-") {
                404
            } else {
                200
            };
            assert_eq!(
                status,
                expected,
                "{path}; API log:\n{}",
                std::fs::read_to_string(dir.path().join("api.log")).unwrap_or_default()
            );
        }
    }
    assert_eq!(answered, 16 * 40);
    // The API and PgBouncer let go of the database before it is dropped.
    api.sigkill()?;
    bouncer.sigkill()?;
    Ok(())
}
