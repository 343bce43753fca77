//! Generates the gRPC client and server code from `proto/` and a file descriptor set for
//! the coordinator's reflection service.

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let proto = root.join("cyxwiz/coordinator/v1/coordinator.proto");
    let out = PathBuf::from(env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", proto.display());
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("coordinator_descriptor.bin"))
        .compile_protos(&[proto], &[root])?;
    Ok(())
}
