//! The dashboard's state: plain data plus reducers (`yew::Reducible`), as in
//! Yew's `function_todomvc`. Nothing here touches the browser or the network,
//! so every transition is unit-tested natively.

pub mod backups;
pub mod create_form;
pub mod domains;
pub mod pause;
pub mod session;
pub mod stores;

pub use backups::{BackupsAction, BackupsCard, Operation};
pub use create_form::{CreateForm, FormAction};
pub use domains::{DomainChange, DomainsAction, DomainsForm};
pub use pause::{PauseAction, Transition};
pub use session::{InfoState, Session, SessionAction};
pub use stores::{Connection, StoreFilter, StoresAction, StoresState};
