//! storeplane's gRPC API.
//!
//! Messages are always generated; `server` adds the tonic service traits,
//! `client` the clients without a transport (for gRPC-web in the browser) and
//! `transport` the `connect()` constructors over tonic's HTTP/2 channel.

/// `storeplane.v1`: stores and engines.
#[allow(missing_docs, clippy::all)]
pub mod v1 {
    tonic::include_proto!("storeplane.v1");
}

/// The encoded `FileDescriptorSet` of every storeplane proto, for server
/// reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/storeplane_descriptor.bin"));
