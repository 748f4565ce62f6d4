//! The command line: `serve`, `config check | plan`, `store compact`, and the
//! plugin author's tools (`plugin inspect | render | bench`).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// hookmesh: emit an event once; hookmesh signs it and delivers it, in order
/// and with retries, to every subscribed webhook and provider.
#[derive(Debug, Parser)]
#[command(name = "hookmesh", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server with a TOML config (defaults < file < HOOKMESH_SECTION__KEY env).
    Serve(ConfigArg),
    /// Configuration tools.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Tools for plugin authors.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Store maintenance.
    #[command(subcommand)]
    Store(StoreCommand),
}

/// `hookmesh store …`
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Offline (hookmesh stopped): purge what is past retention, then give
    /// the file's free pages back to the file system (embedded store).
    Compact(ConfigArg),
    /// Offline (hookmesh stopped): each table of the embedded store with
    /// its rows' bytes and the pages holding them, and the file's size.
    Stats(ConfigArg),
}

/// `--config FILE`
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The config file, e.g. config/hookmesh.toml.
    #[arg(short, long, value_name = "FILE", env = "HOOKMESH_CONFIG")]
    pub config: Option<PathBuf>,
}

/// `hookmesh config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config, load the plugins of `plugins.dir` and check every
    /// declared project against them; report every problem, naming each key.
    Check(ConfigArg),
    /// Check a config, then print what start-up would create, change and
    /// delete in the configured store to match it (`+`, `~`, `-`), without
    /// changing anything. The embedded store must not be in use.
    Plan(ConfigArg),
}

/// `hookmesh plugin …`
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Load a plugin component and print its manifest as JSON.
    Inspect {
        /// The plugin component (.wasm).
        file: PathBuf,
    },
    /// Render an event (or the sample registration checks templates with)
    /// through a plugin and print the request(s) as JSON.
    Render(RenderArgs),
    /// Measure render calls: median, p99 and mean per call over many calls.
    Bench {
        /// The plugin and the call's inputs.
        #[command(flatten)]
        call: CallArgs,
        /// Calls to measure (after 1% warm-up).
        #[arg(short = 'n', long, default_value_t = 20_000)]
        iterations: u32,
        /// A fresh instance per call instead of reusing warm instances.
        #[arg(long)]
        fresh: bool,
    },
    /// Create a standalone plugin crate `<D>/<NAME>` (depends on hookmesh-sdk).
    New(crate::plugin_author::NewArgs),
    /// Build a plugin crate into a component the host loads.
    Build(crate::plugin_author::BuildArgs),
}

/// `plugin render`: an event file, or a sample event of a type (its
/// payload built from a JSON Schema) checked as registration checks
/// templates (errors name `config.<key>` and the template line).
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The plugin component (.wasm).
    pub file: PathBuf,
    /// The event, as apps send it (see `plugin bench --help`).
    #[arg(
        long,
        value_name = "E.json",
        required_unless_present = "sample",
        conflicts_with = "sample"
    )]
    pub event: Option<PathBuf>,
    /// Render a sample event of this type instead, e.g. `order.paid`.
    #[arg(long, value_name = "TYPE")]
    pub sample: Option<String>,
    /// The JSON Schema of the sample's payload (as declared for the type).
    #[arg(long, value_name = "S.json", requires = "sample")]
    pub schema: Option<PathBuf>,
    /// The call context (see `plugin bench --help`).
    #[arg(long = "config", visible_alias = "context", value_name = "C.json")]
    pub context: Option<PathBuf>,
}

/// A plugin file plus the event and context for a call.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The plugin component (.wasm).
    pub file: PathBuf,
    /// The event, as apps send it: {"event": "...", "payload": {...}, "resource": ..., "resource_id": ...}.
    #[arg(long, value_name = "E.json")]
    pub event: PathBuf,
    /// The call context: {"endpoint": {"url": "...", "secrets": ["whsec_..."]}, "config": {"key": "value"}, "now_ms": ...}.
    #[arg(long = "config", visible_alias = "context", value_name = "C.json")]
    pub context: Option<PathBuf>,
}
