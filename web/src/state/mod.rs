//! The dashboard's state: plain data plus reducers (`yew::Reducible`), as in
//! Yew's `function_todomvc`. Nothing here touches the browser or the network,
//! so every transition is unit-tested natively.

pub mod create_form;
pub mod session;
pub mod stores;

pub use create_form::{CreateForm, FormAction};
pub use session::{InfoState, Session, SessionAction};
pub use stores::{Connection, StoreFilter, StoresAction, StoresState};
