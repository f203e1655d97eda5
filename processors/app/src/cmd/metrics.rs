//! The Prometheus `/metrics` endpoint of a processor process.

use std::{
    fmt::Write,
    sync::{Arc, atomic::Ordering},
};

use composerp_runtime::engine::Counters;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

/// The counters in Prometheus text format.
pub fn render(c: &Counters) -> String {
    let mut s = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, v: u64| {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
    };
    metric(
        "composerp_processor_records_in_total",
        "counter",
        "Input records processed.",
        c.records_in.load(Ordering::Relaxed),
    );
    metric(
        "composerp_processor_records_out_total",
        "counter",
        "Output records emitted.",
        c.records_out.load(Ordering::Relaxed),
    );
    metric(
        "composerp_processor_dead_letters_total",
        "counter",
        "Records sent to dead-letter topics.",
        c.dead_letters.load(Ordering::Relaxed),
    );
    metric(
        "composerp_processor_batches_total",
        "counter",
        "Batches committed.",
        c.batches.load(Ordering::Relaxed),
    );
    metric(
        "composerp_processor_restored_records_total",
        "counter",
        "Changelog records replayed by restores.",
        c.restored.load(Ordering::Relaxed),
    );
    metric(
        "composerp_processor_state_keys",
        "gauge",
        "Keys held in state.",
        c.keys.load(Ordering::Relaxed),
    );
    metric(
        "composerp_processor_last_commit_microseconds",
        "gauge",
        "Duration of the last batch commit.",
        c.last_commit_micros.load(Ordering::Relaxed),
    );
    s
}

/// Answers every HTTP request on `listener` with the metrics.
pub async fn serve(listener: TcpListener, counters: Arc<Counters>) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let counters = counters.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let _ = sock.read(&mut buf).await;
            let body = render(&counters);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(body.as_bytes()).await;
        });
    }
}
