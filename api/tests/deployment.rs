//! The checked-in docker-compose.yml ships no secret and exposes nothing by default: secrets
//! come from an uncommitted `.env` (described by `.env.example`), published ports bind to
//! loopback, the clients' Kafka listeners authenticate with SCRAM, and no Composerp job is a
//! Postgres superuser.

use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn compose() -> String {
    std::fs::read_to_string(root().join("docker-compose.yml")).expect("docker-compose.yml")
}

/// `name: value` lines of the file, trimmed.
fn settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.trim().split_once(": "))
        .map(|(k, v)| (k.trim_start_matches("- ").to_owned(), v.trim().to_owned()))
        .collect()
}

#[test]
fn no_secret_is_committed_and_every_one_comes_from_the_env_file() {
    let text = compose();
    for (name, value) in settings(&text) {
        let secret = ["PASSWORD", "SECRET"].iter().any(|s| name.contains(s));
        if secret {
            assert!(
                value.starts_with("${") && value.ends_with(":-}"),
                "{name}: {value} must come from .env"
            );
        }
        if name.ends_with("DATABASE_URL") {
            assert!(
                value.contains(":${"),
                "{name}: {value} carries no password from .env"
            );
        }
    }
    assert!(
        !text.contains("local-only-secret"),
        "the old HS256 secret is gone"
    );
    let ignored = std::fs::read_to_string(root().join(".gitignore")).expect(".gitignore");
    assert!(
        ignored.lines().any(|l| l.trim() == ".env"),
        ".env is not committed"
    );
    let example = std::fs::read_to_string(root().join(".env.example")).expect(".env.example");
    for needed in [
        "POSTGRES_SUPERUSER_PASSWORD",
        "COMPOSERP_DB_PASSWORD",
        "COMPOSERP_API_DB_PASSWORD",
        "KAFKA_COMPOSERP_PASSWORD",
        "KAFKA_REGISTRY_PASSWORD",
        "COMPOSERP_JWT_HS256_SECRET",
    ] {
        assert!(text.contains(needed), "{needed} is used");
        assert!(
            example.contains(&format!("{needed}=")),
            "{needed} is described"
        );
    }
}

#[test]
fn published_ports_bind_to_loopback_by_default() {
    let text = compose();
    let mut ports = 0;
    let mut in_ports = false;
    for line in text.lines() {
        let t = line.trim();
        if t == "ports:" {
            in_ports = true;
            continue;
        }
        if in_ports && t.starts_with("- ") {
            ports += 1;
            assert!(
                t.starts_with("- \"${COMPOSERP_BIND:-127.0.0.1}:"),
                "{t} binds beyond loopback"
            );
        } else {
            in_ports = false;
        }
    }
    assert!(ports >= 4, "{ports} published ports found");
}

#[test]
fn kafka_clients_authenticate_and_jobs_are_no_superusers() {
    let text = compose();
    let s = settings(&text);
    let get = |k: &str| {
        s.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let map = get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP");
    let listeners = get("KAFKA_LISTENERS");
    for entry in map.split(',') {
        let (name, protocol) = entry.split_once(':').expect("name:protocol");
        if protocol == "PLAINTEXT" {
            // Only the controller and the broker's loopback listener go without SASL.
            assert!(
                name == "CONTROLLER" || listeners.contains(&format!("{name}://127.0.0.1:")),
                "{name} is plaintext on an open interface"
            );
        } else {
            assert_eq!(protocol, "SASL_PLAINTEXT", "{name}");
        }
    }
    assert_eq!(get("KAFKA_SASL_ENABLED_MECHANISMS"), "SCRAM-SHA-512");
    assert_eq!(get("KAFKA_BROKERS"), "kafka:9092");
    assert_eq!(get("KAFKA_SASL_USERNAME"), "composerp");
    assert_eq!(get("KAFKA_SASL_MECHANISM"), "SCRAM-SHA-512");
    assert!(get("DATABASE_URL").starts_with("postgres://composerp:"));
    assert!(get("API_DATABASE_URL").starts_with("postgres://composerp_api:"));
    assert!(
        text.contains("NOSUPERUSER"),
        "the owner role is created without superuser"
    );
    assert_eq!(get("POSTGRES_USER"), "postgres");
    assert!(!get("DATABASE_URL").contains("postgres://postgres"));
}
