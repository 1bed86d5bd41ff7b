//! Compiles `storeplane/v1/*.proto` with protox (no system `protoc`) and
//! generates prost messages plus tonic clients/servers as the features ask.

use std::{env, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "storeplane/v1/store.proto",
        "storeplane/v1/tenancy.proto",
        "storeplane/v1/audit.proto",
        "storeplane/v1/info.proto",
    ];
    println!("cargo:rerun-if-changed=storeplane");

    let fds = protox::compile(protos, ["."])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("storeplane_descriptor.bin"),
        fds.encode_to_vec(),
    )?;

    let server = env::var_os("CARGO_FEATURE_SERVER").is_some();
    let client = env::var_os("CARGO_FEATURE_CLIENT").is_some();
    let transport = env::var_os("CARGO_FEATURE_TRANSPORT").is_some();
    tonic_prost_build::configure()
        .build_server(server)
        .build_client(client)
        // `connect()` needs tonic's transport, which the browser cannot use.
        .build_transport(transport)
        .server_mod_attribute(".", "#[allow(missing_docs)]")
        .client_mod_attribute(".", "#[allow(missing_docs)]")
        .compile_fds(fds)?;
    Ok(())
}
