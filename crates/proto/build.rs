//! Generates the gRPC client and server code from `proto/` and a file descriptor set for
//! the coordinator's reflection service.
//!
//! The protos are parsed by `protox`, a protobuf compiler written in Rust, so building
//! needs no system `protoc` (issue 15: a fresh machine has only the Rust toolchain).

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let proto = root.join("cyxwiz/coordinator/v1/coordinator.proto");
    let out = PathBuf::from(env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", proto.display());
    let mut compiler = protox::Compiler::new([&root])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_file(&proto)?;
    std::fs::write(
        out.join("coordinator_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    tonic_prost_build::configure().compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
