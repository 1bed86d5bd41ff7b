//! One-shot API loads that re-run when their inputs change.

use std::{cell::Cell, future::Future, rc::Rc};

use yew::prelude::*;

use super::{report_unauthenticated, use_api, use_session};
use crate::api::{Api, ApiError};

/// The state of a load.
#[derive(Debug, Clone, PartialEq)]
pub enum Load<T> {
    /// Not answered yet.
    Loading,
    /// The answer.
    Ready(T),
    /// The call failed.
    Failed(ApiError),
}

impl<T> Load<T> {
    /// The loaded value, if any.
    pub fn ready(&self) -> Option<&T> {
        match self {
            Self::Ready(v) => Some(v),
            _ => None,
        }
    }
}

/// Runs `load(api, deps)` now and whenever `deps` (or the API handle)
/// change. A reload keeps showing the previous answer until the new one
/// arrives, so a live refresh does not flash "loading". An answer that
/// arrives after the inputs changed again is dropped. UNAUTHENTICATED
/// signs the session out (the token prompt then explains why).
#[hook]
pub fn use_load<T, D, F, Fut>(deps: D, load: F) -> UseStateHandle<Load<T>>
where
    T: 'static,
    D: PartialEq + Clone + 'static,
    F: FnOnce(Api, D) -> Fut + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    let state = use_state(|| Load::Loading);
    let session = use_session();
    let api = use_api();
    {
        let state = state.clone();
        use_effect_with((api, deps), move |(api, deps)| {
            let current = Rc::new(Cell::new(true));
            let future = load(api.clone(), deps.clone());
            let api = api.clone();
            {
                let current = Rc::clone(&current);
                yew::platform::spawn_local(async move {
                    let result = future.await;
                    if !current.get() {
                        return;
                    }
                    match result {
                        Ok(value) => state.set(Load::Ready(value)),
                        Err(ApiError::Unauthenticated(why)) => {
                            report_unauthenticated(&session, &api, why);
                        }
                        Err(err) => state.set(Load::Failed(err)),
                    }
                });
            }
            move || current.set(false)
        });
    }
    state
}
