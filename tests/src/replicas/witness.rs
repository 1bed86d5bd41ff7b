//! Witnesses of "each store provisioned once, no namespace orphaned": the
//! replicas' logs, the timelines, and the cluster.

use std::collections::{BTreeSet, HashMap};

use anyhow::Result;
use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, api::ListParams};

use super::Ended;

/// How a `provision` call a replica started ended, from its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// "engine provision recorded": the store's timeline has it.
    Recorded,
    /// The call failed ("engine provision failed"), its result could not
    /// be recorded ("engine provision not recorded"), or the run was given
    /// up (lease lost, or abandoned at a shutdown): the store is retried,
    /// and provisioning it again is the retry.
    Retried,
    /// Nothing said: the call was running when the log ends (its process
    /// was killed, or is still running).
    Open,
}

/// One `provision` call a replica started, from its log.
#[derive(Debug, Clone)]
struct Start {
    at: String,
    replica: String,
    ended: Option<Ended>,
    /// The last line its process logged (a killed process: before its death).
    last_line: String,
    outcome: Outcome,
    /// When its process said how it ended.
    closed_at: String,
}

/// What the replicas' logs and the timelines say about `provision` calls.
#[derive(Debug, Clone, Default)]
pub struct Provisions {
    /// Calls started.
    pub starts: usize,
    /// Calls cut off because their replica was SIGKILLed (or abandoned at
    /// a SIGTERM), then made again by another: at-least-once by nature, and
    /// harmless (an engine's `provision` is idempotent).
    pub interrupted: usize,
    /// Calls that failed, or whose result could not be recorded, and were
    /// retried (the timeline says `ProvisionRetrying`).
    pub retried: usize,
    /// Calls started again although the earlier one was recorded, or was
    /// still running in a live process: two replicas (or one twice)
    /// provisioning the same store. Must be 0.
    pub duplicates: usize,
    /// Stores whose timeline has more than one `EngineProvisioned` for a
    /// generation. Must be 0.
    pub duplicate_events: usize,
    /// Stores Ready without an `EngineProvisioned` on their timeline.
    pub missing_events: usize,
    /// What each duplicate was.
    pub duplicate_details: Vec<String>,
}

/// Reads the provision witnesses: every replica log and every timeline.
pub async fn count_provisions(
    logs: &[(String, Option<Ended>, String)],
    db: &sqlx::PgPool,
) -> Result<Provisions> {
    // Per store and generation, every call, from every process.
    let mut calls: HashMap<(String, i64), Vec<Start>> = HashMap::new();
    for (replica, ended, log) in logs {
        let entries: Vec<serde_json::Value> = log
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect();
        let last_line = entries
            .last()
            .and_then(|e| e["timestamp"].as_str())
            .unwrap_or_default()
            .to_owned();
        // This process's open call per store: what a later line about the
        // store says belongs to it.
        let mut open: HashMap<String, (String, i64, usize)> = HashMap::new();
        for entry in &entries {
            let fields = &entry["fields"];
            let (Some(message), Some(store)) =
                (fields["message"].as_str(), fields["store"].as_str())
            else {
                continue;
            };
            let outcome = match message {
                "engine provision starting" => {
                    let generation = fields["generation"].as_i64().unwrap_or_default();
                    let key = (store.to_owned(), generation);
                    let starts = calls.entry(key).or_default();
                    open.insert(
                        store.to_owned(),
                        (store.to_owned(), generation, starts.len()),
                    );
                    starts.push(Start {
                        at: entry["timestamp"].as_str().unwrap_or_default().to_owned(),
                        replica: replica.clone(),
                        ended: *ended,
                        last_line: last_line.clone(),
                        outcome: Outcome::Open,
                        closed_at: String::new(),
                    });
                    continue;
                }
                "engine provision recorded" => Outcome::Recorded,
                "engine provision failed"
                | "engine provision not recorded"
                | "lease lost or not renewable; abandoning this run"
                | "shutting down: run abandoned, lease handed back" => Outcome::Retried,
                _ => continue,
            };
            if let Some((store, generation, i)) = open.remove(store)
                && let Some(start) = calls
                    .get_mut(&(store, generation))
                    .and_then(|s| s.get_mut(i))
            {
                start.outcome = outcome;
                start.closed_at = entry["timestamp"].as_str().unwrap_or_default().to_owned();
            }
        }
    }
    let mut provisions = Provisions::default();
    for ((store, generation), starts) in &mut calls {
        // RFC 3339 in UTC with fixed precision: text order is time order.
        starts.sort_by(|a, b| a.at.cmp(&b.at));
        provisions.starts += starts.len();
        for pair in starts.windows(2) {
            let (earlier, later) = (&pair[0], &pair[1]);
            // Started again: fine if the earlier call failed or was given
            // up, or was cut off by the end of its process, before the
            // later one began.
            match earlier.outcome {
                Outcome::Retried if earlier.closed_at < later.at => provisions.retried += 1,
                Outcome::Open if earlier.ended.is_some() && earlier.last_line < later.at => {
                    provisions.interrupted += 1;
                }
                _ => {
                    provisions.duplicates += 1;
                    provisions.duplicate_details.push(format!(
                        "store {store} generation {generation}: {} at {} ({:?}, its process {:?}, \
                         last line {}), again by {} at {}",
                        earlier.replica,
                        earlier.at,
                        earlier.outcome,
                        earlier.ended,
                        earlier.last_line,
                        later.replica,
                        later.at
                    ));
                }
            }
        }
    }
    let rows: Vec<(String, i64, String, i64)> = sqlx::query_as(
        "SELECT s.id, s.generation, s.phase, \
                (SELECT count(*) FROM store_events e \
                  WHERE e.store_id = s.id AND e.reason IN ('EngineProvisioned', 'EngineUpgraded')) \
           FROM stores s",
    )
    .fetch_all(db)
    .await?;
    for (_, generation, phase, events) in &rows {
        if *events > *generation {
            provisions.duplicate_events += 1;
        }
        if phase == "Ready" && *events == 0 {
            provisions.missing_events += 1;
        }
    }
    // Deleted stores' timelines outlive them: at most one provision each
    // (their one generation before the deletion).
    let gone: Vec<(String, i64)> = sqlx::query_as(
        "SELECT store_id, count(*) FROM store_events \
          WHERE reason = 'EngineProvisioned' AND store_id NOT IN (SELECT id FROM stores) \
          GROUP BY store_id",
    )
    .fetch_all(db)
    .await?;
    provisions.duplicate_events += gone.iter().filter(|(_, n)| *n > 1).count();
    Ok(provisions)
}

/// Store namespaces in the cluster that belong to no store of the
/// database, and Ready stores without their namespace.
pub async fn orphans(kube: &kube::Client, db: &sqlx::PgPool) -> Result<(Vec<String>, Vec<String>)> {
    let stores: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, name, phase FROM stores")
            .fetch_all(db)
            .await?;
    let ids: BTreeSet<&str> = stores.iter().map(|(id, ..)| id.as_str()).collect();
    let namespaces = Api::<Namespace>::all(kube.clone())
        .list(&ListParams::default().labels("storeplane.dev/store"))
        .await?;
    let mut present = BTreeSet::new();
    let mut orphans = Vec::new();
    for ns in namespaces.items {
        let name = ns.metadata.name.clone().unwrap_or_default();
        let store = ns
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("storeplane.dev/store"))
            .cloned()
            .unwrap_or_default();
        if ids.contains(store.as_str()) {
            present.insert(name);
        } else {
            orphans.push(name);
        }
    }
    let missing = stores
        .iter()
        .filter(|(_, name, phase)| phase == "Ready" && !present.contains(&format!("store-{name}")))
        .map(|(_, name, _)| name.clone())
        .collect();
    Ok((orphans, missing))
}
