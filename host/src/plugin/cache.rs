//! A cache of compiled plugins: compiling a component with Cranelift takes
//! tens of milliseconds to seconds; loading the engine's own serialized
//! artifact takes well under one. Artifacts live in `.cache/` beside the
//! plugins, named by the SHA-256 of the component and the engine's
//! compatibility hash, so a changed plugin or a different wasmtime build
//! never loads a stale artifact.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Folder (inside the plugins dir) holding compiled artifacts.
const CACHE_DIR: &str = ".cache";

/// Where the compiled form of `bytes` (from `path`) is kept.
fn artifact_path(engine: &Engine, path: &Path, bytes: &[u8]) -> Option<PathBuf> {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    let mut digest = Sha256::new();
    digest.update(bytes);
    digest.update(engine_hash.finish().to_le_bytes());
    let name = path.file_stem()?.to_string_lossy();
    let dir = path.parent()?.join(CACHE_DIR);
    Some(dir.join(format!(
        "{name}-{}.cwasm",
        hex::encode(&digest.finalize()[..12])
    )))
}

/// The component for `bytes`: from the cache when it holds a matching
/// artifact, else compiled and cached (best effort: a read-only plugins dir
/// only costs the compile).
pub fn load(engine: &Engine, path: &Path, bytes: &[u8]) -> wasmtime::Result<Component> {
    let Some(artifact) = artifact_path(engine, path, bytes) else {
        return Component::from_binary(engine, bytes);
    };
    if artifact.is_file() {
        // SAFETY: the artifact was written by `Component::serialize` of this
        // engine configuration (its name carries the engine's compatibility
        // hash and the component's digest) into the operator's plugins dir.
        #[allow(unsafe_code)]
        match unsafe { Component::deserialize_file(engine, &artifact) } {
            Ok(component) => return Ok(component),
            Err(error) => {
                tracing::warn!(artifact = %artifact.display(), %error, "ignoring a bad compiled-plugin cache entry")
            }
        }
    }
    let component = Component::from_binary(engine, bytes)?;
    if let Err(error) = store(&component, &artifact) {
        tracing::debug!(artifact = %artifact.display(), %error, "cannot cache the compiled plugin");
    }
    Ok(component)
}

fn store(component: &Component, artifact: &Path) -> wasmtime::Result<()> {
    let dir = artifact
        .parent()
        .ok_or_else(|| wasmtime::format_err!("no parent folder"))?;
    std::fs::create_dir_all(dir)?;
    let temp = artifact.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temp, component.serialize()?)?;
    std::fs::rename(&temp, artifact)?;
    Ok(())
}
