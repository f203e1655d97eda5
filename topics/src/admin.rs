//! Creating topics and reporting drift, against any Kafka-protocol cluster.

use std::{collections::HashMap, time::Duration};

use rdkafka::{
    ClientConfig,
    admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication},
    client::DefaultClientContext,
    config::FromClientConfig,
    error::RDKafkaErrorCode,
};

use crate::{TopicCatalog, TopicSpec};

/// Why an admin operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The cluster did not answer or refused.
    #[error("Kafka admin call failed: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Creating one topic failed.
    #[error("could not create topic {topic}: {code}")]
    Create {
        /// Topic.
        topic: String,
        /// Broker error code.
        code: RDKafkaErrorCode,
    },
}

/// A difference between the catalog and the cluster that `apply` will not fix by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// The topic has another partition count (changing it would move keys between partitions).
    Partitions {
        /// Topic.
        topic: String,
        /// Catalog value.
        want: i32,
        /// Cluster value.
        have: i32,
    },
    /// The topic has another cleanup policy.
    Cleanup {
        /// Topic.
        topic: String,
        /// Catalog value.
        want: String,
        /// Cluster value.
        have: String,
    },
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Drift::Partitions { topic, want, have } => {
                write!(
                    f,
                    "{topic}: {have} partitions, catalog says {want} (not changed: it would remap keys)"
                )
            }
            Drift::Cleanup { topic, want, have } => {
                write!(
                    f,
                    "{topic}: cleanup.policy={have}, catalog says {want} (not changed: fix with the cluster's tools)"
                )
            }
        }
    }
}

/// What the cluster has of one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicState {
    /// Topic name.
    pub name: String,
    /// Partition count, if the topic exists.
    pub partitions: Option<i32>,
    /// `cleanup.policy`, if the cluster reports configs.
    pub cleanup_policy: Option<String>,
}

/// The result of [`apply`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// Topics created now.
    pub created: Vec<String>,
    /// Topics that already matched.
    pub unchanged: Vec<String>,
    /// Differences left for a person to decide.
    pub drift: Vec<Drift>,
}

/// Admin access to one cluster.
pub struct Admin {
    client: AdminClient<DefaultClientContext>,
    timeout: Duration,
}

impl Admin {
    /// An admin client from a client configuration (see `KafkaSettings::admin`).
    pub fn new(config: &ClientConfig) -> Result<Self, AdminError> {
        Ok(Self {
            client: AdminClient::from_config(config)?,
            timeout: Duration::from_secs(20),
        })
    }

    /// Partition counts of every topic on the cluster.
    pub fn partition_counts(&self) -> Result<HashMap<String, i32>, AdminError> {
        let md = self.client.inner().fetch_metadata(None, self.timeout)?;
        Ok(md
            .topics()
            .iter()
            .map(|t| (t.name().to_owned(), t.partitions().len() as i32))
            .collect())
    }

    /// `cleanup.policy` of a topic, or None when the cluster does not report it.
    pub async fn cleanup_policy(&self, topic: &str) -> Option<String> {
        let opts = AdminOptions::new().request_timeout(Some(self.timeout));
        let res = self
            .client
            .describe_configs(&[ResourceSpecifier::Topic(topic)], &opts)
            .await
            .ok()?;
        let resource = res.into_iter().next()?.ok()?;
        resource.get("cleanup.policy").and_then(|e| e.value.clone())
    }

    /// The cluster's view of the catalog's topics.
    pub async fn describe(&self, catalog: &TopicCatalog) -> Result<Vec<TopicState>, AdminError> {
        let counts = self.partition_counts()?;
        let mut out = Vec::new();
        for t in catalog.topics() {
            let partitions = counts.get(&t.name).copied();
            let cleanup_policy = match partitions {
                Some(_) => self.cleanup_policy(&t.name).await,
                None => None,
            };
            out.push(TopicState {
                name: t.name.clone(),
                partitions,
                cleanup_policy,
            });
        }
        Ok(out)
    }

    /// Creates the missing topics of `topics`; reports drift of the existing ones. Idempotent.
    pub async fn apply<'a>(
        &self,
        topics: impl IntoIterator<Item = &'a TopicSpec>,
    ) -> Result<ApplyReport, AdminError> {
        let counts = self.partition_counts()?;
        let mut report = ApplyReport::default();
        let mut missing = Vec::new();
        for t in topics {
            match counts.get(&t.name) {
                None => missing.push(t),
                Some(&have) => {
                    let before = report.drift.len();
                    if have != t.partitions {
                        report.drift.push(Drift::Partitions {
                            topic: t.name.clone(),
                            want: t.partitions,
                            have,
                        });
                    }
                    if let Some(p) = self.cleanup_policy(&t.name).await
                        && p != t.cleanup.policy()
                    {
                        report.drift.push(Drift::Cleanup {
                            topic: t.name.clone(),
                            want: t.cleanup.policy().into(),
                            have: p,
                        });
                    }
                    if report.drift.len() == before {
                        report.unchanged.push(t.name.clone());
                    }
                }
            }
        }
        if missing.is_empty() {
            return Ok(report);
        }
        let configs: Vec<Vec<(&str, String)>> = missing.iter().map(|t| t.configs()).collect();
        let new: Vec<NewTopic<'_>> = missing
            .iter()
            .zip(&configs)
            .map(|(t, cfg)| {
                cfg.iter().fold(
                    NewTopic::new(&t.name, t.partitions, TopicReplication::Fixed(-1)),
                    |n, (k, v)| n.set(k, v),
                )
            })
            .collect();
        let opts = AdminOptions::new()
            .operation_timeout(Some(self.timeout))
            .request_timeout(Some(self.timeout));
        for result in self.client.create_topics(&new, &opts).await? {
            match result {
                Ok(name) => report.created.push(name),
                Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => report.unchanged.push(name),
                Err((topic, code)) => return Err(AdminError::Create { topic, code }),
            }
        }
        Ok(report)
    }
}
