//! Configuration: embedded defaults (`config/default.toml`) → the user's
//! TOML file → `HOOKMESH_<SECTION>__<KEY>` environment variables, read with
//! figment and validated once into typed [`Settings`]. Validation collects
//! every problem and reports them together, each naming its key as written
//! in the file; unknown keys get the nearest valid one suggested (`keys`).
//! What needs the loaded plugins (declared webhooks' providers, config
//! fields, templates) is checked by [`crate::declare::check`].

mod keys;
mod portal;
mod projects;

use crate::plugin::SandboxLimits;
use figment::providers::{Env, Format, Toml};
use figment::Figment;
pub(crate) use keys::edit_distance;
pub use portal::PortalSettings;
pub use projects::{IngestSettings, ManagementSettings, ProjectSpec, ProviderSpec, WebhookSpec};
use serde::Deserialize;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The built-in defaults, also the reference of every key.
pub const DEFAULTS_TOML: &str = include_str!("../../../config/default.toml");
/// Prefix of environment overrides; `__` separates section and key.
pub const ENV_PREFIX: &str = "HOOKMESH_";

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is missing, not TOML, or has a value of the wrong type.
    #[error("config: {0}")]
    Read(String),
    /// Values that parse but make no sense; all of them, each with its key.
    #[error("invalid config:\n{}", list(.0))]
    Invalid(Vec<Problem>),
}

/// One invalid value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key, e.g. `delivery.timeout`.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.key, self.message)
    }
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `[server]`
    pub server: ServerSettings,
    /// `[storage]`
    pub storage: StorageSettings,
    /// `[plugins]`
    pub plugins: PluginSettings,
    /// `[delivery]`
    pub delivery: DeliverySettings,
    /// `[security]`
    pub security: SecuritySettings,
    /// `[ingest]`
    pub ingest: IngestSettings,
    /// `[management]`
    pub management: ManagementSettings,
    /// `[portal]`
    pub portal: PortalSettings,
    /// `[[projects]]`: declared projects, upserted at start-up.
    pub projects: Vec<ProjectSpec>,
}

/// `[server]`
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Listen address.
    pub listen: SocketAddr,
    /// The resolved admin token (never logged).
    pub admin_token: String,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
}

/// `[storage]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageSettings {
    /// One durable file.
    Embedded {
        /// The file.
        path: PathBuf,
        /// How long finished deliveries, their attempts, events and stats
        /// are kept.
        retention: Duration,
    },
    /// A Redis server or cluster, shared by any number of instances.
    Redis(RedisSettings),
}

impl StorageSettings {
    /// `storage.retention`, on either backend.
    pub fn retention(&self) -> Duration {
        match self {
            Self::Embedded { retention, .. } => *retention,
            Self::Redis(redis) => redis.retention,
        }
    }
}

/// `[storage]` with `backend = "redis"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis_url`, or the `redis_cluster` seed URLs.
    pub urls: Vec<String>,
    /// The URLs are seeds of a Redis Cluster.
    pub cluster: bool,
    /// Prefix of every key.
    pub prefix: String,
    /// Endpoint lease TTL (failover bound).
    pub lease_ttl: Duration,
    /// How long finished deliveries, attempts, events and stats are kept.
    pub retention: Duration,
}

/// `[plugins]`
#[derive(Debug, Clone)]
pub struct PluginSettings {
    /// Where `*.wasm` plugins are loaded from.
    pub dir: PathBuf,
    /// Sandbox limits for every call.
    pub limits: SandboxLimits,
}

/// `[delivery]`
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// Total time of one attempt.
    pub timeout: Duration,
    /// Time to connect.
    pub connect_timeout: Duration,
    /// Waits before retries; the last repeats.
    pub retry_schedule: Vec<Duration>,
    /// Attempts before giving up.
    pub max_attempts: NonZeroU32,
    /// Age after which a delivery is given up.
    pub max_age: Duration,
    /// Spread of each wait, 0.0–1.0.
    pub jitter: f64,
    /// Failing this long without a success: emit `endpoint.failing`.
    pub failing_alert_after: Duration,
    /// Failing this long without a success: disable the endpoint.
    pub disable_after: Duration,
    /// Parallel deliveries of an `ordered = false` endpoint.
    pub unordered_concurrency: usize,
}

/// `[security]`
#[derive(Debug, Clone)]
pub struct SecuritySettings {
    /// Refuse `http://` endpoints.
    pub https_only: bool,
    /// Allow private and loopback targets.
    pub allow_private_targets: bool,
    /// Private ranges allowed anyway.
    pub allowed_cidrs: Vec<ipnet::IpNet>,
    /// Base64 key (32 bytes) sealing endpoint secrets at rest.
    pub master_key: String,
    /// How long a rotated-out secret keeps signing.
    pub rotation_grace: Duration,
    /// How long an `Idempotency-Key` is remembered.
    pub idempotency_ttl: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    server: RawServer,
    storage: RawStorage,
    plugins: RawPlugins,
    delivery: RawDelivery,
    security: RawSecurity,
    ingest: projects::RawIngest,
    management: projects::RawManagement,
    portal: portal::RawPortal,
    #[serde(default)]
    projects: Vec<projects::RawProject>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: String,
    admin_token: Option<String>,
    max_body_kb: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    backend: String,
    path: PathBuf,
    redis_url: Option<String>,
    #[serde(default)]
    redis_cluster: Vec<String>,
    redis_prefix: String,
    lease_ttl: String,
    retention: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugins {
    dir: PathBuf,
    call_timeout: String,
    max_memory_mb: u64,
    max_output_kb: u64,
    reuse_instances: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    timeout: String,
    connect_timeout: String,
    retry_schedule: Vec<String>,
    max_attempts: u32,
    max_age: String,
    jitter: f64,
    failing_alert_after: String,
    disable_after: String,
    unordered_concurrency: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecurity {
    https_only: bool,
    allow_private_targets: bool,
    allowed_cidrs: Vec<String>,
    master_key: Option<String>,
    rotation_grace: String,
    idempotency_ttl: String,
}

/// Reads defaults, then `file` (if given; it must exist), then the
/// environment, and validates the result.
pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
    from_figment(&layers(file)?)
}

/// Only the storage settings of the layers [`load`] reads, for offline
/// commands (`store compact`, `store stats`) that need no secrets: unknown
/// keys and values of the wrong type anywhere are still refused, but only
/// `[storage]` is validated (an unset `env:` secret elsewhere is not asked
/// for).
pub fn load_storage(file: Option<&Path>) -> Result<StorageSettings, ConfigError> {
    let raw = raw_of(&layers(file)?)?;
    let mut check = Check::default();
    let storage = validate_storage(&mut check, raw.storage);
    match check.problems.is_empty() {
        true => Ok(storage),
        false => Err(ConfigError::Invalid(check.problems)),
    }
}

/// Defaults, then `file` (if given; it must exist), then the environment.
fn layers(file: Option<&Path>) -> Result<Figment, ConfigError> {
    let mut figment = Figment::from(Toml::string(DEFAULTS_TOML));
    if let Some(file) = file {
        if !file.is_file() {
            return Err(ConfigError::Read(format!(
                "config file {} does not exist",
                file.display()
            )));
        }
        figment = figment.merge(Toml::file(file));
    }
    // Only `SECTION__KEY` variables are config; `HOOKMESH_ADMIN_TOKEN` and
    // friends are values that `env:NAME` references pick up.
    Ok(figment.merge(
        Env::prefixed(ENV_PREFIX)
            .filter(|key| key.as_str().contains("__"))
            .split("__"),
    ))
}

/// Checks the merged layers for unknown keys and values of the wrong
/// type (all of them), then validates the values.
fn from_figment(figment: &Figment) -> Result<Settings, ConfigError> {
    validate(raw_of(figment)?)
}

/// The merged layers as read, or every unknown key and value of the wrong
/// type.
fn raw_of(figment: &Figment) -> Result<Raw, ConfigError> {
    let mut problems = keys::unknown_keys(figment);
    match figment.extract::<Raw>() {
        Ok(raw) if problems.is_empty() => Ok(raw),
        Ok(_) => Err(ConfigError::Invalid(problems)),
        Err(error) => {
            // Unknown keys are reported above, each with a suggestion.
            problems.extend(
                keys::read_problems(error)
                    .into_iter()
                    .filter(|p| !p.message.starts_with("unknown field")),
            );
            match problems.is_empty() {
                true => Err(ConfigError::Read("the config cannot be read".into())),
                false => Err(ConfigError::Invalid(problems)),
            }
        }
    }
}

/// Collects problems while typed values are built.
#[derive(Default)]
pub(crate) struct Check {
    problems: Vec<Problem>,
}

impl Check {
    pub(crate) fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    pub(crate) fn duration(&mut self, key: &str, value: &str) -> Duration {
        match humantime::parse_duration(value) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                self.problem(key, "must be greater than zero");
                Duration::ZERO
            }
            Err(e) => {
                self.problem(
                    key,
                    format!(
                        "`{value}` is not a duration ({e}); use e.g. \"250ms\", \"30s\", \"2h\""
                    ),
                );
                Duration::ZERO
            }
        }
    }

    pub(crate) fn secret(&mut self, key: &str, value: Option<&str>) -> String {
        let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
            self.problem(key, "is required (a value, `env:NAME` or `file:PATH`)");
            return String::new();
        };
        match resolve_secret(value) {
            Ok(secret) => secret,
            Err(message) => {
                self.problem(key, message);
                String::new()
            }
        }
    }
}

/// Resolves `env:NAME`, `file:PATH` or a literal.
pub fn resolve_secret(value: &str) -> Result<String, String> {
    if let Some(name) = value.strip_prefix("env:") {
        return match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
            _ => Err(format!("environment variable `{name}` is not set")),
        };
    }
    if let Some(path) = value.strip_prefix("file:") {
        return match std::fs::read_to_string(path) {
            Ok(text) => text
                .lines()
                .next()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .ok_or_else(|| format!("file `{path}` is empty")),
            Err(e) => Err(format!("cannot read file `{path}`: {e}")),
        };
    }
    Ok(value.to_string())
}

fn validate(raw: Raw) -> Result<Settings, ConfigError> {
    let mut check = Check::default();
    let server = validate_server(&mut check, raw.server);
    let storage = validate_storage(&mut check, raw.storage);
    let plugins = validate_plugins(&mut check, raw.plugins);
    let delivery = validate_delivery(&mut check, raw.delivery);
    let security = validate_security(&mut check, raw.security);
    let ingest = projects::validate_ingest(&mut check, raw.ingest);
    let management = projects::validate_management(&mut check, raw.management);
    let portal = portal::validate_portal(&mut check, raw.portal);
    let projects = projects::validate_projects(&mut check, raw.projects, &security);
    if !check.problems.is_empty() {
        return Err(ConfigError::Invalid(check.problems));
    }
    Ok(Settings {
        server,
        storage,
        plugins,
        delivery,
        security,
        ingest,
        management,
        portal,
        projects,
    })
}

fn validate_server(check: &mut Check, raw: RawServer) -> ServerSettings {
    let listen = raw.listen.parse().unwrap_or_else(|_| {
        check.problem(
            "server.listen",
            format!("`{}` is not an address like 127.0.0.1:8080", raw.listen),
        );
        SocketAddr::from(([127, 0, 0, 1], 0))
    });
    let admin_token = check.secret("server.admin_token", raw.admin_token.as_deref());
    if !admin_token.is_empty() && admin_token.len() < 16 {
        check.problem("server.admin_token", "must be at least 16 characters");
    }
    if raw.max_body_kb == 0 {
        check.problem("server.max_body_kb", "must be greater than zero");
    }
    ServerSettings {
        listen,
        admin_token,
        max_body_bytes: usize::try_from(raw.max_body_kb.saturating_mul(1024)).unwrap_or(usize::MAX),
    }
}

fn validate_storage(check: &mut Check, raw: RawStorage) -> StorageSettings {
    match raw.backend.as_str() {
        "embedded" => StorageSettings::Embedded {
            retention: validate_retention(check, &raw.retention),
            path: raw.path,
        },
        "redis" => StorageSettings::Redis(validate_redis(check, raw)),
        other => {
            check.problem(
                "storage.backend",
                format!("unknown backend `{other}`; expected \"embedded\" or \"redis\""),
            );
            StorageSettings::Embedded {
                path: raw.path,
                retention: MIN_RETENTION,
            }
        }
    }
}

/// Shortest `storage.retention` (tests and soak runs use seconds; a
/// deployment keeps days).
const MIN_RETENTION: Duration = Duration::from_secs(1);

fn validate_retention(check: &mut Check, raw: &str) -> Duration {
    let retention = check.duration("storage.retention", raw);
    if retention < MIN_RETENTION {
        check.problem("storage.retention", "must be at least 1s");
    }
    retention
}

fn validate_redis(check: &mut Check, raw: RawStorage) -> RedisSettings {
    let (key, urls, cluster) = match (raw.redis_url, raw.redis_cluster.is_empty()) {
        (Some(url), true) => ("storage.redis_url", vec![url], false),
        (None, false) => ("storage.redis_cluster", raw.redis_cluster, true),
        (Some(_), false) => {
            check.problem(
                "storage.redis_cluster",
                "give either redis_url (one server) or redis_cluster (seed nodes), not both",
            );
            ("storage.redis_cluster", raw.redis_cluster, true)
        }
        (None, true) => {
            check.problem(
                "storage.redis_url",
                "is required when backend = \"redis\" (or redis_cluster = [seed URLs])",
            );
            ("storage.redis_url", Vec::new(), false)
        }
    };
    for (i, url) in urls.iter().enumerate() {
        let key = if cluster {
            format!("{key}[{i}]")
        } else {
            key.to_string()
        };
        if url.starts_with("rediss://") {
            check.problem(
                &key,
                "TLS (rediss://) is not supported yet; use redis:// on a private network",
            );
        } else if !url.starts_with("redis://") || url::Url::parse(url).is_err() {
            check.problem(&key, format!("`{url}` is not a redis:// URL"));
        }
    }
    let prefix_ok = (1..=32).contains(&raw.redis_prefix.len())
        && raw
            .redis_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !prefix_ok {
        check.problem(
            "storage.redis_prefix",
            format!(
                "`{}` must be 1-32 letters, digits, `_` or `-`",
                raw.redis_prefix
            ),
        );
    }
    let lease_ttl = check.duration("storage.lease_ttl", &raw.lease_ttl);
    if !(Duration::from_millis(500)..=Duration::from_secs(60)).contains(&lease_ttl) {
        check.problem("storage.lease_ttl", "must be between 500ms and 60s");
    }
    let retention = validate_retention(check, &raw.retention);
    RedisSettings {
        urls,
        cluster,
        prefix: raw.redis_prefix,
        lease_ttl,
        retention,
    }
}

fn validate_plugins(check: &mut Check, raw: RawPlugins) -> PluginSettings {
    let call_timeout = check.duration("plugins.call_timeout", &raw.call_timeout);
    if !(1..=4096).contains(&raw.max_memory_mb) {
        check.problem(
            "plugins.max_memory_mb",
            format!("{} is outside 1..=4096", raw.max_memory_mb),
        );
    }
    if !(1..=1_048_576).contains(&raw.max_output_kb) {
        check.problem(
            "plugins.max_output_kb",
            format!("{} is outside 1..=1048576", raw.max_output_kb),
        );
    }
    PluginSettings {
        dir: raw.dir,
        limits: SandboxLimits {
            call_timeout,
            max_memory_bytes: (raw.max_memory_mb as usize) << 20,
            max_output_bytes: (raw.max_output_kb as usize) << 10,
            reuse_instances: raw.reuse_instances,
        },
    }
}

fn validate_delivery(check: &mut Check, raw: RawDelivery) -> DeliverySettings {
    let retry_schedule: Vec<Duration> = raw
        .retry_schedule
        .iter()
        .enumerate()
        .map(|(i, v)| check.duration(&format!("delivery.retry_schedule[{i}]"), v))
        .collect();
    if retry_schedule.is_empty() {
        check.problem("delivery.retry_schedule", "needs at least one wait");
    }
    let max_attempts = NonZeroU32::new(raw.max_attempts).unwrap_or_else(|| {
        check.problem("delivery.max_attempts", "must be at least 1");
        NonZeroU32::MIN
    });
    if !(1..=256).contains(&raw.unordered_concurrency) {
        check.problem(
            "delivery.unordered_concurrency",
            format!("{} is outside 1..=256", raw.unordered_concurrency),
        );
    }
    if !(0.0..=1.0).contains(&raw.jitter) {
        check.problem(
            "delivery.jitter",
            format!("{} is outside 0.0..=1.0", raw.jitter),
        );
    }
    DeliverySettings {
        timeout: check.duration("delivery.timeout", &raw.timeout),
        connect_timeout: check.duration("delivery.connect_timeout", &raw.connect_timeout),
        retry_schedule,
        max_attempts,
        max_age: check.duration("delivery.max_age", &raw.max_age),
        jitter: raw.jitter,
        failing_alert_after: check
            .duration("delivery.failing_alert_after", &raw.failing_alert_after),
        disable_after: check.duration("delivery.disable_after", &raw.disable_after),
        unordered_concurrency: raw.unordered_concurrency,
    }
}

fn validate_security(check: &mut Check, raw: RawSecurity) -> SecuritySettings {
    let allowed_cidrs = raw
        .allowed_cidrs
        .iter()
        .enumerate()
        .filter_map(|(i, cidr)| match cidr.parse::<ipnet::IpNet>() {
            Ok(net) => Some(net),
            Err(_) => {
                check.problem(
                    &format!("security.allowed_cidrs[{i}]"),
                    format!("`{cidr}` is not a CIDR like 10.0.0.0/8"),
                );
                None
            }
        })
        .collect();
    let master_key = check.secret("security.master_key", raw.master_key.as_deref());
    if !master_key.is_empty() {
        if let Err(e) = crate::signing::SecretBox::from_base64(&master_key) {
            check.problem("security.master_key", e.to_string());
        }
    }
    SecuritySettings {
        https_only: raw.https_only,
        allow_private_targets: raw.allow_private_targets,
        allowed_cidrs,
        master_key,
        rotation_grace: check.duration("security.rotation_grace", &raw.rotation_grace),
        idempotency_ttl: check.duration("security.idempotency_ttl", &raw.idempotency_ttl),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(toml: &str) -> Result<Settings, ConfigError> {
        from_figment(&Figment::from(Toml::string(DEFAULTS_TOML)).merge(Toml::string(toml)))
    }

    #[test]
    fn defaults_with_a_token_are_valid() {
        let s = load_str(&format!(
            "[server]\nadmin_token = \"0123456789abcdef0123\"\n[security]\nmaster_key = \"{}\"",
            "A".repeat(43) + "="
        ))
        .unwrap();
        assert_eq!(s.plugins.limits.call_timeout, Duration::from_millis(100));
        assert_eq!(s.delivery.retry_schedule.len(), 8);
        assert!(s.security.https_only);
        assert!(matches!(s.storage, StorageSettings::Embedded { .. }));
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let err = load_str(
            "[storage]\nbackend = \"mongo\"\n[delivery]\ntimeout = \"soon\"\njitter = 3.0\n[security]\nallowed_cidrs = [\"10.0.0.0/99\"]",
        )
        .unwrap_err();
        let ConfigError::Invalid(problems) = err else {
            panic!("expected invalid, got {err}");
        };
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "server.admin_token",
                "storage.backend",
                "delivery.jitter",
                "delivery.timeout",
                "security.allowed_cidrs[0]",
                "security.master_key"
            ]
        );
    }

    #[test]
    fn a_project_retention_is_read_and_checked_as_the_api_does() {
        let base = format!(
            "[server]\nadmin_token = \"0123456789abcdef0123\"\n[security]\nmaster_key = \"{}\"\n",
            "A".repeat(43) + "="
        );
        let s = load_str(&format!(
            "{base}[storage]\nretention = \"30d\"\n\
             [[projects]]\nid = \"a\"\nretention = \"7d\"\n[[projects]]\nid = \"b\"\n"
        ))
        .unwrap();
        assert_eq!(s.storage.retention(), Duration::from_secs(30 * 86_400));
        let kept: Vec<_> = s.projects.iter().map(|p| p.retention).collect();
        assert_eq!(kept, [Some(Duration::from_secs(7 * 86_400)), None]);
        let err = load_str(&format!(
            "{base}[[projects]]\nid = \"a\"\nretention = \"2w\"\n\
             [[projects]]\nid = \"b\"\nretention = \"400d\"\n"
        ))
        .unwrap_err();
        let ConfigError::Invalid(problems) = err else {
            panic!("expected invalid, got {err}");
        };
        let found: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.key.as_str(), p.message.as_str()))
            .collect();
        assert!(
            found
                .iter()
                .any(|(k, m)| *k == "projects[0].retention" && m.contains("not a duration")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|(k, m)| *k == "projects[1].retention" && m.contains("between 1s and 365d")),
            "{found:?}"
        );
    }

    #[test]
    fn redis_storage_is_checked() {
        let base = format!(
            "[server]\nadmin_token = \"0123456789abcdef0123\"\n[security]\nmaster_key = \"{}\"\n",
            "A".repeat(43) + "="
        );
        let s = load_str(&format!(
            "{base}[storage]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:6380/\"\nlease_ttl = \"2s\""
        ))
        .unwrap();
        let StorageSettings::Redis(redis) = s.storage else {
            panic!("expected redis");
        };
        assert_eq!(redis.urls, ["redis://127.0.0.1:6380/"]);
        assert!(!redis.cluster);
        assert_eq!(
            (redis.prefix.as_str(), redis.lease_ttl),
            ("hm", Duration::from_secs(2))
        );
        let cluster = load_str(&format!(
            "{base}[storage]\nbackend = \"redis\"\nredis_cluster = [\"redis://127.0.0.1:7000\", \"redis://127.0.0.1:7001\"]"
        ))
        .unwrap();
        assert!(matches!(
            cluster.storage,
            StorageSettings::Redis(RedisSettings { cluster: true, .. })
        ));
        let err = load_str(&format!(
            "{base}[storage]\nbackend = \"redis\"\nredis_cluster = [\"http://x\"]\nredis_prefix = \"a{{b}}\"\nlease_ttl = \"1h\""
        ))
        .unwrap_err()
        .to_string();
        for key in [
            "storage.redis_cluster[0]",
            "storage.redis_prefix",
            "storage.lease_ttl",
        ] {
            assert!(err.contains(key), "{key} in {err}");
        }
        let err = load_str(&format!("{base}[storage]\nbackend = \"redis\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("storage.redis_url"), "{err}");
    }

    #[test]
    fn wrong_types_and_unknown_keys_name_the_key() {
        let err = load_str("[plugins]\nmax_memory_mb = \"lots\"\n[server]\nlisten_on = 1")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`plugins.max_memory_mb`: invalid type"),
            "{err}"
        );
        assert!(err.contains("`server.listen_on`: unknown key"), "{err}");
        assert!(!err.contains("default."), "{err}");
        let err = load_str("[server]\nlisten_on = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("listen_on"), "{err}");
    }

    #[test]
    fn secrets_resolve_from_env() {
        std::env::set_var("HOOKMESH_TEST_CONFIG_TOKEN", "from-the-environment-123");
        assert_eq!(
            resolve_secret("env:HOOKMESH_TEST_CONFIG_TOKEN").unwrap(),
            "from-the-environment-123"
        );
        assert!(resolve_secret("env:HOOKMESH_TEST_SURELY_UNSET").is_err());
        assert_eq!(resolve_secret("literal").unwrap(), "literal");
    }
}
