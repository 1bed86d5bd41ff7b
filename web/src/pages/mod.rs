//! The dashboard's pages, one per [`crate::route::Route`].

mod audit;
mod create;
mod detail;
mod not_found;
mod stores;

pub use audit::AuditPage;
pub use create::CreatePage;
pub use detail::DetailPage;
pub use not_found::NotFoundPage;
pub use stores::StoresPage;
