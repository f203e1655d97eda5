//! Commands, flags and the settings they are checked into.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use composerp_kafka::KafkaSettings;

/// Composerp: streaming inventory and replenishment over Kafka.
#[derive(Debug, Parser)]
#[command(name = "composerp", version, about, propagate_version = true)]
pub struct Cli {
    /// Settings shared by every command.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Settings shared by every command; each flag falls back to its environment variable.
#[derive(Debug, Args)]
pub struct Global {
    /// Kafka bootstrap servers, host:port[,host:port…].
    #[arg(
        long,
        env = "KAFKA_BROKERS",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    pub brokers: String,
    /// Extra librdkafka properties, comma separated k=v (e.g. security.protocol=SASL_SSL).
    #[arg(long, env = "KAFKA_PROPERTIES", global = true, hide_env_values = true)]
    pub kafka_properties: Option<String>,
    /// SASL user of Composerp's Kafka clients; unset connects without SASL.
    #[arg(long, env = "KAFKA_SASL_USERNAME", global = true)]
    pub kafka_sasl_username: Option<String>,
    /// SASL password (with KAFKA_SASL_USERNAME).
    #[arg(
        long,
        env = "KAFKA_SASL_PASSWORD",
        global = true,
        hide_env_values = true
    )]
    pub kafka_sasl_password: Option<String>,
    /// SASL mechanism: SCRAM-SHA-512 (default), SCRAM-SHA-256 or PLAIN.
    #[arg(long, env = "KAFKA_SASL_MECHANISM", global = true)]
    pub kafka_sasl_mechanism: Option<String>,
    /// SASL_PLAINTEXT (default) or SASL_SSL, with KAFKA_SASL_USERNAME.
    #[arg(long, env = "KAFKA_SECURITY_PROTOCOL", global = true)]
    pub kafka_security_protocol: Option<String>,
    /// Confluent-compatible schema registry; unset uses the embedded catalog and ids.
    #[arg(
        long,
        env = "SCHEMA_REGISTRY_URL",
        global = true,
        hide_env_values = true
    )]
    pub schema_registry_url: Option<String>,
    /// Postgres for sinks and the API; unset means postgres://postgres@127.0.0.1:5432/test.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory for processor state stores.
    #[arg(
        long,
        env = "COMPOSERP_STATE_DIR",
        default_value = "./state",
        global = true
    )]
    pub state_dir: PathBuf,
    /// Tenant id (generate: the prefix of the generated tenants' ids).
    #[arg(long, env = "COMPOSERP_TENANT", default_value = "demo", global = true)]
    pub tenant: String,
}

/// Checked settings; building them is the only place configuration can fail.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Kafka connection.
    pub kafka: KafkaSettings,
    /// Registry URL, if any.
    pub schema_registry_url: Option<String>,
    /// Postgres URL.
    pub database_url: String,
    /// State directory.
    pub state_dir: PathBuf,
    /// Tenant id, or prefix of generated tenant ids.
    pub tenant: String,
}

impl Global {
    /// Validates the settings; the error names the variable at fault.
    pub fn settings(&self) -> Result<Settings, String> {
        for b in self.brokers.split(',') {
            let b = b.trim();
            let ok = b
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !ok {
                return Err(format!("KAFKA_BROKERS (--brokers): {b:?} is not host:port"));
            }
        }
        let mut kafka = KafkaSettings::new(&self.brokers, self.kafka_properties.as_deref())
            .map_err(|e| format!("KAFKA_PROPERTIES (--kafka-properties): {e}"))?;
        match (&self.kafka_sasl_username, &self.kafka_sasl_password) {
            (Some(user), Some(password)) => {
                let sasl = composerp_kafka::settings::Sasl::new(
                    self.kafka_security_protocol.as_deref(),
                    self.kafka_sasl_mechanism.as_deref(),
                    user,
                    password,
                )
                .map_err(|e| e.to_string())?;
                kafka = kafka.with_sasl(sasl);
            }
            (None, None) => {}
            _ => {
                return Err(
                    "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are needed together".into(),
                );
            }
        }
        if let Some(url) = &self.schema_registry_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(
                "SCHEMA_REGISTRY_URL (--schema-registry-url): must start with http:// or https://"
                    .into(),
            );
        }
        let tenant_ok = !self.tenant.is_empty()
            && self.tenant.len() <= 64
            && self
                .tenant
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
        if !tenant_ok {
            return Err(format!(
                "COMPOSERP_TENANT (--tenant): {:?} must be 1-64 of [A-Za-z0-9_-]",
                self.tenant
            ));
        }
        let database_url = self
            .database_url
            .clone()
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(
                "DATABASE_URL (--database-url): must start with postgres:// or postgresql://"
                    .into(),
            );
        }
        Ok(Settings {
            kafka,
            database_url,
            schema_registry_url: self.schema_registry_url.clone(),
            state_dir: self.state_dir.clone(),
            tenant: self.tenant.clone(),
        })
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and inspect the topics of the catalog.
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// List, show and check the Avro schemas.
    #[command(subcommand)]
    Schemas(SchemasCommand),
    /// Publish JSON lines as Avro records (Confluent framing) to a topic.
    Produce(ProduceArgs),
    /// Print a topic's Avro records as JSON lines.
    Tail(TailArgs),
    /// Publish realistic retail data with a known truth.
    Generate(GenerateArgs),
    /// Aggregate a sales history file with DataFusion and start the forecasting processors
    /// from it.
    Backfill(BackfillArgs),
    /// Judge replenishment policies in simulation: generated demand through the ledger,
    /// demand-features, forecasting and replenishment processors, in one process.
    Simulate(SimulateArgs),
    /// Run a processor (or `all`) until SIGINT or SIGTERM.
    Run(RunArgs),
    /// Apply the Postgres migrations to DATABASE_URL (the sinks do it at start too).
    Migrate,
    /// Materialize the output topics into Postgres until SIGINT or SIGTERM.
    Sink(SinkArgs),
    /// Serve the read API, or mint a token for local use.
    #[command(subcommand)]
    Api(ApiCommand),
    /// Start a local broker, create the topics, generate data and show it flowing.
    Demo(DemoArgs),
    /// Check the broker, topics, schemas, Postgres, lag, state and changelogs; exit 0 healthy,
    /// 5 degraded, 6 broken.
    Doctor(DoctorArgs),
    /// List, show and replay dead letters.
    #[command(subcommand)]
    Dlq(DlqCommand),
}

/// `composerp doctor`
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Sinks whose consumer lag to check (their --name), comma separated.
    #[arg(long, value_delimiter = ',', default_value = "postgres")]
    pub sinks: Vec<String>,
    /// Records behind, per processor or sink, from which its lag counts as degraded.
    #[arg(long, default_value_t = 100_000)]
    pub lag_warn: u64,
    /// Seconds without a commit marker, for a processor with lag, that count as degraded.
    #[arg(long, default_value_t = 600)]
    pub marker_age_warn_secs: u64,
    /// Seconds one broker, registry or Postgres call may take.
    #[arg(long, default_value_t = 5)]
    pub timeout_secs: u64,
}

/// `composerp dlq …`
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Dead letters of a topic grouped by reason.
    List(DlqSelect),
    /// One dead letter with its headers, decoded where possible.
    Show(DlqShowArgs),
    /// Re-publish chosen dead letters to their source topic with their key; each at most once,
    /// recorded in audit.audit_log.
    Replay(DlqReplayArgs),
}

/// Which dead letters a `dlq` command takes.
#[derive(Debug, Clone, Args)]
pub struct DlqSelect {
    /// Source topic id or name (e.g. pos.sales), or its dead-letter topic.
    #[arg(long)]
    pub topic: String,
    /// Only this reason (the `composerp.reason` header, e.g. beyond_dedupe_window).
    #[arg(long)]
    pub reason: Option<String>,
    /// Only dead letters written since: RFC 3339 (2026-12-06T00:00:00Z) or an age (90m, 24h, 7d).
    #[arg(long)]
    pub since: Option<String>,
}

/// `composerp dlq show`
#[derive(Debug, Args)]
pub struct DlqShowArgs {
    /// Source topic id or name, or its dead-letter topic.
    #[arg(long)]
    pub topic: String,
    /// Partition of the dead-letter topic.
    #[arg(long)]
    pub partition: i32,
    /// Offset in that partition.
    #[arg(long)]
    pub offset: i64,
}

/// `composerp dlq replay`
#[derive(Debug, Args)]
pub struct DlqReplayArgs {
    /// Which dead letters.
    #[command(flatten)]
    pub select: DlqSelect,
    /// Only these, as PARTITION:OFFSET of the dead-letter topic (repeatable).
    #[arg(long = "at", value_name = "PARTITION:OFFSET")]
    pub at: Vec<String>,
    /// Replay every selected dead letter when neither --reason, --since nor --at narrows them.
    #[arg(long)]
    pub all: bool,
    /// Who replays, for the audit log.
    #[arg(long, env = "COMPOSERP_ACTOR", default_value = "operator")]
    pub actor: String,
    /// Show what would be replayed; publish and record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply the selected beyond_dedupe_window dead letters even if their topic's dedupe window
    /// is still past them: you vouch that they never applied.
    #[arg(long)]
    pub beyond_window: bool,
}

/// `composerp api …`
#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Serve the API until SIGINT or SIGTERM.
    Serve(ApiServeArgs),
    /// Print an HS256 token signed with COMPOSERP_JWT_HS256_SECRET (local use and the demo).
    Token(TokenArgs),
}

/// How the API verifies tokens.
#[derive(Debug, Clone, Args)]
pub struct JwtArgs {
    /// Shared secret for HS256 tokens (at least 32 bytes); unset refuses HS256.
    #[arg(long, env = "COMPOSERP_JWT_HS256_SECRET", hide_env_values = true)]
    pub jwt_hs256_secret: Option<String>,
    /// JWKS with the RS256/ES256 public keys: a file path or an https URL (read at start).
    #[arg(long, env = "COMPOSERP_JWKS")]
    pub jwks: Option<String>,
    /// Accept HS256 tokens although a JWKS is set (the secret then signs for every tenant).
    #[arg(
        long,
        env = "COMPOSERP_JWT_ALLOW_HS256_WITH_JWKS",
        default_value_t = false
    )]
    pub allow_hs256_with_jwks: bool,
    /// Required token audience.
    #[arg(long, env = "COMPOSERP_JWT_AUDIENCE", default_value = "composerp")]
    pub jwt_audience: String,
    /// Required token issuer; mandatory with a JWKS.
    #[arg(long, env = "COMPOSERP_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// Claim holding the tenant id (a dotted path reaches into objects).
    #[arg(long, env = "COMPOSERP_JWT_TENANT_CLAIM", default_value = "tenant_id")]
    pub jwt_tenant_claim: String,
    /// Claim holding the Composerp roles.
    #[arg(long, env = "COMPOSERP_JWT_ROLES_CLAIM", default_value = "roles")]
    pub jwt_roles_claim: String,
    /// Longest accepted token lifetime in seconds (from `iat` to `exp`).
    #[arg(long, env = "COMPOSERP_JWT_MAX_TTL", default_value_t = composerp_api::auth::DEFAULT_MAX_TTL_SECS)]
    pub jwt_max_ttl: u64,
}

/// `composerp api serve`
#[derive(Debug, Args)]
pub struct ApiServeArgs {
    /// Address to listen on.
    #[arg(long, env = "COMPOSERP_API_ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Postgres as the API role; unset means DATABASE_URL with the user composerp_api.
    #[arg(long, env = "API_DATABASE_URL", hide_env_values = true)]
    pub api_database_url: Option<String>,
    /// Requests per second per caller (token subject or API key); twice that as a burst.
    #[arg(long, env = "COMPOSERP_API_RATE_PER_CALLER", default_value_t = 100)]
    pub rate_per_caller: u32,
    /// Requests per second per tenant, all callers together; twice that as a burst.
    #[arg(long, env = "COMPOSERP_API_RATE_PER_TENANT", default_value_t = 1000)]
    pub rate_per_tenant: u32,
    /// Failed authentications per second per client address before its refusals become 429s.
    #[arg(long, env = "COMPOSERP_API_FAILURES_PER_ADDRESS", default_value_t = 5)]
    pub failures_per_address: u32,
    /// Failed authentications per second per presented key id or token subject, likewise.
    #[arg(long, env = "COMPOSERP_API_FAILURES_PER_IDENTITY", default_value_t = 5)]
    pub failures_per_identity: u32,
    /// Proxies (addresses or CIDR blocks, comma separated) whose `X-Forwarded-For` names the
    /// client; empty trusts none, so the TCP peer is the client.
    #[arg(long, env = "COMPOSERP_API_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Serve Prometheus metrics on this address (not on the API's), e.g. 127.0.0.1:9469.
    #[arg(long, env = "COMPOSERP_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Token verification.
    #[command(flatten)]
    pub jwt: JwtArgs,
}

/// `composerp api token`
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Role: viewer, planner or admin.
    #[arg(long, default_value = "viewer")]
    pub role: String,
    /// Subject (who the token is for).
    #[arg(long, default_value = "local-user")]
    pub subject: String,
    /// Lifetime in seconds, at most COMPOSERP_JWT_MAX_TTL.
    #[arg(long, default_value_t = 3600)]
    pub ttl: i64,
    /// Token verification settings (the secret signs).
    #[command(flatten)]
    pub jwt: JwtArgs,
}

/// `composerp sink`
#[derive(Debug, Args)]
pub struct SinkArgs {
    /// Sink name: its consumer group is composerp-sink-<name>, its offsets are stored under it.
    #[arg(long, default_value = "postgres")]
    pub name: String,
    /// Only these tables, comma separated (e.g. inventory.positions); every table when absent.
    #[arg(long, value_delimiter = ',')]
    pub tables: Vec<String>,
    /// Commit after this many rows (default 20,000).
    #[arg(long)]
    pub batch_rows: Option<usize>,
    /// Serve Prometheus metrics on this address, e.g. 127.0.0.1:9465.
    #[arg(long, env = "COMPOSERP_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// `composerp run`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The processor to run (one of those registered in `app/src/registry.rs`) or `all`.
    pub processor: String,
    /// Commit after this many input records (default 50,000).
    #[arg(long)]
    pub batch_records: Option<usize>,
    /// Threads that handle records, each partition on one of them (default: the machine's cores).
    #[arg(long, env = "COMPOSERP_PROCESSING_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Consumer group (default composerp-<processor>); a new group takes every partition over
    /// from the changelog, e.g. for a blue/green switch.
    #[arg(long, env = "COMPOSERP_GROUP")]
    pub group: Option<String>,
    /// Serve Prometheus metrics on this address, e.g. 127.0.0.1:9464.
    #[arg(long, env = "COMPOSERP_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// `composerp topics …`
#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Create missing topics; report drift of existing ones. Idempotent.
    Apply,
    /// Print the catalog.
    List,
    /// Compare the catalog with the cluster.
    Describe,
}

/// `composerp schemas …`
#[derive(Debug, Subcommand)]
pub enum SchemasCommand {
    /// Every schema version with its id.
    List,
    /// Print one schema (e.g. SaleCompleted, pos/SaleCompleted.v1).
    Show {
        /// Record name, full name or path.
        name: String,
    },
    /// Check ids, naming and BACKWARD compatibility of every new version.
    Check {
        /// Check a folder laid out like avro-schemas/ instead of the embedded catalog.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// `composerp produce`
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Topic id or name (see `composerp topics list`).
    #[arg(long)]
    pub topic: String,
    /// JSON lines file; standard input when absent.
    #[arg(long)]
    pub file: Option<PathBuf>,
}

/// `composerp tail`
#[derive(Debug, Args)]
pub struct TailArgs {
    /// Topic id or name.
    #[arg(long)]
    pub topic: String,
    /// Start at the oldest record instead of the newest.
    #[arg(long)]
    pub from_beginning: bool,
    /// Stop after this many records.
    #[arg(long)]
    pub max: Option<u64>,
    /// Stop after this many seconds without a record.
    #[arg(long)]
    pub idle_timeout: Option<u64>,
    /// Wrap each record with its partition, offset, key and headers.
    #[arg(long)]
    pub with_metadata: bool,
}

/// `composerp generate`
#[derive(Debug, Args, Clone)]
pub struct GenerateArgs {
    /// Number of tenants.
    #[arg(long, default_value_t = 1)]
    pub tenants: u32,
    /// Locations per tenant (the first is a DC when there are two or more).
    #[arg(long, default_value_t = 4)]
    pub locations: u32,
    /// Items per tenant.
    #[arg(long, default_value_t = 50)]
    pub items: u32,
    /// Days of history.
    #[arg(long, default_value_t = 28)]
    pub days: u32,
    /// Random seed; the same seed gives the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Throttle to this many events per second.
    #[arg(long)]
    pub rate: Option<u64>,
    /// Write the expected final buckets per item-location to this CSV file.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// First day (UTC date) of the history.
    #[arg(long, default_value = "2024-01-01")]
    pub start: chrono::NaiveDate,
    /// Write the sale lines to this Parquet file (a history for `composerp backfill`) instead
    /// of publishing them; everything else is published as usual.
    #[arg(long, value_name = "FILE")]
    pub history_parquet: Option<PathBuf>,
}

/// `composerp backfill`
#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Sales history: a .parquet or .csv file with tenant_id, location_id, item_id,
    /// occurred_at, quantity and optionally line_type (see docs/domain.md).
    #[arg(long, value_name = "PATH")]
    pub sales: PathBuf,
    /// Last local day to take (default: each location's newest day in the file).
    #[arg(long)]
    pub as_of: Option<chrono::NaiveDate>,
    /// Aggregate and report, publish nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `composerp simulate`
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Simulated days per replication.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// Replications (independent worlds) per policy, target and mix.
    #[arg(long, default_value_t = 30)]
    pub replications: u32,
    /// Item-locations.
    #[arg(long, default_value_t = 1_000)]
    pub items: u32,
    /// Locations they are spread over.
    #[arg(long, default_value_t = 10)]
    pub locations: u32,
    /// Policies: sQ, sS, RS, minmax (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "sQ,sS,RS,minmax")]
    pub policy: Vec<String>,
    /// Target cycle service levels (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "0.95")]
    pub service_level: Vec<f64>,
    /// Demand mixes: smooth, intermittent (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "smooth,intermittent")]
    pub mix: Vec<String>,
    /// Mean supplier lead time, days.
    #[arg(long, default_value_t = 4.0)]
    pub lead_time_days: f64,
    /// Its standard deviation, days.
    #[arg(long, default_value_t = 1.0)]
    pub lead_time_std_days: f64,
    /// Days left out of the measures at the start.
    #[arg(long, default_value_t = 14)]
    pub warmup_days: u32,
    /// How the forecasting processor picks models: class or holdout.
    #[arg(long, default_value = "class")]
    pub selection: String,
    /// Seed of replication 0.
    #[arg(long, default_value_t = 20_261_206)]
    pub seed: u64,
    /// Replications run at once.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Write the chart of achieved cycle service (SVG) here.
    #[arg(long, value_name = "FILE")]
    pub chart: Option<PathBuf>,
}

/// `composerp demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Use the cluster of --brokers instead of starting a local Tansu broker.
    #[arg(long)]
    pub external: bool,
    /// Generator size.
    #[command(flatten)]
    pub generate: GenerateArgs,
}
