//! `hookmesh plugin build PATH [--out FILE]`: any plugin crate (a `cdylib`
//! depending on `hookmesh-sdk`) to a component the host loads, the way
//! `plugins/build.sh` builds this repository's plugins:
//!
//! 1. a wasm32 toolchain: rustup's `wasm32-unknown-unknown` target (added
//!    when missing and possible), else Debian's `rustc-web`, `rust-web-src`
//!    and `lld-16` (installed with apt as root or through sudo) driven with
//!    `RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 -Zbuild-std` into a target
//!    dir of its own; `HOOKMESH_WASM_TOOLCHAIN=rustup|debian` forces one;
//! 2. `cargo build` with the crate's `plugin` profile (`release` when its
//!    workspace defines none);
//! 3. `wasm-tools component new` (installed with `cargo install` when
//!    missing), then a load by the host, which checks the contract.

use super::{io_error, AuthorError};
use crate::plugin::{PluginHost, SandboxLimits};
use clap::Args;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";
/// The version `plugins/build.sh` installs.
const WASM_TOOLS_VERSION: &str = "1.258.3";
const DEBIAN_PACKAGES: [&str; 3] = ["rustc-web", "rust-web-src", "lld-16"];

/// `hookmesh plugin build` arguments.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The plugin crate's directory (or its Cargo.toml).
    #[arg(default_value = ".")]
    pub path: PathBuf,
    /// Where to write the component (default: `<target dir>/plugins/<name>.wasm`).
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// What `plugin build` produced.
#[derive(Debug)]
pub struct Built {
    /// The component.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// The provider name its manifest gives.
    pub name: String,
    /// The plugin's version.
    pub version: String,
}

impl fmt::Display for Built {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "built {} ({} bytes): plugin `{}` {}; copy it into the host's [plugins] dir",
            self.path.display(),
            self.bytes,
            self.name,
            self.version
        )
    }
}

/// The crate as `cargo metadata` describes it.
struct Crate {
    manifest: PathBuf,
    package: String,
    lib: String,
    target_dir: PathBuf,
    profile: &'static str,
}

/// How to compile for wasm32 here.
enum Toolchain {
    Rustup,
    Debian,
}

/// Builds the crate at `args.path` into a component and checks that the
/// host loads it.
pub fn build_plugin(args: &BuildArgs) -> Result<Built, AuthorError> {
    let krate = read_crate(&args.path)?;
    let toolchain = Toolchain::detect()?;
    let module = compile(&krate, &toolchain)?;
    let out = args.out.clone().unwrap_or_else(|| {
        let short = krate.package.strip_prefix("hookmesh-plugin-");
        let name = short.unwrap_or(&krate.package);
        krate
            .target_dir
            .join("plugins")
            .join(format!("{name}.wasm"))
    });
    componentize(&module, &out)?;
    check_loads(&out)
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn read_crate(path: &Path) -> Result<Crate, AuthorError> {
    let manifest = match path.is_dir() {
        true => path.join("Cargo.toml"),
        false => path.to_path_buf(),
    };
    let manifest = std::fs::canonicalize(&manifest).map_err(io_error(&manifest))?;
    let mut command = cargo();
    command.args([
        "metadata",
        "--no-deps",
        "--format-version",
        "1",
        "--manifest-path",
    ]);
    let output = run(command.arg(&manifest))?;
    let metadata: serde_json::Value =
        serde_json::from_slice(&output).map_err(|e| not_a_plugin(&manifest, e.to_string()))?;
    let package = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(manifest.as_path()))
        .ok_or_else(|| not_a_plugin(&manifest, "cargo metadata does not list it".into()))?;
    let lib = package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| {
            t["crate_types"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        })
        .and_then(|t| t["name"].as_str())
        .ok_or_else(|| {
            not_a_plugin(
                &manifest,
                r#"no cdylib: add `crate-type = ["cdylib", "rlib"]` under [lib]"#.into(),
            )
        })?;
    let root = PathBuf::from(metadata["workspace_root"].as_str().unwrap_or_default());
    let root_manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    Ok(Crate {
        package: package["name"].as_str().unwrap_or_default().to_string(),
        lib: lib.replace('-', "_"),
        target_dir: PathBuf::from(metadata["target_directory"].as_str().unwrap_or_default()),
        profile: match root_manifest.contains("[profile.plugin]") {
            true => "plugin",
            false => "release",
        },
        manifest,
    })
}

fn not_a_plugin(manifest: &Path, message: String) -> AuthorError {
    AuthorError::NotAPlugin {
        path: manifest.to_path_buf(),
        message,
    }
}

impl Toolchain {
    fn detect() -> Result<Self, AuthorError> {
        let choice = std::env::var("HOOKMESH_WASM_TOOLCHAIN").unwrap_or_default();
        match choice.as_str() {
            "rustup" => return Ok(Toolchain::Rustup),
            "debian" => return Self::debian(),
            _ => {}
        }
        if rustup_has_target() {
            return Ok(Toolchain::Rustup);
        }
        Self::debian()
    }

    fn debian() -> Result<Self, AuthorError> {
        let missing: Vec<&str> = DEBIAN_PACKAGES
            .into_iter()
            .filter(|p| {
                !Command::new("dpkg")
                    .args(["-s", p])
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .collect();
        if !missing.is_empty() {
            eprintln!("[plugin build] installing {} (apt)", missing.join(" "));
            run(&mut as_root("apt-get", &["update", "-qq"]))?;
            let mut install = vec!["install", "-y", "-qq"];
            install.extend(&missing);
            run(as_root("apt-get", &install).env("DEBIAN_FRONTEND", "noninteractive"))?;
        }
        Ok(Toolchain::Debian)
    }
}

fn rustup_has_target() -> bool {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == TARGET)
        });
    installed
        || Command::new("rustup")
            .args(["target", "add", TARGET])
            .output()
            .is_ok_and(|o| o.status.success())
}

fn as_root(program: &str, args: &[&str]) -> Command {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    let mut command = match is_root {
        true => Command::new(program),
        false => {
            let mut sudo = Command::new("sudo");
            sudo.arg(program);
            sudo
        }
    };
    command.args(args);
    command
}

/// Compiles the crate; the core module's path.
fn compile(krate: &Crate, toolchain: &Toolchain) -> Result<PathBuf, AuthorError> {
    let mut command = cargo();
    command
        .args([
            "build",
            "--profile",
            krate.profile,
            "--target",
            TARGET,
            "--manifest-path",
        ])
        .arg(&krate.manifest);
    let mut target_dir = krate.target_dir.clone();
    if let Toolchain::Debian = toolchain {
        // Apart from rustup's artifacts: no rebuilds when switching.
        target_dir = target_dir.join("wasm-debian");
        command
            .arg("--target-dir")
            .arg(&target_dir)
            .arg("-Zbuild-std=std,panic_abort")
            .env("RUSTC", "/usr/bin/rustc")
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", "wasm-ld-16");
    }
    run_visible(&mut command)?;
    Ok(target_dir
        .join(TARGET)
        .join(krate.profile)
        .join(format!("{}.wasm", krate.lib)))
}

fn componentize(module: &Path, out: &Path) -> Result<(), AuthorError> {
    ensure_wasm_tools()?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    let mut command = Command::new("wasm-tools");
    command
        .args(["component", "new"])
        .arg(module)
        .arg("-o")
        .arg(out);
    run(&mut command).map(drop)
}

fn ensure_wasm_tools() -> Result<(), AuthorError> {
    let found = Command::new("wasm-tools").arg("--version").output();
    if found.is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    eprintln!("[plugin build] installing wasm-tools {WASM_TOOLS_VERSION} (cargo install, once)");
    let mut install = cargo();
    install
        .args([
            "install",
            "--quiet",
            "--locked",
            "--no-default-features",
            "--features",
        ])
        .args(["component", "wasm-tools", "--version", WASM_TOOLS_VERSION])
        .env_remove("RUSTC")
        .env_remove("RUSTC_BOOTSTRAP");
    run_visible(&mut install)
}

fn check_loads(path: &Path) -> Result<Built, AuthorError> {
    let load_error = |source| AuthorError::Load {
        path: path.to_path_buf(),
        source,
    };
    let host = PluginHost::new(SandboxLimits::default()).map_err(|e| AuthorError::Tool {
        command: "wasmtime engine".into(),
        message: format!("{e:#}"),
    })?;
    let plugin = host.load_file(path).map_err(load_error)?;
    let bytes = std::fs::metadata(path).map_err(io_error(path))?.len();
    Ok(Built {
        path: path.to_path_buf(),
        bytes,
        name: plugin.manifest().name.clone(),
        version: plugin.manifest().version.clone(),
    })
}

fn describe(command: &Command) -> String {
    let args = command.get_args().map(|a| a.to_string_lossy());
    std::iter::once(command.get_program().to_string_lossy())
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `command` capturing its output; its stdout on success.
fn run(command: &mut Command) -> Result<Vec<u8>, AuthorError> {
    let output = command
        .output()
        .map_err(|e| tool_error(command, e.to_string()))?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(tool_error(
        command,
        format!("{}: {}", output.status, stderr.trim()),
    ))
}

/// Runs `command` with its output on the terminal (cargo's progress).
fn run_visible(command: &mut Command) -> Result<(), AuthorError> {
    let status = command
        .status()
        .map_err(|e| tool_error(command, e.to_string()))?;
    match status.success() {
        true => Ok(()),
        false => Err(tool_error(
            command,
            format!("{status} (its output is above)"),
        )),
    }
}

fn tool_error(command: &Command, message: String) -> AuthorError {
    AuthorError::Tool {
        command: describe(command),
        message,
    }
}
