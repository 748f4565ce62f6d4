//! `hookmesh plugin new NAME [--dir D]`: a standalone plugin crate (its
//! own workspace) that builds and tests as it is: `Cargo.toml`, `src/lib.rs`
//! (a plugin posting the event envelope with a bearer token, and native
//! tests using `hookmesh_sdk::testing`), `README.md`, `.gitignore`, and the
//! hookmesh workspace's `Cargo.lock` when the SDK comes by path (so it
//! builds with the versions the SDK was tested with).

use super::{io_error, AuthorError};
use clap::Args;
use std::fmt;
use std::path::{Path, PathBuf};

/// `hookmesh plugin new` arguments.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The plugin's name, as the API will call the provider (e.g. `teams`).
    pub name: String,
    /// Where to create the crate's directory `<NAME>` (default: here).
    #[arg(long, value_name = "D", default_value = ".")]
    pub dir: PathBuf,
    /// Depend on the SDK at this path (default: the sdk/ of the checkout
    /// this binary was built from).
    #[arg(long, value_name = "DIR")]
    pub sdk_path: Option<PathBuf>,
    /// Depend on this version of `hookmesh-sdk` from the registry instead.
    #[arg(long, value_name = "VERSION", conflicts_with = "sdk_path")]
    pub sdk_version: Option<String>,
}

/// What `plugin new` created.
#[derive(Debug)]
pub struct Scaffolded {
    /// The crate's directory.
    pub dir: PathBuf,
    /// The plugin's name.
    pub name: String,
}

impl fmt::Display for Scaffolded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = self.dir.display();
        write!(
            f,
            "created plugin `{}` in {dir}\n  test:  cd {dir} && cargo test\n  build: hookmesh plugin build {dir}",
            self.name
        )
    }
}

/// Where the crate's SDK dependency comes from.
enum Sdk {
    Path(PathBuf),
    Version(String),
}

impl Sdk {
    fn dependency(&self, features: &str) -> String {
        match self {
            Sdk::Path(path) => format!("{{ path = {:?}{features} }}", path.display().to_string()),
            Sdk::Version(version) => format!("{{ version = {version:?}{features} }}"),
        }
    }
}

/// Creates the crate `<dir>/<name>`.
pub fn new_plugin(args: &NewArgs) -> Result<Scaffolded, AuthorError> {
    check_name(&args.name)?;
    let sdk = resolve_sdk(args)?;
    let dir = args.dir.join(&args.name);
    if std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(AuthorError::Exists(dir));
    }
    write(&dir.join("Cargo.toml"), &cargo_toml(&args.name, &sdk))?;
    write(&dir.join("src/lib.rs"), &lib_rs(&args.name))?;
    write(&dir.join("README.md"), &readme(&args.name))?;
    write(&dir.join(".gitignore"), "/target\n")?;
    if let Sdk::Path(path) = &sdk {
        let lock = path.join("../Cargo.lock");
        if lock.is_file() {
            std::fs::copy(&lock, dir.join("Cargo.lock")).map_err(io_error(&lock))?;
        }
    }
    Ok(Scaffolded {
        dir,
        name: args.name.clone(),
    })
}

fn check_name(name: &str) -> Result<(), AuthorError> {
    let valid = (1..=48).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(AuthorError::BadName(name.into()))
    }
}

fn resolve_sdk(args: &NewArgs) -> Result<Sdk, AuthorError> {
    if let Some(version) = &args.sdk_version {
        return Ok(Sdk::Version(version.clone()));
    }
    let path = args
        .sdk_path
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk"));
    match path.join("Cargo.toml").is_file() {
        true => Ok(Sdk::Path(
            std::fs::canonicalize(&path).map_err(io_error(&path))?,
        )),
        false => Err(AuthorError::NoSdk(path)),
    }
}

fn write(path: &Path, text: &str) -> Result<(), AuthorError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    std::fs::write(path, text).map_err(io_error(path))
}

/// `my-crm` → `MyCrm`.
fn type_name(name: &str) -> String {
    name.split(['-', '_'])
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn cargo_toml(name: &str, sdk: &Sdk) -> String {
    format!(
        r#"[package]
name = "hookmesh-plugin-{name}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
# cdylib: the WebAssembly module; rlib: native tests (`cargo test`).
crate-type = ["cdylib", "rlib"]

[dependencies]
hookmesh-sdk = {dependency}

[dev-dependencies]
hookmesh-sdk = {test_dependency}

# A workspace of its own, wherever it lives.
[workspace]

# What `hookmesh plugin build` compiles with: fast, small wasm.
[profile.plugin]
inherits = "release"
opt-level = 3
lto = true
codegen-units = 1
panic = "abort"
strip = "debuginfo"
"#,
        dependency = sdk.dependency(""),
        test_dependency = sdk.dependency(r#", features = ["testing"]"#),
    )
}

fn lib_rs(name: &str) -> String {
    LIB_RS
        .replace("{name}", name)
        .replace("{Type}", &type_name(name))
}

fn readme(name: &str) -> String {
    README.replace("{name}", name)
}

const LIB_RS: &str = r#"//! `{name}`: a hookmesh provider plugin. It posts each event's envelope
//! JSON to the endpoint's URL with `Authorization: Bearer <token>`, the
//! token being the project's secret config field `token`. See the SDK's
//! README for everything a plugin can do.

use hookmesh_sdk::http::RequestBuilder;
use hookmesh_sdk::{ConfigField, Context, Event, HttpRequest, Manifest, Plugin, PluginError};

/// The plugin; it keeps no state.
pub struct {Type};

impl Plugin for {Type} {
    fn manifest() -> Manifest {
        Manifest::outbound("{name}", env!("CARGO_PKG_VERSION"), "posts the event envelope with a bearer token")
            .field(ConfigField::new("token").describe("bearer token").secret().required())
    }

    fn render(event: Event, ctx: Context) -> Result<Vec<HttpRequest>, PluginError> {
        let token = ctx.require_config("token")?;
        let body = event.envelope_json(ctx.now_ms)?;
        let request = RequestBuilder::post(ctx.endpoint_url()?)
            .bearer(token)
            .header("idempotency-key", event.id.as_str())
            .json_bytes(body)
            .build();
        Ok(vec![request])
    }
}

hookmesh_sdk::export_plugin!({Type});

#[cfg(test)]
mod tests {
    use super::*;
    use hookmesh_sdk::serde_json::json;
    use hookmesh_sdk::testing::{context, event, request_header, request_json};

    #[test]
    fn posts_the_envelope_with_the_token() {
        let event = event("user.signup").payload(json!({"plan": "pro"})).build();
        let ctx = context().endpoint("https://example.com/hook").config("token", "t0k").build();
        let requests = {Type}::render(event, ctx).expect("renders");
        assert_eq!(request_header(&requests[0], "authorization"), Some("Bearer t0k"));
        assert_eq!(request_json(&requests[0])["payload"]["plan"], "pro");
    }

    #[test]
    fn a_missing_token_names_the_field() {
        let ctx = context().endpoint("https://example.com/hook").build();
        let error = {Type}::render(event("user.signup").build(), ctx).unwrap_err();
        assert_eq!(error, PluginError::InvalidConfig("`token` is required".into()));
    }
}
"#;

const README: &str = r#"# hookmesh-plugin-{name}

A hookmesh provider plugin, scaffolded by `hookmesh plugin new {name}`.

```sh
cargo test                          # native tests (hookmesh_sdk::testing builders)
hookmesh plugin build .             # → target/plugins/{name}.wasm, a component
hookmesh plugin inspect target/plugins/{name}.wasm
```

Copy `{name}.wasm` into the host's `[plugins] dir` and restart it; then
`PUT /projects/{p}/integrations/providers/{name}` with `{"config": {"token": "…"}}`
and register endpoints with `"provider": "{name}"`.
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_typed() {
        assert!(check_name("teams").is_ok());
        assert!(check_name("my-crm_2").is_ok());
        for bad in ["", "Teams", "a.b", "2fa", "a b", &"a".repeat(49)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(type_name("my-crm_2"), "MyCrm2");
    }

    #[test]
    fn the_sdk_comes_by_path_or_version() {
        let by_path = cargo_toml("x", &Sdk::Path(PathBuf::from("/src/hm/sdk")));
        assert!(
            by_path.contains(r#"hookmesh-sdk = { path = "/src/hm/sdk" }"#),
            "{by_path}"
        );
        assert!(by_path.contains(r#"{ path = "/src/hm/sdk", features = ["testing"] }"#));
        let by_version = cargo_toml("x", &Sdk::Version("0.1".into()));
        assert!(
            by_version.contains(r#"hookmesh-sdk = { version = "0.1" }"#),
            "{by_version}"
        );
    }
}
