//! The live list of stores, fed by `WatchStores` (list-then-watch with
//! resume tokens, like a Kubernetes informer), and the state of that
//! connection.

use std::{collections::BTreeMap, rc::Rc};

use storeplane_proto::v1::{
    Store, StorePhase, WatchStoresResponse, watch_stores_response::EventType,
};
use yew::Reducible;

use crate::time::timestamp_ms;

/// Consecutive failed connection attempts after which the indicator says
/// "offline" rather than "reconnecting": a blip is not an outage.
pub const OFFLINE_AFTER_FAILURES: u32 = 3;

/// The state of the watch connection, for the indicator.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Connection {
    /// First connection, nothing received yet.
    #[default]
    Connecting,
    /// The stream is open.
    Live,
    /// The stream broke; trying again soon.
    Reconnecting {
        /// What went wrong last.
        error: String,
    },
    /// Several attempts failed in a row; still trying, less often.
    Offline {
        /// What went wrong last.
        error: String,
    },
}

/// The stores the caller can see, as the watch reported them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StoresState {
    /// By store id.
    pub stores: BTreeMap<String, Store>,
    /// A fresh list being received: swapped in whole on
    /// `INITIAL_LIST_COMPLETE`, so a resync drops stores deleted meanwhile
    /// without the list flashing empty.
    pending: Option<BTreeMap<String, Store>>,
    /// The initial list has arrived at least once.
    pub loaded: bool,
    /// The last resume token; empty means "list from scratch".
    pub resume_token: String,
    /// The connection, for the indicator.
    pub connection: Connection,
    /// Failed attempts since the stream last worked.
    pub failures: u32,
}

/// What the watch loop reports.
#[derive(Debug, Clone, PartialEq)]
pub enum StoresAction {
    /// The stream is open (the server answered with headers).
    Connected,
    /// One event of the stream (boxed: a store is large, the other
    /// actions are not).
    Event(Box<WatchStoresResponse>),
    /// The stream ended or could not be opened.
    Disconnected(String),
    /// Forget everything (signed out, or another server).
    Reset,
}

impl StoresState {
    /// The store with this name, if the caller can see it.
    pub fn by_name(&self, name: &str) -> Option<&Store> {
        self.stores.values().find(|s| s.name == name)
    }

    /// The engines of the listed stores, sorted, for the filter.
    pub fn engines(&self) -> Vec<String> {
        let mut engines: Vec<String> = self.stores.values().map(|s| s.engine.clone()).collect();
        engines.sort();
        engines.dedup();
        engines
    }

    fn apply(&mut self, event: WatchStoresResponse) {
        if !event.resume_token.is_empty() {
            self.resume_token.clone_from(&event.resume_token);
        }
        let kind = EventType::try_from(event.r#type).unwrap_or(EventType::Unspecified);
        match (kind, event.store) {
            (EventType::Added | EventType::Modified, Some(store)) => {
                let target = self.pending.as_mut().unwrap_or(&mut self.stores);
                target.insert(store.id.clone(), store);
            }
            (EventType::Deleted, Some(store)) => {
                self.stores.remove(&store.id);
                if let Some(pending) = self.pending.as_mut() {
                    pending.remove(&store.id);
                }
            }
            (EventType::InitialListComplete, _) => {
                if let Some(fresh) = self.pending.take() {
                    self.stores = fresh;
                }
                self.loaded = true;
            }
            (EventType::ResyncRequired, _) => {
                // Our token is older than the server's history: what we
                // hold may be stale. Start over with a fresh list; the
                // stream ends now and the loop reconnects without a token.
                self.resume_token.clear();
                self.pending = None;
            }
            // Heartbeats only move the resume token (above); anything
            // unknown to this version is ignored, not fatal.
            _ => {}
        }
    }
}

impl Reducible for StoresState {
    type Action = StoresAction;

    fn reduce(self: Rc<Self>, action: Self::Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            StoresAction::Connected => {
                next.connection = Connection::Live;
                next.failures = 0;
                // Without a token the server starts with the full list.
                next.pending = next.resume_token.is_empty().then(BTreeMap::new);
            }
            StoresAction::Event(event) => next.apply(*event),
            StoresAction::Disconnected(error) => {
                next.pending = None;
                next.failures = next.failures.saturating_add(1);
                next.connection = if next.failures >= OFFLINE_AFTER_FAILURES {
                    Connection::Offline { error }
                } else {
                    Connection::Reconnecting { error }
                };
            }
            StoresAction::Reset => next = Self::default(),
        }
        Rc::new(next)
    }
}

/// The list filter: by phase and engine.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreFilter {
    /// Only this phase.
    pub phase: Option<StorePhase>,
    /// Only this engine.
    pub engine: Option<String>,
}

impl StoreFilter {
    /// Whether any criterion is set.
    pub fn is_active(&self) -> bool {
        self.phase.is_some() || self.engine.is_some()
    }

    /// Whether `store` passes.
    pub fn matches(&self, store: &Store) -> bool {
        self.phase.is_none_or(|p| store.phase() == p)
            && self.engine.as_ref().is_none_or(|e| &store.engine == e)
    }

    /// The stores that pass, newest first (what was just created is what
    /// a person looks for), then by name.
    pub fn apply<'a>(&self, state: &'a StoresState) -> Vec<&'a Store> {
        let mut stores: Vec<&Store> = state.stores.values().filter(|s| self.matches(s)).collect();
        stores.sort_by(|a, b| {
            let created = |s: &Store| timestamp_ms(s.create_time.as_ref()).unwrap_or(0.0);
            created(b)
                .total_cmp(&created(a))
                .then_with(|| a.name.cmp(&b.name))
        });
        stores
    }
}

/// The phases a person can filter by, with their URL-friendly slugs.
pub const PHASES: [(StorePhase, &str, &str); 5] = [
    (StorePhase::Provisioning, "provisioning", "Provisioning"),
    (StorePhase::Ready, "ready", "Ready"),
    (StorePhase::Suspended, "suspended", "Suspended"),
    (StorePhase::Failed, "failed", "Failed"),
    (StorePhase::Deleting, "deleting", "Deleting"),
];

/// `ready` → `StorePhase::Ready`.
pub fn phase_from_slug(slug: &str) -> Option<StorePhase> {
    PHASES
        .iter()
        .find(|(_, s, _)| *s == slug)
        .map(|(p, _, _)| *p)
}

/// `StorePhase::Ready` → (`ready`, `Ready`); unknown phases read "unknown".
pub fn phase_names(phase: StorePhase) -> (&'static str, &'static str) {
    PHASES
        .iter()
        .find(|(p, _, _)| *p == phase)
        .map_or(("unknown", "Unknown"), |(_, s, l)| (*s, *l))
}

#[cfg(test)]
mod tests {
    use prost_types::Timestamp;

    use super::*;

    fn store(id: &str, name: &str, phase: StorePhase, created: i64) -> Store {
        Store {
            id: id.into(),
            name: name.into(),
            engine: if name.starts_with('m') {
                "medusa"
            } else {
                "woocommerce"
            }
            .into(),
            phase: phase.into(),
            create_time: Some(Timestamp {
                seconds: created,
                nanos: 0,
            }),
            ..Store::default()
        }
    }

    fn event(kind: EventType, store: Option<Store>, token: &str) -> StoresAction {
        StoresAction::Event(Box::new(WatchStoresResponse {
            r#type: kind.into(),
            store,
            resume_token: token.into(),
        }))
    }

    fn run(state: StoresState, actions: Vec<StoresAction>) -> StoresState {
        let state = actions.into_iter().fold(Rc::new(state), |s, a| s.reduce(a));
        (*state).clone()
    }

    fn names(state: &StoresState) -> Vec<&str> {
        let mut names: Vec<&str> = state.stores.values().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn initial_list_appears_at_once_when_complete() {
        let s = run(
            StoresState::default(),
            vec![
                StoresAction::Connected,
                event(
                    EventType::Added,
                    Some(store("1", "a-shop", StorePhase::Ready, 1)),
                    "",
                ),
            ],
        );
        assert!(s.stores.is_empty() && !s.loaded, "held back until complete");
        let s = run(s, vec![event(EventType::InitialListComplete, None, "7")]);
        assert_eq!(names(&s), ["a-shop"]);
        assert!(s.loaded);
        assert_eq!(s.resume_token, "7");
        assert_eq!(s.connection, Connection::Live);
    }

    #[test]
    fn changes_after_the_list_apply_and_move_the_resume_token() {
        let s = run(
            StoresState::default(),
            vec![
                StoresAction::Connected,
                event(EventType::InitialListComplete, None, "1"),
                event(
                    EventType::Added,
                    Some(store("1", "a-shop", StorePhase::Provisioning, 1)),
                    "2",
                ),
                event(
                    EventType::Modified,
                    Some(store("1", "a-shop", StorePhase::Ready, 1)),
                    "3",
                ),
                event(
                    EventType::Added,
                    Some(store("2", "b-shop", StorePhase::Provisioning, 2)),
                    "4",
                ),
                event(
                    EventType::Deleted,
                    Some(store("2", "b-shop", StorePhase::Deleting, 2)),
                    "5",
                ),
                event(EventType::Heartbeat, None, "6"),
            ],
        );
        assert_eq!(names(&s), ["a-shop"]);
        assert_eq!(
            s.by_name("a-shop").map(Store::phase),
            Some(StorePhase::Ready)
        );
        assert_eq!(s.resume_token, "6");
    }

    #[test]
    fn reconnecting_with_a_token_keeps_the_list_and_applies_what_was_missed() {
        let live = run(
            StoresState::default(),
            vec![
                StoresAction::Connected,
                event(
                    EventType::Added,
                    Some(store("1", "a-shop", StorePhase::Ready, 1)),
                    "",
                ),
                event(EventType::InitialListComplete, None, "3"),
                StoresAction::Disconnected("network".into()),
            ],
        );
        assert_eq!(
            live.connection,
            Connection::Reconnecting {
                error: "network".into()
            }
        );
        assert_eq!(names(&live), ["a-shop"], "kept while disconnected");
        let s = run(
            live,
            vec![
                StoresAction::Connected,
                event(
                    EventType::Added,
                    Some(store("2", "b-shop", StorePhase::Provisioning, 2)),
                    "4",
                ),
            ],
        );
        assert_eq!(names(&s), ["a-shop", "b-shop"]);
        assert_eq!(s.failures, 0);
    }

    #[test]
    fn resync_required_replaces_the_list_with_a_fresh_one() {
        let stale = run(
            StoresState::default(),
            vec![
                StoresAction::Connected,
                event(
                    EventType::Added,
                    Some(store("1", "gone-shop", StorePhase::Ready, 1)),
                    "",
                ),
                event(EventType::InitialListComplete, None, "3"),
                StoresAction::Connected,
                event(EventType::ResyncRequired, None, ""),
            ],
        );
        assert_eq!(stale.resume_token, "", "the next watch starts over");
        let s = run(
            stale,
            vec![
                StoresAction::Disconnected("stream ended".into()),
                StoresAction::Connected,
                event(
                    EventType::Added,
                    Some(store("2", "new-shop", StorePhase::Ready, 2)),
                    "",
                ),
                event(EventType::InitialListComplete, None, "90"),
            ],
        );
        assert_eq!(
            names(&s),
            ["new-shop"],
            "the store deleted meanwhile is gone"
        );
        assert_eq!(s.resume_token, "90");
    }

    #[test]
    fn repeated_failures_turn_reconnecting_into_offline() {
        let s = run(
            StoresState::default(),
            (0..OFFLINE_AFTER_FAILURES)
                .map(|i| StoresAction::Disconnected(format!("try {i}")))
                .collect(),
        );
        assert!(matches!(s.connection, Connection::Offline { .. }));
        let s = run(s, vec![StoresAction::Connected]);
        assert_eq!(s.connection, Connection::Live);
    }

    #[test]
    fn reset_forgets_everything() {
        let s = run(
            StoresState::default(),
            vec![
                StoresAction::Connected,
                event(EventType::InitialListComplete, None, "3"),
                StoresAction::Reset,
            ],
        );
        assert_eq!(s, StoresState::default());
    }

    #[test]
    fn filter_by_phase_and_engine_lists_newest_first() {
        let s = run(
            StoresState::default(),
            vec![
                StoresAction::Connected,
                event(
                    EventType::Added,
                    Some(store("1", "old-shop", StorePhase::Ready, 1)),
                    "",
                ),
                event(
                    EventType::Added,
                    Some(store("2", "new-shop", StorePhase::Ready, 9)),
                    "",
                ),
                event(
                    EventType::Added,
                    Some(store("3", "mid-shop", StorePhase::Failed, 5)),
                    "",
                ),
                event(EventType::InitialListComplete, None, "1"),
            ],
        );
        let listed = |f: StoreFilter| -> Vec<String> {
            f.apply(&s).iter().map(|st| st.name.clone()).collect()
        };
        assert_eq!(
            listed(StoreFilter::default()),
            ["new-shop", "mid-shop", "old-shop"]
        );
        let ready = StoreFilter {
            phase: Some(StorePhase::Ready),
            engine: None,
        };
        assert_eq!(listed(ready), ["new-shop", "old-shop"]);
        let medusa = StoreFilter {
            phase: None,
            engine: Some("medusa".into()),
        };
        assert_eq!(listed(medusa), ["mid-shop"]);
        assert_eq!(s.engines(), ["medusa", "woocommerce"]);
    }

    #[test]
    fn suspended_stores_are_filtered_by_their_own_phase() {
        let s = run(
            StoresState::default(),
            vec![
                StoresAction::Connected,
                event(
                    EventType::Added,
                    Some(store("1", "open-shop", StorePhase::Ready, 1)),
                    "",
                ),
                event(
                    EventType::Added,
                    Some(store("2", "paused-shop", StorePhase::Suspended, 2)),
                    "",
                ),
                event(EventType::InitialListComplete, None, "1"),
            ],
        );
        let filter = StoreFilter {
            phase: phase_from_slug("suspended"),
            engine: None,
        };
        let listed: Vec<&str> = filter.apply(&s).iter().map(|st| st.name.as_str()).collect();
        assert_eq!(listed, ["paused-shop"]);
    }

    #[test]
    fn phase_slugs_round_trip() {
        for (phase, slug, _) in PHASES {
            assert_eq!(phase_from_slug(slug), Some(phase));
            assert_eq!(phase_names(phase).0, slug);
        }
        assert_eq!(phase_names(StorePhase::Unspecified).1, "Unknown");
        assert_eq!(
            phase_names(StorePhase::Suspended),
            ("suspended", "Suspended")
        );
    }
}
