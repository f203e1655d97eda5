//! The engine's main loop and its threads.

use std::sync::mpsc::RecvTimeoutError;

use super::*;

/// Runs `processor` until `stop` is set or an error occurs; `stop` is set when it ends, except
/// after [`EngineError::Superseded`], after which the caller may start it again.
pub fn run<P: Processor>(
    processor: P,
    kafka: KafkaSettings,
    codec: Codec,
    cfg: EngineConfig,
    outer: Arc<AtomicBool>,
) -> Result<(), EngineError> {
    // The engine's own threads stop on this one, so that a superseded engine can end without
    // stopping the process.
    let stop = Arc::new(AtomicBool::new(false));
    let catalog = TopicCatalog::embedded();
    let inputs = input_topics::<P>(catalog).map_err(|e| EngineError::Topics(e.to_string()))?;
    let partitions = inputs[0].partitions;
    let changelog = catalog.changelog(P::NAME, partitions);
    // An unreachable broker holds the admin calls for their whole timeout, which a stop does
    // not wait for: they run on a thread of their own.
    let (done, setup) = std::sync::mpsc::channel();
    {
        let (config, topics) = (kafka.admin(), inputs.iter().chain([&changelog]).cloned());
        let topics: Vec<TopicSpec> = topics.collect();
        std::thread::Builder::new()
            .name(format!("{}-topics", P::NAME))
            .spawn(move || {
                let applied = Admin::new(&config)
                    .map_err(|e| e.to_string())
                    .and_then(|admin| {
                        let rt = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .map_err(|e| e.to_string())?;
                        rt.block_on(admin.apply(topics.iter()))
                            .map_err(|e| e.to_string())
                    });
                let _ = done.send(applied);
            })
            .map_err(|e| EngineError::Topics(e.to_string()))?;
    }
    let report = loop {
        match setup.recv_timeout(Duration::from_millis(50)) {
            Ok(applied) => break applied.map_err(EngineError::Topics)?,
            Err(_) if outer.load(Ordering::Relaxed) => return Ok(()),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err(EngineError::Topics("the topic setup thread died".into()));
            }
        }
    };
    for d in &report.drift {
        tracing::warn!(drift = %d, "Topic drift.");
    }

    let tables = Arc::new(RwLock::new(P::Tables::default()));
    let ready = Arc::new(AtomicBool::new(false));
    let follower = {
        let (kafka, codec, tables, ready, stop) = (
            kafka.clone(),
            codec.clone(),
            tables.clone(),
            ready.clone(),
            stop.clone(),
        );
        std::thread::Builder::new()
            .name(format!("{}-tables", P::NAME))
            .spawn(move || {
                if let Err(e) = follow_tables::<P>(&kafka, codec, tables, ready, stop) {
                    tracing::error!(error = %e, "Reference tables stopped.");
                }
            })
            .map_err(|e| EngineError::Topics(e.to_string()))?
    };
    while !ready.load(Ordering::Acquire)
        && !outer.load(Ordering::Relaxed)
        && !follower.is_finished()
    {
        std::thread::sleep(Duration::from_millis(50));
    }

    let deliveries = Arc::new(Deliveries::default());
    let progress = Arc::new(Mutex::new(BTreeMap::new()));
    // A BaseProducer serves delivery reports on the threads that poll it: the outbox's and,
    // while a commit waits, the engine's.
    let producer: Arc<BaseProducer<DeliveryContext>> = Arc::new(
        kafka
            .producer()
            .create_with_context(DeliveryContext(deliveries.clone()))?,
    );
    let outbox = {
        let deliveries = deliveries.clone();
        let gate = deliveries.gate.clone();
        Outbox::start(P::NAME, producer.clone(), gate, move |e: &KafkaError| {
            deliveries.fail(e.to_string())
        })
        .map_err(|e| EngineError::Topics(e.to_string()))?
    };
    let data: Arc<BaseConsumer> = Arc::new(
        kafka
            .consumer(&format!("composerp-{}-inputs", P::NAME))
            .create()?,
    );
    let engine = Arc::new(Mutex::new(Engine {
        processor,
        tables,
        codec,
        kafka: kafka.clone(),
        cfg: cfg.clone(),
        inputs: inputs.clone(),
        changelog: changelog.name.clone(),
        producer,
        outbox,
        deliveries,
        data: data.clone(),
        tasks: BTreeMap::new(),
        pending: 0,
        seq: 0,
        sent: 0,
        outgoing: Outputs::with_capacity(PARCEL),
        workers: Workers::new(P::NAME, cfg.threads)?,
        closing: VecDeque::new(),
        last_commit: Instant::now(),
        meters: Meters::new(P::NAME, &inputs),
        writer: EventId::random().0.as_u64_pair().0 | 1,
        gaps: Gaps::default(),
        progress: progress.clone(),
        failed: None,
        halted: false,
    }));
    let join = Join {
        group: cfg
            .group
            .clone()
            .unwrap_or_else(|| format!("composerp-{}", P::NAME)),
        topics: inputs
            .iter()
            .map(|t| (t.name.clone(), t.partitions))
            .collect(),
        // The group assigns the first input; the data consumer follows with the others.
        subscribed: 1,
        lag: Lag {
            metric: "composerp_processor_consumer_lag_records",
            label: ("processor", P::NAME.to_owned()),
        },
        name: P::NAME.to_owned(),
    };
    let positions = {
        let inputs = inputs.clone();
        move || {
            let now = progress.lock().unwrap_or_else(|p| p.into_inner()).clone();
            now.into_iter()
                .flat_map(|(p, offsets)| {
                    inputs
                        .iter()
                        .zip(offsets)
                        .map(move |(t, next)| (t.name.clone(), p, next))
                })
                .collect()
        }
    };
    let mut group = Membership::join(&kafka, join, engine.clone(), positions, stop.clone())?;

    let result = loop {
        if outer.load(Ordering::Relaxed) {
            break Ok(());
        }
        group.tend()?;
        // The group consumer serves rebalances and the first input, the data consumer the other
        // inputs. Drain both without waiting; when both are empty, sleep a millisecond rather
        // than wait in one consumer's poll, so that records arriving at the other are not kept
        // waiting (and rdkafka's poll spins through the last millisecond of its timeout).
        let handled = pump(&engine, group.consumer(), &data, 2_000);
        if handled == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(err) = e.failed.take() {
            break Err(err);
        }
        let due = e.last_commit.elapsed() >= cfg.batch_interval;
        let close = (e.pending > 0 && (e.pending >= cfg.batch_records || due))
            || (due && e.wall_timer_due());
        match e.step(close) {
            Ok(0) => {}
            Ok(_) => group.commit(&e, CommitMode::Async),
            Err(err) => break Err(err),
        }
    };
    // A clean stop commits what was processed and leaves the group so partitions move at once.
    let stopping = {
        let mut e = engine.lock().unwrap_or_else(|p| p.into_inner());
        e.halted = result.is_err();
        let done = if result.is_err() {
            Ok(())
        } else if e.pending > 0 || !e.closing.is_empty() {
            e.commit(true)
        } else {
            e.write_stores()
        };
        if result.is_ok() && done.is_ok() {
            group.commit(&e, CommitMode::Async);
        }
        // That was the last commit: the revocation that leaving the group brings only releases,
        // and does not wait for a broker that may be gone.
        e.halted = true;
        done
    };
    group.leave();
    stop.store(true, Ordering::Relaxed);
    if !matches!(result, Err(EngineError::Superseded { .. })) {
        outer.store(true, Ordering::Relaxed);
    }
    let _ = follower.join();
    result.and(stopping)
}
