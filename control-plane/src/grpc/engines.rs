//! `storeplane.v1.EngineService`.

use std::sync::Arc;

use storeplane_proto::v1::{self as pb, engine_service_server::EngineService as EngineServiceRpc};
use tonic::{Request, Response, Status};

use super::gate::Gate;
use crate::domain::ports::EngineCatalog;

/// The engine API.
#[derive(Clone)]
pub struct EngineApi {
    catalog: Arc<dyn EngineCatalog>,
    gate: Arc<Gate>,
}

impl EngineApi {
    /// Serves the engines of `catalog` to authenticated callers.
    pub fn new(catalog: Arc<dyn EngineCatalog>, gate: Arc<Gate>) -> Self {
        Self { catalog, gate }
    }
}

#[tonic::async_trait]
impl EngineServiceRpc for EngineApi {
    async fn list_engines(
        &self,
        request: Request<pb::ListEnginesRequest>,
    ) -> Result<Response<pb::ListEnginesResponse>, Status> {
        self.gate.caller(&request).await?;
        let engines = self
            .catalog
            .engines()
            .into_iter()
            .map(|e| pb::Engine {
                id: e.id,
                display_name: e.display_name,
                version: e.version,
                description: e.description,
                config_schema: e.config_schema.to_string(),
                operations: e.operations.iter().map(|o| o.as_str().to_owned()).collect(),
                plugin_api: e.plugin_api,
            })
            .collect();
        Ok(Response::new(pb::ListEnginesResponse { engines }))
    }
}
