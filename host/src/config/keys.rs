//! Unknown keys and unreadable values, reported like every other config
//! problem: all of them at once, each under its path as written in the
//! file (`projects[0].webhooks[1].secrt`), with the nearest valid key
//! suggested and the source (file or environment) that set it.
//!
//! The valid keys are read from the `Raw…` structs themselves (the field
//! lists serde derives), so this list cannot drift from what is parsed.

use super::projects::{RawEventType, RawProject, RawProvider, RawWebhook};
use super::{Problem, Raw, RawDelivery, RawPlugins, RawSecurity, RawServer, RawStorage};
use figment::value::{Dict, Value};
use figment::Figment;
use serde::de::{Deserialize, Deserializer, Visitor};

/// Where in the config a table sits, which decides its valid keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Root,
    Server,
    Storage,
    Plugins,
    Delivery,
    Security,
    Ingest,
    Management,
    Portal,
    Project,
    /// `[[projects]] ingest_limit`
    IngestLimit,
    EventType,
    /// `[projects.providers]`: any provider name.
    Providers,
    Provider,
    Webhook,
    /// A value, or a table of free keys (`config`, `filter`, `schema`).
    Leaf,
}

fn fields(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Root => fields_of::<Raw>(),
        Kind::Server => fields_of::<RawServer>(),
        Kind::Storage => fields_of::<RawStorage>(),
        Kind::Plugins => fields_of::<RawPlugins>(),
        Kind::Delivery => fields_of::<RawDelivery>(),
        Kind::Security => fields_of::<RawSecurity>(),
        Kind::Ingest => fields_of::<super::projects::RawIngest>(),
        Kind::Management => fields_of::<super::projects::RawManagement>(),
        Kind::Portal => fields_of::<super::portal::RawPortal>(),
        Kind::IngestLimit => fields_of::<super::projects::RawIngestLimit>(),
        Kind::Project => fields_of::<RawProject>(),
        Kind::EventType => fields_of::<RawEventType>(),
        Kind::Provider => fields_of::<RawProvider>(),
        Kind::Webhook => fields_of::<RawWebhook>(),
        Kind::Providers | Kind::Leaf => &[],
    }
}

fn child(kind: Kind, key: &str) -> Kind {
    match (kind, key) {
        (Kind::Root, "server") => Kind::Server,
        (Kind::Root, "storage") => Kind::Storage,
        (Kind::Root, "plugins") => Kind::Plugins,
        (Kind::Root, "delivery") => Kind::Delivery,
        (Kind::Root, "security") => Kind::Security,
        (Kind::Root, "ingest") => Kind::Ingest,
        (Kind::Root, "management") => Kind::Management,
        (Kind::Root, "portal") => Kind::Portal,
        (Kind::Project, "ingest_limit") => Kind::IngestLimit,
        (Kind::Root, "projects") => Kind::Project,
        (Kind::Project, "event_types") => Kind::EventType,
        (Kind::Project, "providers") => Kind::Providers,
        (Kind::Project, "webhooks") => Kind::Webhook,
        (Kind::Providers, _) => Kind::Provider,
        _ => Kind::Leaf,
    }
}

/// Every key of the merged config that no setting reads.
pub(super) fn unknown_keys(figment: &Figment) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Ok(root) = figment.extract::<Dict>() {
        walk_dict(figment, Kind::Root, &root, "", &mut problems);
    }
    problems
}

fn walk(figment: &Figment, kind: Kind, value: &Value, path: &str, out: &mut Vec<Problem>) {
    match value {
        Value::Dict(_, dict) => walk_dict(figment, kind, dict, path, out),
        Value::Array(_, items) => {
            for (i, item) in items.iter().enumerate() {
                walk(figment, kind, item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn walk_dict(figment: &Figment, kind: Kind, dict: &Dict, path: &str, out: &mut Vec<Problem>) {
    if kind == Kind::Leaf {
        return;
    }
    let valid = fields(kind);
    for (key, value) in dict {
        let at = match path {
            "" => key.clone(),
            _ => format!("{path}.{key}"),
        };
        if kind == Kind::Providers || valid.contains(&key.as_str()) {
            walk(figment, child(kind, key), value, &at, out);
            continue;
        }
        let hint = match nearest(key, valid) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("valid keys here: {}", valid.join(", ")),
        };
        out.push(Problem {
            key: at,
            message: format!("unknown key{}; {hint}", source_of(figment, value)),
        });
    }
}

/// ` (in FILE)` or ` (from NAME)`: where a value came from.
fn source_of(figment: &Figment, value: &Value) -> String {
    match figment.get_metadata(value.tag()) {
        Some(meta) => match &meta.source {
            Some(figment::Source::File(path)) => format!(" (in {})", path.display()),
            _ if meta.name.contains("environment") => format!(" (from {})", meta.name),
            _ => String::new(),
        },
        None => String::new(),
    }
}

/// The valid key closest to `key` in edits, if it is close enough to be
/// a typo.
fn nearest<'a>(key: &str, valid: &[&'a str]) -> Option<&'a str> {
    let limit = (key.chars().count() / 3).max(2);
    valid
        .iter()
        .map(|v| (edit_distance(key, v), *v))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v)
}

/// Levenshtein distance over characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// A figment error (wrong type, missing value) as problems naming the key
/// without figment's profile prefix.
pub(super) fn read_problems(error: figment::Error) -> Vec<Problem> {
    error
        .into_iter()
        .map(|e| {
            let source = match e.metadata.as_ref().and_then(|m| m.source.as_ref()) {
                Some(figment::Source::File(path)) => format!(" (in {})", path.display()),
                _ => String::new(),
            };
            Problem {
                key: match e.path.is_empty() {
                    true => "(config)".into(),
                    false => e.path.join("."),
                },
                message: format!("{}{source}", e.kind),
            }
        })
        .collect()
}

/// The field names serde derived for `T` (a struct).
fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut names = FieldNames(&[]);
    let _ = T::deserialize(&mut names);
    names.0
}

/// A deserializer that only records the field list it is asked for.
struct FieldNames(&'static [&'static str]);

#[derive(Debug)]
struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names recorded")
    }
}

impl std::error::Error for Stop {}

impl serde::de::Error for Stop {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for &mut FieldNames {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.0 = fields;
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::{Format, Toml};

    fn problems(toml: &str) -> Vec<Problem> {
        unknown_keys(
            &Figment::from(Toml::string(super::super::DEFAULTS_TOML)).merge(Toml::string(toml)),
        )
    }

    #[test]
    fn every_unknown_key_is_named_with_a_suggestion() {
        let found = problems(
            "[server]\nlisten_on = \"x\"\n[delivery]\ntimeuot = \"1s\"\n\
             [[projects]]\nid = \"p\"\n[projects.providers.slack]\nconfg = {}\n\
             [[projects.webhooks]]\nid = \"w\"\nurl = \"https://x\"\nevents = [\"*\"]\nsecrt = \"s\"\n\
             config = { anything = \"goes\" }\nfilter = { \"payload.a\" = 1 }\n",
        );
        let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "delivery.timeuot",
                "projects[0].providers.slack.confg",
                "projects[0].webhooks[0].secrt",
                "server.listen_on",
            ]
        );
        assert!(
            found[0].message.contains("did you mean `timeout`?"),
            "{found:?}"
        );
        assert!(
            found[2].message.contains("did you mean `secret`?"),
            "{found:?}"
        );
        assert!(
            found[3].message.contains("did you mean `listen`?"),
            "{found:?}"
        );
        assert!(!found.iter().any(|p| p.key.starts_with("default.")));
    }

    #[test]
    fn far_keys_list_the_valid_ones() {
        let found = problems("[ingest]\nzzzzzzzz = 1\n");
        assert_eq!(found.len(), 1);
        assert!(
            found[0].message.contains("events_per_second, burst"),
            "{found:?}"
        );
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("secrt", "secret"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
