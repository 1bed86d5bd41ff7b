//! Hooks: the contexts the app provides (session, live stores, route) and
//! the effects behind them (the watch loop, one-shot loads, a ticking
//! clock).

mod load;
mod watch;

use yew::prelude::*;

pub use load::{Load, use_load};
pub use watch::{StoresContext, backoff_delay, use_store_watch};

use crate::{
    api::Api,
    route::Route,
    state::{Session, SessionAction},
};

/// The session, shared by every component.
pub type SessionContext = UseReducerHandle<Session>;

/// The session from context. The app always provides one; a component
/// rendered outside it (a test harness) gets an empty session.
#[hook]
pub fn use_session() -> SessionContext {
    let fallback = use_reducer(|| Session::new("", None));
    use_context::<SessionContext>().unwrap_or(fallback)
}

/// An API handle for the current address and token.
#[hook]
pub fn use_api() -> Api {
    let session = use_session();
    let key = (session.api_base.clone(), session.token.clone());
    (*use_memo(key, |(base, token)| Api::new(base, token.as_deref()))).clone()
}

/// Reports an UNAUTHENTICATED answer to a call made with `api`'s token.
pub fn report_unauthenticated(session: &SessionContext, api: &Api, why: String) {
    session.dispatch(SessionAction::Rejected {
        token: api.token().map(str::to_owned),
        why,
    });
}

/// The current page and a way to go elsewhere.
#[derive(Clone, PartialEq)]
pub struct RouteContext {
    /// Where we are.
    pub route: Route,
    /// Goes to a route (pushing it onto the history).
    pub navigate: Callback<Route>,
}

/// The route context. Outside the app: the stores page, going nowhere.
#[hook]
pub fn use_route() -> RouteContext {
    use_context::<RouteContext>().unwrap_or(RouteContext {
        route: Route::Stores,
        navigate: Callback::noop(),
    })
}

/// The current time in milliseconds, refreshed every `period_ms`, so
/// "2 min ago" stays true. (A local timer: nothing is fetched.)
#[hook]
pub fn use_now(period_ms: u32) -> f64 {
    let now = use_state(crate::time::now_ms);
    {
        let now = now.clone();
        use_effect_with(period_ms, move |period| {
            let (abort, registration) = futures::future::AbortHandle::new_pair();
            let period = std::time::Duration::from_millis(u64::from(*period));
            yew::platform::spawn_local(async move {
                let tick = async {
                    loop {
                        yew::platform::time::sleep(period).await;
                        now.set(crate::time::now_ms());
                    }
                };
                let _ = futures::future::Abortable::new(tick, registration).await;
            });
            move || abort.abort()
        });
    }
    *now
}
