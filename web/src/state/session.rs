//! Who the dashboard talks to and as whom: the API base, the server's
//! self-description (`GetServerInfo`) and the bearer token.

use std::rc::Rc;

use storeplane_proto::v1::ServerInfo;
use yew::Reducible;

/// What we know about the server.
#[derive(Debug, Clone, PartialEq)]
pub enum InfoState {
    /// `GetServerInfo` has not answered yet.
    Loading,
    /// The server described itself.
    Loaded(ServerInfo),
    /// The server could not be reached; the message says why.
    Failed(String),
}

/// The session: one per browser tab (the token lives in sessionStorage).
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Where the gRPC-web API lives (no trailing slash).
    pub api_base: String,
    /// The bearer token, if one was entered.
    pub token: Option<String>,
    /// The server's self-description.
    pub info: InfoState,
    /// Why the token prompt is shown again (e.g. the server rejected it).
    pub prompt_reason: Option<String>,
}

/// Changes to the session.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionAction {
    /// `GetServerInfo` answered.
    InfoLoaded(ServerInfo),
    /// `GetServerInfo` failed.
    InfoFailed(String),
    /// Asking `GetServerInfo` again (after a failure).
    InfoRetry,
    /// The user entered a token.
    SignIn(String),
    /// The user signed out.
    SignOut,
    /// The server answered UNAUTHENTICATED to a call made with `token`:
    /// it is wrong, expired or revoked, so forget it and ask again, saying
    /// why.
    Rejected {
        /// The token the refused call carried.
        token: Option<String>,
        /// The server's message.
        why: String,
    },
}

impl Session {
    /// A session against `api_base` with a remembered `token`.
    pub fn new(api_base: impl Into<String>, token: Option<String>) -> Self {
        Self {
            api_base: api_base.into().trim_end_matches('/').to_owned(),
            token: token.filter(|t| !t.is_empty()),
            info: InfoState::Loading,
            prompt_reason: None,
        }
    }

    /// The server's description, once known.
    pub fn server(&self) -> Option<&ServerInfo> {
        match &self.info {
            InfoState::Loaded(info) => Some(info),
            _ => None,
        }
    }

    /// The server wants a token and we have none.
    pub fn needs_token(&self) -> bool {
        self.server().is_some_and(|i| i.auth_required) && self.token.is_none()
    }

    /// Calls other than `GetServerInfo` can be made.
    pub fn ready(&self) -> bool {
        self.server().is_some() && !self.needs_token()
    }
}

/// What a person pastes is often `Bearer spt_…` or has stray whitespace.
pub fn clean_token(raw: &str) -> String {
    let t = raw.trim();
    let t = t
        .strip_prefix("Bearer ")
        .or_else(|| t.strip_prefix("bearer "))
        .unwrap_or(t);
    t.trim().to_owned()
}

impl Reducible for Session {
    type Action = SessionAction;

    fn reduce(self: Rc<Self>, action: Self::Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            SessionAction::InfoLoaded(info) => next.info = InfoState::Loaded(info),
            SessionAction::InfoFailed(why) => next.info = InfoState::Failed(why),
            SessionAction::InfoRetry => next.info = InfoState::Loading,
            SessionAction::SignIn(raw) => {
                let token = clean_token(&raw);
                if token.is_empty() {
                    return self;
                }
                next.token = Some(token);
                next.prompt_reason = None;
            }
            SessionAction::SignOut => {
                next.token = None;
                next.prompt_reason = None;
            }
            SessionAction::Rejected { token, why } => {
                // A late UNAUTHENTICATED from a call made with an older
                // token must not sign out a freshly entered one.
                if token != self.token {
                    return self;
                }
                next.token = None;
                next.prompt_reason = Some(why);
            }
        }
        Rc::new(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(auth_required: bool) -> ServerInfo {
        ServerInfo {
            auth_required,
            ..ServerInfo::default()
        }
    }

    fn reduce(s: Session, a: SessionAction) -> Session {
        (*Rc::new(s).reduce(a)).clone()
    }

    #[test]
    fn a_token_is_needed_only_when_the_server_requires_one() {
        let s = Session::new("http://x/", None);
        assert_eq!(s.api_base, "http://x");
        assert!(!s.needs_token() && !s.ready(), "unknown until info loads");
        let open = reduce(s.clone(), SessionAction::InfoLoaded(info(false)));
        assert!(!open.needs_token() && open.ready());
        let locked = reduce(s, SessionAction::InfoLoaded(info(true)));
        assert!(locked.needs_token() && !locked.ready());
        let signed_in = reduce(locked, SessionAction::SignIn(" Bearer spt_abc \n".into()));
        assert_eq!(signed_in.token.as_deref(), Some("spt_abc"));
        assert!(signed_in.ready());
    }

    #[test]
    fn a_rejected_token_is_forgotten_with_a_reason_and_sign_out_clears_it() {
        let s = reduce(
            Session::new("http://x", Some("spt_old".into())),
            SessionAction::InfoLoaded(info(true)),
        );
        let stale = reduce(
            s.clone(),
            SessionAction::Rejected {
                token: Some("spt_older".into()),
                why: "late answer".into(),
            },
        );
        assert_eq!(
            stale.token.as_deref(),
            Some("spt_old"),
            "a stale refusal is ignored"
        );
        let rejected = reduce(
            s,
            SessionAction::Rejected {
                token: Some("spt_old".into()),
                why: "token revoked".into(),
            },
        );
        assert_eq!(rejected.token, None);
        assert_eq!(rejected.prompt_reason.as_deref(), Some("token revoked"));
        assert!(rejected.needs_token());
        let again = reduce(rejected, SessionAction::SignIn("spt_new".into()));
        assert_eq!(again.prompt_reason, None);
        let out = reduce(again, SessionAction::SignOut);
        assert_eq!(out.token, None);
    }

    #[test]
    fn blank_tokens_are_ignored_and_empty_remembered_ones_dropped() {
        let s = reduce(Session::new("x", None), SessionAction::SignIn("   ".into()));
        assert_eq!(s.token, None);
        assert_eq!(Session::new("x", Some(String::new())).token, None);
    }
}
