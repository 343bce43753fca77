//! Generates the job channel's gRPC client and server from `proto/cyxwiz/node/v1`.
//!
//! The protos are parsed by `protox` (a Rust protobuf compiler), so no system `protoc`
//! is needed to build.

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let proto = root.join("cyxwiz/node/v1/node.proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    let fds = protox::compile([&proto], [&root])?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
