//! Reference tables (master data), read whole before processing starts and followed after.

use super::*;

/// Reads every reference-data topic completely, then keeps following it.
pub(super) fn follow_tables<P: Processor>(
    kafka: &KafkaSettings,
    codec: Codec,
    tables: Arc<RwLock<P::Tables>>,
    ready: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Result<(), EngineError> {
    let catalog = TopicCatalog::embedded();
    let consumer: BaseConsumer = kafka
        .consumer(&format!("composerp-{}-tables", P::NAME))
        .create()?;
    let mut tpl = TopicPartitionList::new();
    // A partition is read once a record at or past "latest" arrives. On Tansu "latest" is the
    // first offset of the newest stored batch plus one, and a batch arrives whole, so the rest
    // of it is in hand by then.
    let mut remaining: HashMap<(String, i32), i64> = HashMap::new();
    let mut names = Vec::new();
    for id in <P::Tables as Tables>::TOPICS {
        let spec = catalog
            .get(id)
            .map_err(|e| EngineError::Topics(e.to_string()))?;
        names.push(spec.name.clone());
        for p in 0..spec.partitions {
            tpl.add_partition_offset(&spec.name, p, Offset::Offset(0))?;
            let (_, high) = consumer.fetch_watermarks(&spec.name, p, Duration::from_secs(30))?;
            if high > 0 {
                remaining.insert((spec.name.clone(), p), high);
            }
        }
    }
    if names.is_empty() {
        ready.store(true, Ordering::Release);
        return Ok(());
    }
    consumer.assign(&tpl)?;
    ready.store(remaining.is_empty(), Ordering::Release);
    while !stop.load(Ordering::Relaxed) {
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let msg = msg?;
        let Some(index) = names.iter().position(|n| n == msg.topic()) else {
            continue;
        };
        match msg.payload() {
            Some(bytes) => {
                let mut t = tables.write().unwrap_or_else(|p| p.into_inner());
                if let Err(e) = t.update(index, &codec, bytes) {
                    tracing::warn!(error = %e, topic = msg.topic(), offset = msg.offset(), "Reference record skipped.");
                }
            }
            None => {
                // A tombstone: compaction keeps it for a while so that readers delete the key.
                if let Some(key) = msg.key().and_then(|k| std::str::from_utf8(k).ok()) {
                    let mut t = tables.write().unwrap_or_else(|p| p.into_inner());
                    t.delete(index, key);
                }
            }
        }
        let k = (msg.topic().to_owned(), msg.partition());
        if remaining
            .get(&k)
            .is_some_and(|high| msg.offset() + 1 >= *high)
        {
            remaining.remove(&k);
            if remaining.is_empty() {
                ready.store(true, Ordering::Release);
            }
        }
    }
    Ok(())
}
