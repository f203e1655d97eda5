//! The Prometheus `/metrics` endpoint of a processor process (metrics-exporter-prometheus).

use anyhow::Context;
use axum::{Router, http::StatusCode, routing::get};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

/// Installs the process-wide recorder: durations as histograms in seconds, batch and round
/// sizes as histograms in records, everything else as counters and gauges.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("seconds".into()),
            &[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Suffix("batch_records".into()),
                &[
                    1.0, 10.0, 100.0, 1_000.0, 5_000.0, 10_000.0, 20_000.0, 50_000.0,
                ],
            )
        })
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Suffix("round_records".into()),
                &[
                    1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_000.0, 4_000.0,
                ],
            )
        })
        .context("metrics buckets")?
        .install_recorder()
        .context("installing the metrics recorder")
}

/// Serves `GET /metrics` and `GET /readyz` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, handle: PrometheusHandle) {
    let ready = handle.clone();
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let handle = handle.clone();
                async move { handle.render() }
            }),
        )
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    if restoring(&ready.render()) {
                        (StatusCode::SERVICE_UNAVAILABLE, "restoring\n")
                    } else {
                        (StatusCode::OK, "ready\n")
                    }
                }
            }),
        );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "Metrics endpoint stopped.");
    }
}

/// Whether a partition is still restoring: a readiness probe keeps the pod out of service until
/// every assigned partition's `composerp_processor_restore_remaining_records` is back to zero.
fn restoring(metrics: &str) -> bool {
    metrics
        .lines()
        .filter(|l| l.starts_with("composerp_processor_restore_remaining_records"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .any(|v| v > 0.0)
}

/// Serves `handle` on `addr` in the background when an address is given.
pub async fn expose(
    addr: Option<std::net::SocketAddr>,
    handle: PrometheusHandle,
) -> anyhow::Result<()> {
    use anyhow::Context;
    if let Some(addr) = addr {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the metrics endpoint {addr}"))?;
        eprintln!("metrics on http://{}/metrics", listener.local_addr()?);
        tokio::spawn(serve(listener, handle));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::restoring;

    #[test]
    fn ready_once_no_partition_has_records_left_to_restore() {
        let text = "# TYPE composerp_processor_restore_remaining_records gauge\n\
            composerp_processor_restore_remaining_records{processor=\"ledger\",partition=\"0\"} 0\n";
        assert!(!restoring(text));
        let busy = format!(
            "{text}composerp_processor_restore_remaining_records{{processor=\"ledger\",partition=\"1\"}} 1200\n"
        );
        assert!(restoring(&busy));
        assert!(!restoring("composerp_processor_batches_total 3\n"));
    }
}
