//! Why a reconcile run failed (not the store: the run). The store's own
//! failures (a plugin's, a timeout) are recorded on the store; these are
//! the platform's, retried without counting an attempt.

use std::time::Duration;

use crate::{cluster, domain};

/// A reconcile run's failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing the store failed.
    #[error(transparent)]
    Store(#[from] domain::Error),
    /// The cluster failed while the run was doing `doing`.
    #[error("cannot {doing}: {source}")]
    Cluster {
        /// What the run was doing.
        doing: &'static str,
        /// The cluster's error.
        #[source]
        source: cluster::Error,
    },
}

impl Error {
    /// The `kind` label of `storeplane_reconcile_errors_total`: which
    /// dependency failed and how, so an operator can tell a database that
    /// does not answer from a cluster that refuses.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Store(domain::Error::Unavailable { .. }) => "database_unavailable",
            Error::Store(domain::Error::Internal { .. }) => "database",
            // A transition the store's state refused, or a store that went
            // away mid-run: a race with another writer, settled next run.
            Error::Store(_) => "store_conflict",
            Error::Cluster { source, .. } => match source.kind() {
                cluster::ErrorKind::Denied => "cluster_denied",
                cluster::ErrorKind::NotFound => "cluster_not_found",
                cluster::ErrorKind::Conflict => "cluster_conflict",
                cluster::ErrorKind::Invalid => "cluster_invalid",
                cluster::ErrorKind::Unavailable => "cluster_unavailable",
            },
        }
    }

    /// How long the failing dependency asked to be left alone, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Store(domain::Error::Unavailable { retry_after, .. }) => Some(*retry_after),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_the_failing_dependency() {
        let unavailable = Error::from(domain::Error::unavailable(
            "claim",
            Duration::from_secs(3),
            "refused",
        ));
        assert_eq!(unavailable.metric_label(), "database_unavailable");
        assert_eq!(unavailable.retry_after(), Some(Duration::from_secs(3)));
        let internal = Error::from(domain::Error::internal("update store", "disk full"));
        assert_eq!(internal.metric_label(), "database");
        assert_eq!(internal.retry_after(), None);
        let refused = Error::from(domain::Error::Aborted("etag".into()));
        assert_eq!(refused.metric_label(), "store_conflict");
        let denied = Error::Cluster {
            doing: "re-apply the platform baseline",
            source: cluster::Error::new(cluster::ErrorKind::Denied, "forbidden"),
        };
        assert_eq!(denied.metric_label(), "cluster_denied");
        assert_eq!(
            denied.to_string(),
            "cannot re-apply the platform baseline: denied: forbidden"
        );
    }
}
