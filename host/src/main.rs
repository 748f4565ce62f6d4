//! The `hookmesh` binary: parses the command line and runs it.

use clap::Parser;
use hookmesh::cli::{Cli, Command, ConfigCommand, PluginCommand, StoreCommand};
use hookmesh::config;
use hookmesh::declare::templates::render_sample;
use hookmesh::plugin::wire::RequestView;
use hookmesh::plugin::SandboxLimits;
use hookmesh::{server, tools};

/// mimalloc instead of glibc's malloc: the delivery path allocates many
/// short-lived buffers (requests, records, answers) across threads, and
/// glibc's free lists and consolidation took about 15 % of the host's CPU
/// in a fan-out profile (BENCHMARKS.md, session 13).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    init_logging();
    match Cli::parse().command {
        Command::Serve(arg) => {
            let settings = config::load(arg.config.as_deref())?;
            actix_web::rt::System::new().block_on(server::serve_until_signal(settings))
        }
        Command::Config(ConfigCommand::Check(arg)) => {
            hookmesh::declare::check_file(arg.config.as_deref())?;
            println!("config ok");
            Ok(())
        }
        Command::Config(ConfigCommand::Plan(arg)) => {
            let runtime = tokio::runtime::Runtime::new()?;
            print!("{}", runtime.block_on(server::plan(arg.config.as_deref()))?);
            Ok(())
        }
        Command::Plugin(command) => plugin_command(command),
        Command::Store(StoreCommand::Compact(arg)) => {
            let (path, retention) = embedded_store(&arg, "compact")?;
            let report = hookmesh::store::embedded::compact(&path, retention)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Store(StoreCommand::Stats(arg)) => {
            let (path, _) = embedded_store(&arg, "stats")?;
            let report = hookmesh::store::embedded::stats(&path)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
    }
}

/// The embedded store's file and retention, or why `store COMMAND` cannot run.
fn embedded_store(
    arg: &hookmesh::cli::ConfigArg,
    command: &str,
) -> anyhow::Result<(std::path::PathBuf, std::time::Duration)> {
    match config::load_storage(arg.config.as_deref())? {
        config::StorageSettings::Embedded { path, retention } => Ok((path, retention)),
        _ => anyhow::bail!(
            "`store {command}` works on the embedded store; on Redis use `INFO memory` and `MEMORY USAGE`"
        ),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn plugin_command(command: PluginCommand) -> anyhow::Result<()> {
    match command {
        PluginCommand::Inspect { file } => {
            let plugin = tools::load(&file, SandboxLimits::default())?;
            println!("{}", tools::inspect(&plugin)?);
        }
        PluginCommand::Render(call) => {
            let plugin = tools::load(&call.file, SandboxLimits::default())?;
            match (&call.event, &call.sample) {
                (Some(event), _) => {
                    let (event, ctx) = tools::read_call(event, call.context.as_deref())?;
                    println!("{}", tools::render(&plugin, &event, &ctx)?);
                }
                (None, Some(sample)) => {
                    let (schema, ctx) = (call.schema.as_deref(), call.context.as_deref());
                    let requests = render_sample(&plugin, sample, schema, ctx)?;
                    let views: Vec<RequestView> =
                        requests.into_iter().map(RequestView::from).collect();
                    println!("{}", serde_json::to_string_pretty(&views)?);
                }
                (None, None) => anyhow::bail!("give --event E.json or --sample TYPE"),
            }
        }
        PluginCommand::New(args) => println!("{}", hookmesh::plugin_author::new_plugin(&args)?),
        PluginCommand::Build(args) => println!("{}", hookmesh::plugin_author::build_plugin(&args)?),
        PluginCommand::Bench {
            call,
            iterations,
            fresh,
        } => {
            let limits = SandboxLimits {
                reuse_instances: !fresh,
                ..SandboxLimits::default()
            };
            let plugin = tools::load(&call.file, limits)?;
            let (event, ctx) = tools::read_call(&call.event, call.context.as_deref())?;
            let report = tools::bench(&plugin, &event, &ctx, iterations)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
    }
    Ok(())
}
