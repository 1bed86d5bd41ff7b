//! Suspending and resuming a store: which of the two the dashboard offers,
//! and what the engine is doing meanwhile, read from the store as the
//! watch reports it (no state of its own: the server's word is enough).
//!
//! `Store.suspended` is what the owner asked for; the phase is what the
//! engine has done. While pausing, the phase stays Ready with a generation
//! the engine has not observed yet; while resuming, it stays Suspended
//! until the store is Ready again.

use storeplane_proto::v1::{Engine, Store, StorePhase};

/// `Engine.operations` entry for suspending a store.
pub const SUSPEND: &str = "suspend";
/// `Engine.operations` entry for resuming a store.
pub const RESUME: &str = "resume";

/// Work under way between Ready and Suspended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Suspend requested; the engine is stopping the store.
    Pausing,
    /// Resume requested; the engine is bringing the store back.
    Resuming,
}

impl Transition {
    /// What the page says while it lasts.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pausing => "Pausing…",
            Self::Resuming => "Resuming…",
        }
    }

    /// A stable name (`data-transition`, for styles and tests).
    pub fn slug(self) -> &'static str {
        match self {
            Self::Pausing => "pausing",
            Self::Resuming => "resuming",
        }
    }
}

/// What the owner can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseAction {
    /// Pause a running store.
    Suspend,
    /// Bring a paused store back.
    Resume,
}

/// The transition `store` is in, if any.
pub fn transition(store: &Store) -> Option<Transition> {
    let unobserved = store.generation > store.observed_generation;
    match (store.suspended, store.phase()) {
        (true, StorePhase::Ready) if unobserved => Some(Transition::Pausing),
        // Suspended before it ever came up: paused once provisioned.
        (true, StorePhase::Provisioning) => Some(Transition::Pausing),
        (false, StorePhase::Suspended) => Some(Transition::Resuming),
        _ => None,
    }
}

/// Whether `engine` implements `operation` (an `Engine.operations` entry).
pub fn engine_can(engine: Option<&Engine>, operation: &str) -> bool {
    engine.is_some_and(|e| e.operations.iter().any(|o| o == operation))
}

/// The action to offer for `store` of `engine` (`None` while the engines
/// are unknown): Suspend for a Ready store, Resume for one that is paused
/// (or whose pausing failed), each only when the engine implements it and
/// nothing is under way. Failed and Deleting stores are refused by the
/// server, so nothing is offered for them.
pub fn pause_action(store: &Store, engine: Option<&Engine>) -> Option<PauseAction> {
    if transition(store).is_some() {
        return None;
    }
    match store.phase() {
        StorePhase::Deleting | StorePhase::Unspecified => None,
        _ if store.suspended => engine_can(engine, RESUME).then_some(PauseAction::Resume),
        StorePhase::Ready => engine_can(engine, SUSPEND).then_some(PauseAction::Suspend),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(phase: StorePhase, suspended: bool, generation: i64, observed: i64) -> Store {
        Store {
            name: "shop".into(),
            engine: "woocommerce".into(),
            phase: phase.into(),
            suspended,
            generation,
            observed_generation: observed,
            ..Store::default()
        }
    }

    fn engine(operations: &[&str]) -> Engine {
        Engine {
            id: "woocommerce".into(),
            operations: operations.iter().map(|o| (*o).to_owned()).collect(),
            ..Engine::default()
        }
    }

    #[test]
    fn a_ready_store_is_offered_suspend_only_when_its_engine_can() {
        let ready = store(StorePhase::Ready, false, 1, 1);
        let woo = engine(&[SUSPEND, RESUME]);
        assert_eq!(pause_action(&ready, Some(&woo)), Some(PauseAction::Suspend));
        let static_site = engine(&[]);
        assert_eq!(pause_action(&ready, Some(&static_site)), None);
        assert_eq!(pause_action(&ready, None), None, "engines not loaded yet");
    }

    #[test]
    fn suspend_then_resume_reads_pausing_suspended_resuming_ready() {
        let woo = engine(&[SUSPEND, RESUME]);
        // SuspendStore: a new generation, phase still Ready.
        let pausing = store(StorePhase::Ready, true, 2, 1);
        assert_eq!(transition(&pausing), Some(Transition::Pausing));
        assert_eq!(pause_action(&pausing, Some(&woo)), None);
        // The engine paused it.
        let suspended = store(StorePhase::Suspended, true, 2, 2);
        assert_eq!(transition(&suspended), None);
        assert_eq!(
            pause_action(&suspended, Some(&woo)),
            Some(PauseAction::Resume)
        );
        // ResumeStore: the phase stays Suspended until the store is Ready.
        let resuming = store(StorePhase::Suspended, false, 3, 2);
        assert_eq!(transition(&resuming), Some(Transition::Resuming));
        assert_eq!(
            transition(&resuming).map(Transition::label),
            Some("Resuming…")
        );
        assert_eq!(pause_action(&resuming, Some(&woo)), None);
        let back = store(StorePhase::Ready, false, 3, 3);
        assert_eq!(transition(&back), None);
        assert_eq!(pause_action(&back, Some(&woo)), Some(PauseAction::Suspend));
    }

    #[test]
    fn failed_and_deleting_stores_are_offered_neither_unless_a_pause_failed() {
        let woo = engine(&[SUSPEND, RESUME]);
        let failed = store(StorePhase::Failed, false, 1, 1);
        assert_eq!(pause_action(&failed, Some(&woo)), None);
        let deleting = store(StorePhase::Deleting, true, 2, 1);
        assert_eq!(pause_action(&deleting, Some(&woo)), None);
        // The engine failed to pause it: bringing it back is still asked for.
        let pause_failed = store(StorePhase::Failed, true, 2, 2);
        assert_eq!(
            pause_action(&pause_failed, Some(&woo)),
            Some(PauseAction::Resume)
        );
    }

    #[test]
    fn a_store_suspended_while_provisioning_reads_pausing() {
        let provisioning = store(StorePhase::Provisioning, true, 2, 0);
        assert_eq!(transition(&provisioning), Some(Transition::Pausing));
        let provisioning = store(StorePhase::Provisioning, false, 1, 0);
        assert_eq!(pause_action(&provisioning, Some(&engine(&[SUSPEND]))), None);
    }
}
