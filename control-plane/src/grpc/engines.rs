//! `storeplane.v1.EngineService`.

use std::sync::Arc;

use storeplane_proto::v1::{self as pb, engine_service_server::EngineService as EngineServiceRpc};
use tonic::{Request, Response, Status};

use crate::domain::ports::EngineCatalog;

/// The engine API.
#[derive(Clone)]
pub struct EngineApi {
    catalog: Arc<dyn EngineCatalog>,
}

impl EngineApi {
    /// Serves the engines of `catalog`.
    pub fn new(catalog: Arc<dyn EngineCatalog>) -> Self {
        Self { catalog }
    }
}

#[tonic::async_trait]
impl EngineServiceRpc for EngineApi {
    async fn list_engines(
        &self,
        _request: Request<pb::ListEnginesRequest>,
    ) -> Result<Response<pb::ListEnginesResponse>, Status> {
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
            })
            .collect();
        Ok(Response::new(pb::ListEnginesResponse { engines }))
    }
}
