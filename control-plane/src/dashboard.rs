//! Serving the built dashboard from the same origin as the API.

use std::path::Path;

use anyhow::{Context as _, bail};
use tower_http::services::{ServeDir, ServeFile};
use tracing::info;

/// Serves the files of `dir` for every request no gRPC service claims, with
/// `index.html` for unknown paths (the dashboard routes in the browser).
pub fn mount(routes: &mut tonic::service::Routes, dir: &Path) -> anyhow::Result<()> {
    let index = dir.join("index.html");
    if !index.is_file() {
        bail!(
            "dashboard directory {} has no index.html; build it with `cargo xtask dashboard`",
            dir.display()
        );
    }
    let files = ServeDir::new(dir)
        .precompressed_gzip()
        .fallback(ServeFile::new(&index));
    let router = std::mem::take(routes.axum_router_mut());
    *routes.axum_router_mut() = router.fallback_service(files);
    info!(dir = %dir.canonicalize().context("dashboard directory")?.display(), "serving the dashboard at /");
    Ok(())
}
