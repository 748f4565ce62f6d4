//! Out-of-tree plugins: `hookmesh plugin new` scaffolds a standalone plugin
//! crate ([`scaffold`]) and `hookmesh plugin build` turns any plugin crate
//! into a component the host loads ([`build`]), without touching this
//! repository.

pub mod build;
pub mod scaffold;

pub use build::{build_plugin, BuildArgs, Built};
pub use scaffold::{new_plugin, NewArgs, Scaffolded};

use std::path::PathBuf;

/// Why a plugin could not be scaffolded or built.
#[derive(Debug, thiserror::Error)]
pub enum AuthorError {
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
    /// The plugin name is not usable.
    #[error(
        "plugin name `{0}`: use 1-48 characters of a-z, 0-9, `-` or `_`, starting with a letter"
    )]
    BadName(String),
    /// The crate's directory exists and is not empty.
    #[error("{0} already exists and is not empty")]
    Exists(PathBuf),
    /// No SDK to depend on was given or found.
    #[error("no hookmesh SDK found at {0}: pass --sdk-path DIR (the repository's sdk/) or --sdk-version VERSION")]
    NoSdk(PathBuf),
    /// The crate is not a plugin crate cargo can build.
    #[error("{path}: {message}")]
    NotAPlugin {
        /// The crate's manifest.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A tool ran and failed, or could not be run.
    #[error("`{command}` failed: {message}")]
    Tool {
        /// The command line.
        command: String,
        /// Its error, or its exit status and output.
        message: String,
    },
    /// The component was built but the host refuses it.
    #[error("built {path}, but the host cannot load it: {source}")]
    Load {
        /// The component.
        path: PathBuf,
        /// The host's reason.
        source: crate::plugin::LoadError,
    },
}

fn io_error(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> AuthorError {
    let path = path.into();
    move |error| AuthorError::Io { path, error }
}
