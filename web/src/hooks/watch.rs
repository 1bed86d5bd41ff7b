//! The `WatchStores` loop: list-then-watch, resume after a disconnect with
//! the last token, start over on RESYNC_REQUIRED, back off exponentially
//! while the server is unreachable. No polling: the server pushes.

use std::{cell::RefCell, rc::Rc, time::Duration};

use futures::{
    StreamExt,
    channel::mpsc,
    future::{AbortHandle, Abortable, Either, select},
};
use storeplane_proto::v1::watch_stores_response::EventType;
use yew::{platform::time::sleep, prelude::*};

use crate::{
    api::{Api, ApiError},
    browser,
    state::{StoresAction, StoresState},
};

/// The live stores and a way to skip the current backoff wait.
#[derive(Clone, PartialEq)]
pub struct StoresContext {
    /// What the watch reported.
    pub state: UseReducerHandle<StoresState>,
    /// Reconnects now instead of after the backoff delay.
    pub reconnect: Callback<()>,
}

/// First retry delay; doubles per failure up to [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(500);
/// Longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A stream that sends nothing for this long is presumed dead. The server
/// sends a heartbeat every 15 s by default; three missed ones is an outage,
/// not jitter.
const STALL_TIMEOUT: Duration = Duration::from_secs(45);

/// The wait before attempt `failures + 1`: 0.5 s doubling to 30 s, with
/// ±20 % jitter (`jitter` in `[0, 1)`) so that many tabs do not reconnect
/// in lockstep after a server restart.
pub fn backoff_delay(failures: u32, jitter: f64) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let base = BASE_BACKOFF.saturating_mul(1 << exp).min(MAX_BACKOFF);
    base.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
}

/// How one stream ended.
enum Ended {
    /// RESYNC_REQUIRED: list again at once.
    Resync,
    /// Broke; wait, then resume.
    Failed(ApiError),
}

/// Keeps a `WatchStores` stream open while `api` is `Some`, feeding the
/// returned state. `on_unauthenticated` hears the server's message when
/// the token is refused; the loop then stops (the session asks again).
#[hook]
pub fn use_store_watch(api: Option<Api>, on_unauthenticated: Callback<String>) -> StoresContext {
    let state = use_reducer(StoresState::default);
    let kick: Rc<RefCell<Option<mpsc::UnboundedSender<()>>>> = use_mut_ref(|| None);
    {
        let dispatcher = state.dispatcher();
        let kick = Rc::clone(&kick);
        use_effect_with(api, move |api| {
            dispatcher.dispatch(StoresAction::Reset);
            let (abort, registration) = AbortHandle::new_pair();
            let (tx, rx) = mpsc::unbounded();
            // Coming back online is the best moment to retry.
            let online = {
                let tx = tx.clone();
                web_sys::window().map(|w| {
                    gloo_events::EventListener::new(&w, "online", move |_| {
                        let _ = tx.unbounded_send(());
                    })
                })
            };
            *kick.borrow_mut() = Some(tx);
            if let Some(api) = api.clone() {
                yew::platform::spawn_local(async move {
                    let run = watch_loop(api, dispatcher, on_unauthenticated, rx);
                    let _ = Abortable::new(run, registration).await;
                });
            }
            move || {
                abort.abort();
                drop(online);
            }
        });
    }
    let reconnect = use_callback((), move |(), ()| {
        if let Some(tx) = kick.borrow().as_ref() {
            let _ = tx.unbounded_send(());
        }
    });
    StoresContext { state, reconnect }
}

async fn watch_loop(
    api: Api,
    dispatch: UseReducerDispatcher<StoresState>,
    on_unauthenticated: Callback<String>,
    mut kick: mpsc::UnboundedReceiver<()>,
) {
    let mut token = String::new();
    let mut failures = 0u32;
    loop {
        match watch_once(&api, &dispatch, &mut token).await {
            Ended::Resync => continue,
            Ended::Failed(ApiError::Unauthenticated(why)) => {
                on_unauthenticated.emit(why);
                return;
            }
            Ended::Failed(err) => {
                if matches!(err, ApiError::InvalidArgument { .. }) {
                    // Only the resume token can be wrong in a watch
                    // request (a server with a new database, say).
                    token.clear();
                }
                failures = failures.saturating_add(1);
                let why = match err {
                    _ if !browser::online() => "this device is offline".to_owned(),
                    ApiError::Unreachable(detail) => detail,
                    other => other.to_string(),
                };
                dispatch.dispatch(StoresAction::Disconnected(why));
                let wait = sleep(backoff_delay(failures, browser::random_unit()));
                // Whichever comes first: the delay, "retry now", online.
                let _ = select(Box::pin(wait), kick.next()).await;
            }
        }
        // Drain extra kicks so one click means one attempt.
        while kick.try_recv().is_ok() {}
    }
}

async fn watch_once(
    api: &Api,
    dispatch: &UseReducerDispatcher<StoresState>,
    token: &mut String,
) -> Ended {
    let mut stream = match api.watch_stores(token).await {
        Ok(stream) => stream,
        Err(err) => return Ended::Failed(err),
    };
    dispatch.dispatch(StoresAction::Connected);
    loop {
        let next = select(Box::pin(stream.message()), Box::pin(sleep(STALL_TIMEOUT))).await;
        match next {
            Either::Left((Ok(Some(event)), _)) => {
                if !event.resume_token.is_empty() {
                    token.clone_from(&event.resume_token);
                }
                let resync = event.r#type == i32::from(EventType::ResyncRequired);
                if resync {
                    token.clear();
                }
                dispatch.dispatch(StoresAction::Event(Box::new(event)));
                if resync {
                    return Ended::Resync;
                }
            }
            Either::Left((Ok(None), _)) => {
                return Ended::Failed(ApiError::Unreachable("the server closed the stream".into()));
            }
            Either::Left((Err(status), _)) => return Ended::Failed(status.into()),
            Either::Right(_) => {
                return Ended::Failed(ApiError::Unreachable(format!(
                    "no word from the server for {} s",
                    STALL_TIMEOUT.as_secs()
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_half_a_second_and_caps_at_thirty() {
        let mid = |n| backoff_delay(n, 0.5);
        assert_eq!(mid(1), Duration::from_millis(500));
        assert_eq!(mid(2), Duration::from_secs(1));
        assert_eq!(mid(4), Duration::from_secs(4));
        assert_eq!(mid(7), Duration::from_secs(30));
        assert_eq!(mid(100), Duration::from_secs(30));
    }

    #[test]
    fn backoff_jitter_stays_within_twenty_percent() {
        assert_eq!(backoff_delay(2, 0.0), Duration::from_millis(800));
        assert!(backoff_delay(2, 0.999) < Duration::from_millis(1200));
    }
}
