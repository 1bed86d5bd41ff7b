//! `storeplane.v1.StoreService`.

use std::{pin::Pin, sync::Arc};

use futures::Stream;
use storeplane_proto::v1::{
    self as pb, store_service_server::StoreService as StoreServiceRpc,
    watch_stores_response::EventType,
};
use tokio_stream::{StreamExt, wrappers::ReceiverStream};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::{convert, to_status};
use crate::domain::{
    Error, FieldViolation, StoreFilter, TenantId,
    service::{CreateRequest, StoreService},
    validate,
};
use crate::watch::{self, ChangeHub, WatchEvent, WatchOptions};

/// The store API.
#[derive(Clone)]
pub struct StoreApi {
    service: StoreService,
    hub: ChangeHub,
    watch: WatchOptions,
    shutdown: CancellationToken,
}

impl StoreApi {
    /// Serves `service`; watches end when `shutdown` is cancelled.
    pub fn new(
        service: StoreService,
        hub: ChangeHub,
        watch: WatchOptions,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            service,
            hub,
            watch,
            shutdown,
        }
    }
}

/// The caller's tenant. Until authentication exists every caller acts for
/// the default tenant; every query is already scoped by tenant below.
fn tenant<T>(_request: &Request<T>) -> TenantId {
    TenantId::default_tenant()
}

fn store_ref(id: &str, name: &str) -> Result<crate::domain::StoreRef, Status> {
    validate::store_ref(id, name).map_err(|v| to_status(Error::InvalidArgument(v)))
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchStoresResponse, Status>> + Send>>;

#[tonic::async_trait]
impl StoreServiceRpc for StoreApi {
    async fn create_store(
        &self,
        request: Request<pb::CreateStoreRequest>,
    ) -> Result<Response<pb::Store>, Status> {
        let tenant = tenant(&request);
        let req = request.into_inner();
        let config = convert::struct_to_config(req.config)
            .map_err(|v| to_status(Error::InvalidArgument(vec![v])))?;
        let store = self
            .service
            .create(
                tenant,
                CreateRequest {
                    name: req.name,
                    engine: req.engine,
                    config,
                    request_id: req.request_id,
                },
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::store_to_pb(&store)))
    }

    async fn get_store(
        &self,
        request: Request<pb::GetStoreRequest>,
    ) -> Result<Response<pb::Store>, Status> {
        let tenant = tenant(&request);
        let req = request.into_inner();
        let store = self
            .service
            .get(&tenant, &store_ref(&req.id, &req.name)?)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::store_to_pb(&store)))
    }

    async fn list_stores(
        &self,
        request: Request<pb::ListStoresRequest>,
    ) -> Result<Response<pb::ListStoresResponse>, Status> {
        let tenant = tenant(&request);
        let req = request.into_inner();
        let mut violations: Vec<FieldViolation> = Vec::new();
        let phases = convert::phases_from_pb(&req.phases).unwrap_or_else(|v| {
            violations.push(v);
            Vec::new()
        });
        if !violations.is_empty() {
            return Err(to_status(Error::InvalidArgument(violations)));
        }
        let filter = StoreFilter {
            phases,
            engine: (!req.engine.is_empty()).then_some(req.engine),
        };
        let page = self
            .service
            .list(&tenant, &filter, req.page_size, &req.page_token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListStoresResponse {
            stores: page.items.iter().map(convert::store_to_pb).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn delete_store(
        &self,
        request: Request<pb::DeleteStoreRequest>,
    ) -> Result<Response<pb::Store>, Status> {
        let tenant = tenant(&request);
        let req = request.into_inner();
        let store = self
            .service
            .delete(&tenant, &store_ref(&req.id, &req.name)?, &req.etag)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::store_to_pb(&store)))
    }

    async fn retry_store(
        &self,
        request: Request<pb::RetryStoreRequest>,
    ) -> Result<Response<pb::Store>, Status> {
        let tenant = tenant(&request);
        let req = request.into_inner();
        let store = self
            .service
            .retry(&tenant, &store_ref(&req.id, &req.name)?)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::store_to_pb(&store)))
    }

    type WatchStoresStream = WatchStream;

    async fn watch_stores(
        &self,
        request: Request<pb::WatchStoresRequest>,
    ) -> Result<Response<Self::WatchStoresStream>, Status> {
        let tenant = tenant(&request);
        let req = request.into_inner();
        let resume = if req.resume_token.is_empty() {
            None
        } else {
            match req.resume_token.parse::<i64>() {
                Ok(seq) if seq >= 0 => Some(seq),
                _ => {
                    return Err(to_status(Error::invalid(
                        "resume_token",
                        "is not a token this API issued; watch without one to start over",
                    )));
                }
            }
        };
        let events = watch::watch(
            Arc::clone(self.service.repository()),
            &self.hub,
            tenant,
            resume,
            self.watch,
            self.shutdown.clone(),
        );
        let stream = ReceiverStream::new(events).map(|event| match event {
            Ok(event) => Ok(watch_response(event)),
            Err(err) => Err(to_status(err)),
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn list_store_events(
        &self,
        request: Request<pb::ListStoreEventsRequest>,
    ) -> Result<Response<pb::ListStoreEventsResponse>, Status> {
        let tenant = tenant(&request);
        let req = request.into_inner();
        let page = self
            .service
            .events(
                &tenant,
                &store_ref(&req.id, &req.name)?,
                req.page_size,
                &req.page_token,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListStoreEventsResponse {
            events: page.items.iter().map(convert::event_to_pb).collect(),
            next_page_token: page.next_page_token,
        }))
    }
}

fn watch_response(event: WatchEvent) -> pb::WatchStoresResponse {
    let token = |seq: i64| seq.to_string();
    let (event_type, store, resume_token) = match event {
        WatchEvent::Added(store, seq) => (
            EventType::Added,
            Some(store),
            seq.map(token).unwrap_or_default(),
        ),
        WatchEvent::Modified(store, seq) => (EventType::Modified, Some(store), token(seq)),
        WatchEvent::Deleted(store, seq) => (EventType::Deleted, Some(store), token(seq)),
        WatchEvent::InitialListComplete(seq) => (EventType::InitialListComplete, None, token(seq)),
        WatchEvent::Heartbeat(seq) => (EventType::Heartbeat, None, token(seq)),
        WatchEvent::ResyncRequired => (EventType::ResyncRequired, None, String::new()),
    };
    pb::WatchStoresResponse {
        r#type: event_type.into(),
        store: store.as_ref().map(convert::store_to_pb),
        resume_token,
    }
}
