//! Options of the simulated cluster and its failure-injection vocabulary.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Result};

/// Annotation on an object or a namespace that makes the simulated kubelet fail
/// its workloads. Values: `image-pull`, `crash-loop`, `job-fail`, `never-ready`.
pub const FAIL_ANNOTATION: &str = "sim.storeplane.io/fail";

/// Annotation on an object or a namespace that overrides the readiness delay of
/// its workloads (for example `10s`), so one slow store can be shown in a demo.
pub const READY_AFTER_ANNOTATION: &str = "sim.storeplane.io/ready-after";

/// How the simulated cluster behaves: its delays, whether it makes pods, and the
/// sizes of its watch machinery.
///
/// [`SimConfig::default`] suits a demo (delays of a few seconds);
/// [`SimConfig::instant`] suits tests and benchmarks (no delays).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Time from a Deployment/StatefulSet (or its new generation) being seen to its
    /// pods being ready.
    pub pod_start_delay: Duration,
    /// Time a Job's pod runs before the Job completes (or fails, when injected).
    pub job_duration: Duration,
    /// Time before a PersistentVolumeClaim becomes Bound.
    pub volume_bind_delay: Duration,
    /// Time before a LoadBalancer Service or an Ingress gets an address.
    pub load_balancer_delay: Duration,
    /// Time a namespace stays `Terminating` before its content is removed.
    pub namespace_termination_delay: Duration,
    /// Whether to synthesise Pods for Deployments, StatefulSets and Jobs, so that
    /// `kubectl get pods` looks real. Costs memory: about one object per replica.
    pub simulate_pods: bool,
    /// How many watch events are kept for resuming watches. A watch that asks to
    /// resume from an older resourceVersion gets `410 Gone`, as from etcd after
    /// compaction.
    pub watch_history: usize,
    /// How often a watch that allowed bookmarks receives one (and one more
    /// 2 s before its `timeoutSeconds` run out, as the apiserver sends).
    pub bookmark_interval: Duration,
    /// How often "etcd" is compacted, as kube-apiserver's
    /// `--etcd-compaction-interval` (default 5 min): each time, to the
    /// resourceVersion of the previous time. Only resources the apiserver
    /// serves without a watch cache (Events) see it: a watch on them from a
    /// compacted version gets etcd's `410 Gone`. Zero never compacts.
    pub compaction_interval: Duration,
    /// The address an Ingress gets in `status.loadBalancer.ingress`, as the
    /// ingress controller of a local cluster reports it (`localhost` by
    /// default: kind's or k3d's ingress-nginx on the host's ports). `None`
    /// models a cluster without an ingress controller, where Ingresses get
    /// no address.
    pub ingress_address: Option<String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            pod_start_delay: Duration::from_secs(3),
            job_duration: Duration::from_secs(5),
            volume_bind_delay: Duration::from_secs(1),
            load_balancer_delay: Duration::from_secs(2),
            namespace_termination_delay: Duration::from_secs(2),
            simulate_pods: true,
            watch_history: 10_000,
            bookmark_interval: Duration::from_secs(60),
            compaction_interval: Duration::from_secs(300),
            ingress_address: Some("localhost".to_owned()),
        }
    }
}

impl SimConfig {
    /// A cluster with no delays at all: every status is written as soon as the
    /// object is seen. For tests and benchmarks.
    pub fn instant() -> Self {
        Self::default().with_delays(Duration::ZERO)
    }

    /// Sets every simulated delay (pods, jobs, volumes, load balancers, namespace
    /// termination) to `delay`.
    pub fn with_delays(mut self, delay: Duration) -> Self {
        self.pod_start_delay = delay;
        self.job_duration = delay;
        self.volume_bind_delay = delay;
        self.load_balancer_delay = delay;
        self.namespace_termination_delay = delay;
        self
    }

    /// Sets one option by its command-line name, so a CLI can pass
    /// `--sim-option pod-start-delay=1s` through without knowing every field.
    ///
    /// Names: `delay` (all delays), `pod-start-delay`, `job-duration`,
    /// `volume-bind-delay`, `load-balancer-delay`, `namespace-termination-delay`,
    /// `pods` (`true`/`false`), `watch-history` (a count), `bookmark-interval`,
    /// `compaction-interval` (`0` never compacts), `ingress-address` (a
    /// hostname or IP; `none` for no ingress controller).
    pub fn set_option(&mut self, name: &str, value: &str) -> Result<()> {
        let invalid = |message: String| Error::InvalidOption {
            name: name.to_owned(),
            message,
        };
        match name {
            "delay" => *self = self.clone().with_delays(parse_duration(value)?),
            "pod-start-delay" => self.pod_start_delay = parse_duration(value)?,
            "job-duration" => self.job_duration = parse_duration(value)?,
            "volume-bind-delay" => self.volume_bind_delay = parse_duration(value)?,
            "load-balancer-delay" => self.load_balancer_delay = parse_duration(value)?,
            "namespace-termination-delay" => {
                self.namespace_termination_delay = parse_duration(value)?;
            }
            "bookmark-interval" => self.bookmark_interval = parse_duration(value)?,
            "compaction-interval" => self.compaction_interval = parse_duration(value)?,
            "ingress-address" => {
                self.ingress_address = match value.trim() {
                    "" | "none" => None,
                    address => Some(address.to_owned()),
                };
            }
            "pods" => {
                self.simulate_pods = value
                    .parse()
                    .map_err(|_| invalid(format!("expected true or false, got {value:?}")))?;
            }
            "watch-history" => {
                let n: usize = value
                    .parse()
                    .map_err(|_| invalid(format!("expected a count, got {value:?}")))?;
                if n == 0 {
                    return Err(invalid("must be at least 1".to_owned()));
                }
                self.watch_history = n;
            }
            _ => return Err(invalid("unknown option".to_owned())),
        }
        Ok(())
    }
}

/// Parses a duration such as `0`, `250ms`, `3s`, `1.5s`, `2m` or `1h`.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let bad = || Error::InvalidDuration(text.to_owned());
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| bad())
}

/// A failure the simulated kubelet can inject into a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The image cannot be pulled: pods stay `ErrImagePull`/`ImagePullBackOff`,
    /// the workload never becomes available.
    ImagePull,
    /// The container keeps exiting: pods show `CrashLoopBackOff`.
    CrashLoop,
    /// A Job's pods fail until the backoff limit: condition `Failed`, reason
    /// `BackoffLimitExceeded`. On other workloads it behaves like `crash-loop`.
    JobFail,
    /// Containers run but their readiness probe never passes.
    NeverReady,
}

impl Failure {
    /// The annotation value naming this failure.
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::ImagePull => "image-pull",
            Failure::CrashLoop => "crash-loop",
            Failure::JobFail => "job-fail",
            Failure::NeverReady => "never-ready",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Failure {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim() {
            "image-pull" | "ImagePull" | "ErrImagePull" => Ok(Failure::ImagePull),
            "crash-loop" | "CrashLoop" | "CrashLoopBackOff" => Ok(Failure::CrashLoop),
            "job-fail" | "JobFail" | "BackoffLimitExceeded" => Ok(Failure::JobFail),
            "never-ready" | "NeverReady" => Ok(Failure::NeverReady),
            other => Err(Error::InvalidFailure(other.to_owned())),
        }
    }
}

/// What an injected failure applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureTarget {
    /// Every workload (Deployment, StatefulSet, Job, PVC) in the namespace.
    Namespace(String),
    /// The workloads with this name in this namespace, whatever their kind.
    Object {
        /// The object's namespace.
        namespace: String,
        /// The object's name.
        name: String,
    },
}

impl FailureTarget {
    /// Targets every workload in `namespace`.
    pub fn namespace(namespace: impl Into<String>) -> Self {
        FailureTarget::Namespace(namespace.into())
    }

    /// Targets the workloads named `name` in `namespace`.
    pub fn object(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        FailureTarget::Object {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn options_set_fields_by_cli_name() {
        let mut config = SimConfig::default();
        config.set_option("delay", "0").unwrap();
        assert_eq!(config, SimConfig::instant());
        config.set_option("pods", "false").unwrap();
        assert!(!config.simulate_pods);
        assert!(config.set_option("nope", "1").is_err());
        assert!(config.set_option("watch-history", "0").is_err());
        config.set_option("ingress-address", "none").unwrap();
        assert_eq!(config.ingress_address, None);
        config.set_option("ingress-address", "10.0.0.7").unwrap();
        assert_eq!(config.ingress_address.as_deref(), Some("10.0.0.7"));
    }

    #[test]
    fn failures_round_trip_through_their_annotation_values() {
        for failure in [
            Failure::ImagePull,
            Failure::CrashLoop,
            Failure::JobFail,
            Failure::NeverReady,
        ] {
            assert_eq!(failure.as_str().parse::<Failure>().unwrap(), failure);
        }
        assert!("explode".parse::<Failure>().is_err());
    }
}
