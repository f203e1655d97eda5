//! A Kafka-protocol broker on loopback for tests and the demo: Tansu with its memory engine.
//!
//! The binary is installed once by `deploy/local/bootstrap.sh` into
//! `$HOME/.cache/composerp/tansu-0.6.0/bin/tansu` (or named by `COMPOSERP_TANSU`).

use std::{
    net::{SocketAddr, TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// Tansu version the project pins.
pub const TANSU_VERSION: &str = "0.6.0";

/// Why the local broker did not start.
#[derive(Debug, thiserror::Error)]
pub enum LocalBrokerError {
    /// The Tansu binary is not installed.
    #[error(
        "Tansu {TANSU_VERSION} not found at {0}: run `bash deploy/local/bootstrap.sh` (or set COMPOSERP_TANSU)"
    )]
    NotInstalled(PathBuf),
    /// The process could not be spawned or a port found.
    #[error("could not start Tansu: {0}")]
    Io(#[from] std::io::Error),
    /// The broker did not accept connections in time.
    #[error("Tansu did not listen on {0} within 15 s")]
    NotReady(SocketAddr),
}

/// A running local broker; stopped when dropped.
#[derive(Debug)]
pub struct LocalBroker {
    child: Child,
    addr: SocketAddr,
}

/// Where the Tansu binary is expected.
pub fn tansu_path() -> PathBuf {
    if let Some(p) = std::env::var_os("COMPOSERP_TANSU") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".cache/composerp")
        .join(format!("tansu-{TANSU_VERSION}"))
        .join("bin/tansu")
}

impl LocalBroker {
    /// Starts Tansu on a free loopback port and waits until it accepts connections.
    pub fn start() -> Result<Self, LocalBrokerError> {
        let bin = tansu_path();
        if !bin.is_file() {
            return Err(LocalBrokerError::NotInstalled(bin));
        }
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let url = format!("tcp://{addr}");
        let child = Command::new(&bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/", "--silent"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut broker = LocalBroker { child, addr };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline || broker.child.try_wait()?.is_some() {
                return Err(LocalBrokerError::NotReady(addr));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        tracing::info!(%addr, "Local Tansu broker started.");
        broker.addr = addr;
        Ok(broker)
    }

    /// Bootstrap servers of this broker.
    pub fn brokers(&self) -> String {
        self.addr.to_string()
    }

    /// Operating-system process id, for tests that kill it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for LocalBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
