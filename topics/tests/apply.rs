//! `apply` against a real Kafka-protocol broker: creates, is idempotent, reports drift.

use composerp_kafka::{KafkaSettings, LocalBroker};
use composerp_topics::{
    TopicCatalog,
    admin::{Admin, Drift},
};

#[tokio::test]
async fn apply_creates_everything_once_and_reports_partition_drift() -> anyhow::Result<()> {
    let broker = LocalBroker::start()?;
    let settings = KafkaSettings::new(&broker.brokers(), None)?;
    let admin = Admin::new(&settings.admin())?;
    let catalog = TopicCatalog::embedded();

    let first = admin.apply(catalog.topics()).await?;
    assert_eq!(first.created.len(), catalog.topics().len(), "{first:?}");
    assert!(first.drift.is_empty());

    let second = admin.apply(catalog.topics()).await?;
    assert!(
        second.created.is_empty(),
        "second apply creates nothing: {second:?}"
    );
    assert_eq!(second.unchanged.len(), catalog.topics().len());

    let states = admin.describe(catalog).await?;
    let sales = states
        .iter()
        .find(|s| s.name == "composerp.pos.sales.v1")
        .expect("described");
    assert_eq!(sales.partitions, Some(8));

    // A catalog that wants more partitions than the cluster has: drift, nothing destroyed.
    let mut wider = catalog.get("pos.sales")?.clone();
    wider.partitions = 12;
    let third = admin.apply([&wider]).await?;
    assert_eq!(
        third.drift,
        vec![Drift::Partitions {
            topic: "composerp.pos.sales.v1".into(),
            want: 12,
            have: 8
        }]
    );
    assert_eq!(
        admin.partition_counts()?.get("composerp.pos.sales.v1"),
        Some(&8)
    );
    Ok(())
}
