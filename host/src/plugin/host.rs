//! The process-wide plugin host: one wasmtime engine, an epoch ticker for
//! CPU deadlines, an empty linker, and the registry of loaded plugins.

use super::bindings::PluginPre;
use super::epoch::{EpochClock, EPOCH_TICK};
use super::errors::LoadError;
use super::limits::{SandboxLimits, StoreState};
use super::loaded::LoadedPlugin;
use super::{Manifest, ABI_PACKAGE, ABI_VERSION};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};

/// Guest stack cap; deep recursion traps instead of exhausting the host.
const MAX_WASM_STACK_BYTES: usize = 512 << 10;
/// The exported interface every plugin must provide.
const PROVIDER_INTERFACE: &str = "hookmesh:plugin/provider";

/// Loads plugins and owns the engine they run on.
pub struct PluginHost {
    engine: Engine,
    epoch: EpochClock,
    linker: Linker<StoreState>,
    limits: SandboxLimits,
}

impl PluginHost {
    /// A host whose plugin calls run under `limits`.
    pub fn new(limits: SandboxLimits) -> Result<Self, wasmtime::Error> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(MAX_WASM_STACK_BYTES);
        let engine = Engine::new(&config)?;
        Ok(Self {
            epoch: EpochClock::start(&engine),
            linker: Linker::new(&engine),
            engine,
            limits,
        })
    }

    /// The limits calls run under.
    pub fn limits(&self) -> SandboxLimits {
        self.limits
    }

    /// Compiles, checks and pre-instantiates the component at `path`.
    pub fn load_file(&self, path: &Path) -> Result<LoadedPlugin, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let component =
            super::cache::load(&self.engine, path, &bytes).map_err(|e| LoadError::Invalid {
                path: path.to_path_buf(),
                reason: format!("{e:#}"),
            })?;
        self.check_exported_abi(path, &component)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(PluginPre::new)
            .map_err(|e| LoadError::Link {
                path: path.to_path_buf(),
                reason: format!("{e:#}"),
            })?;
        let manifest = self.read_manifest(path, &pre)?;
        let deadline_ticks = deadline_ticks(self.limits.call_timeout);
        tracing::info!(
            plugin = %manifest.name,
            version = %manifest.version,
            path = %path.display(),
            "plugin loaded"
        );
        Ok(LoadedPlugin::new(
            self.engine.clone(),
            self.epoch.clone(),
            pre,
            self.limits,
            deadline_ticks,
            path,
            manifest,
        ))
    }

    /// Loads every `*.wasm` file directly inside `dir` (not subfolders).
    /// Any plugin that fails to load fails the whole load: a deployment
    /// should not start with a provider silently missing.
    pub fn load_dir(&self, dir: &Path) -> Result<PluginRegistry, LoadError> {
        let dir_error = |source| LoadError::Dir {
            path: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(dir_error)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        files.sort();
        let mut registry = PluginRegistry::default();
        for file in files {
            registry.insert(self.load_file(&file)?)?;
        }
        Ok(registry)
    }

    /// Refuses components that export the contract at an incompatible
    /// version, before wasmtime's generic "no exported instance" error.
    fn check_exported_abi(&self, path: &Path, component: &Component) -> Result<(), LoadError> {
        let ty = component.component_type();
        let exported: Vec<String> = ty
            .exports(&self.engine)
            .map(|(name, _)| name.to_string())
            .filter(|name| name.starts_with(&format!("{ABI_PACKAGE}/")))
            .collect();
        let expected = format!("{PROVIDER_INTERFACE}@{ABI_VERSION}");
        let provider = exported
            .iter()
            .find(|name| name.starts_with(&format!("{PROVIDER_INTERFACE}@")));
        match provider {
            Some(name) if abi_compatible(name.rsplit('@').next().unwrap_or_default()) => Ok(()),
            Some(name) => Err(LoadError::AbiMismatch {
                path: path.to_path_buf(),
                found: name.clone(),
                expected,
            }),
            None => Err(LoadError::AbiMismatch {
                path: path.to_path_buf(),
                found: if exported.is_empty() {
                    "no hookmesh:plugin exports".into()
                } else {
                    exported.join(", ")
                },
                expected,
            }),
        }
    }

    fn read_manifest(
        &self,
        path: &Path,
        pre: &PluginPre<StoreState>,
    ) -> Result<Manifest, LoadError> {
        let bad = |reason: String| LoadError::Manifest {
            path: path.to_path_buf(),
            reason,
        };
        let mut store = Store::new(&self.engine, StoreState::new(self.limits.max_memory_bytes));
        store.limiter(|state| state);
        store.set_epoch_deadline(deadline_ticks(self.limits.call_timeout));
        let _running = self.epoch.call();
        let plugin = pre
            .instantiate(&mut store)
            .map_err(|e| bad(format!("{e:#}")))?;
        let manifest = plugin
            .hookmesh_plugin_provider()
            .call_manifest(&mut store)
            .map_err(|e| bad(format!("manifest() failed: {e:#}")))?;
        validate_manifest(&manifest).map_err(bad)?;
        if !abi_compatible(&manifest.abi_version) {
            return Err(LoadError::AbiMismatch {
                path: path.to_path_buf(),
                found: format!("abi-version {} (from its manifest)", manifest.abi_version),
                expected: format!("{PROVIDER_INTERFACE}@{ABI_VERSION}"),
            });
        }
        Ok(manifest)
    }
}

/// Loaded plugins by name.
#[derive(Default, Clone)]
pub struct PluginRegistry {
    by_name: BTreeMap<String, Arc<LoadedPlugin>>,
}

impl PluginRegistry {
    /// Adds a plugin; its name must be new.
    pub fn insert(&mut self, plugin: LoadedPlugin) -> Result<(), LoadError> {
        if let Some(other) = self.by_name.get(plugin.name()) {
            return Err(LoadError::Duplicate {
                path: plugin.path().to_path_buf(),
                name: plugin.name().to_string(),
                other: other.path().to_path_buf(),
            });
        }
        self.by_name
            .insert(plugin.name().to_string(), Arc::new(plugin));
        Ok(())
    }

    /// The plugin named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<LoadedPlugin>> {
        self.by_name.get(name)
    }

    /// All plugins, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<LoadedPlugin>> {
        self.by_name.values()
    }

    /// How many are loaded.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when none are loaded.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// Semver compatibility with [`ABI_VERSION`]: same major, and for `0.x`
/// the same minor.
fn abi_compatible(version: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    match (parse(version), parse(ABI_VERSION)) {
        (Some((0, minor)), Some((0, host_minor))) => minor == host_minor,
        (Some((major, _)), Some((host_major, _))) => major == host_major,
        _ => false,
    }
}

fn validate_manifest(manifest: &Manifest) -> Result<(), String> {
    let name = &manifest.name;
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "name `{name}` must be 1-64 characters of a-z, 0-9, `-` or `_`"
        ));
    }
    if manifest.version.is_empty() {
        return Err("version is empty".into());
    }
    Ok(())
}

fn deadline_ticks(timeout: Duration) -> u64 {
    (timeout.as_nanos() / EPOCH_TICK.as_nanos()).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_versions() {
        assert!(abi_compatible("0.1.0"));
        assert!(abi_compatible("0.1.7"));
        assert!(!abi_compatible("0.2.0"));
        assert!(!abi_compatible("1.0.0"));
        assert!(!abi_compatible("garbage"));
    }

    #[test]
    fn plugin_names_cannot_contain_a_dot() {
        // `<plugin>.<instance>` names a provider instance (`hmac.uptime`):
        // the split is unambiguous only because plugin names have no dot.
        let manifest = |name: &str| Manifest {
            name: name.into(),
            version: "0.1.0".into(),
            abi_version: ABI_VERSION.into(),
            description: String::new(),
            config_fields: Vec::new(),
            allowed_hosts: Vec::new(),
            capabilities: Vec::new(),
        };
        assert!(validate_manifest(&manifest("hmac")).is_ok());
        assert!(validate_manifest(&manifest("hmac.uptime")).is_err());
    }

    #[test]
    fn deadline_has_at_least_one_tick() {
        assert_eq!(deadline_ticks(Duration::from_micros(10)), 1);
        assert_eq!(deadline_ticks(Duration::from_millis(100)), 100);
    }
}
