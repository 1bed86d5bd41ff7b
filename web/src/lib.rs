//! storeplane's web dashboard: a Yew app that talks gRPC-web to the
//! control plane.
//!
//! - [`state`]: plain data and reducers, unit-tested natively;
//! - [`api`]: the only place that builds gRPC-web clients;
//! - [`hooks`]: the watch loop, loads, contexts;
//! - [`components`] and [`pages`]: the UI.
//!
//! The crate also compiles natively so `cargo test` runs the pure parts
//! without a browser; only the entry point is wasm-only.

pub mod api;
pub mod app;
pub mod browser;
pub mod components;
pub mod hooks;
pub mod pages;
pub mod route;
pub mod schema;
pub mod state;
pub mod time;
pub mod validate;

/// Mounts the app on `<body>` once the module is instantiated.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    yew::Renderer::<app::App>::new().render();
}
