//! Templates checked where they are written: at registration (API and
//! TOML) the endpoint's plugin renders a sample event of each subscribed
//! type, built from the project's catalogue (and the type's JSON Schema
//! where it declares one). A template syntax error, or an error rendering
//! a schema-built sample (a type error, a field the schema does not
//! have), names the endpoint's config key (`config.text`) and the
//! template line. Errors about settings the endpoint does not carry (a
//! project-level token not set yet) are left for delivery time, as is
//! anything a sample without a schema cannot tell. `hookmesh plugin
//! render --sample TYPE --schema FILE` renders the same samples for
//! plugin authors ([`render_sample`]).

use super::schema_sample::sample;
use crate::event_types::{
    check_payload, check_schema, check_type_name, BUILTIN_EVENT_TYPES, OPERATIONAL_EVENT_TYPES,
};
use crate::ingest::FieldError;
use crate::plugin::wire::ContextInput;
use crate::plugin::{CallError, Context, Event, GuestErrorKind, HttpRequest, LoadedPlugin};
use crate::store::{CustomEventType, Project};
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::path::Path;

/// Most sample events rendered for one registration.
pub const MAX_SAMPLES: usize = 32;

/// One event to render, and whether its payload came from a schema.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The event.
    pub event: Event,
    /// The payload was built from the type's schema and meets it, so a
    /// render error on it is the template's.
    pub typed: bool,
}

/// The types `events` subscribe to in `project`'s catalogue: built-in,
/// declared and seen types (operational ones only when named); a
/// `prefix.*` that matches none stands for `prefix.sample`.
fn subscribed_types(project: &Project, events: &[String]) -> Vec<String> {
    let catalogue: Vec<&str> = BUILTIN_EVENT_TYPES
        .iter()
        .copied()
        .chain(project.custom_event_types.iter().map(|t| t.name.as_str()))
        .chain(project.seen_event_types.iter().map(String::as_str))
        .collect();
    let mut types: Vec<String> = Vec::new();
    let mut add = |t: &str| {
        if !types.iter().any(|have| have == t) {
            types.push(t.to_string());
        }
    };
    for pattern in events {
        if pattern == "*" {
            catalogue.iter().for_each(|t| add(t));
        } else if let Some(prefix) = pattern.strip_suffix(".*") {
            let dotted = format!("{prefix}.");
            let matching: Vec<&str> = catalogue
                .iter()
                .chain(OPERATIONAL_EVENT_TYPES)
                .copied()
                .filter(|t| t.starts_with(&dotted))
                .collect();
            match matching.is_empty() {
                true => add(&format!("{prefix}.sample")),
                false => matching.into_iter().for_each(&mut add),
            }
        } else {
            add(pattern);
        }
    }
    types
}

/// Sample events of the subscribed types: those with a usable schema
/// first, at most [`MAX_SAMPLES`].
pub fn samples(project: &Project, events: &[String], now_ms: u64) -> Vec<Sample> {
    let mut all: Vec<Sample> = subscribed_types(project, events)
        .into_iter()
        .map(|event_type| sample_of(project, event_type, now_ms))
        .collect();
    all.sort_by_key(|s| !s.typed);
    all.truncate(MAX_SAMPLES);
    all
}

fn sample_of(project: &Project, event_type: String, now_ms: u64) -> Sample {
    let schema = project
        .custom_type(&event_type)
        .and_then(|t| t.schema.as_deref())
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok());
    let (payload, typed) = match schema.map(|s| sample(&s)) {
        Some((payload, definite)) => {
            let text = payload.to_string();
            let meets = check_payload(project, "payload", &event_type, &text).is_ok();
            match definite && meets && payload.is_object() {
                true => (text, true),
                false => ("{}".to_string(), false),
            }
        }
        None => ("{}".to_string(), false),
    };
    let resource = event_type.split('.').next().map(str::to_string);
    Sample {
        event: Event {
            id: "evt_sample".into(),
            resource_id: resource.as_ref().map(|r| format!("{r}_sample")),
            resource,
            event_type,
            payload: payload.into_bytes(),
            time_created_ms: now_ms,
        },
        typed,
    }
}

/// What a sample's render error says about the endpoint's own `config`:
/// `Err` naming `config.<key>` for a template syntax error, or for any
/// render error of that key on a schema-built sample.
pub fn verdict(
    config: &BTreeMap<String, String>,
    sample: &Sample,
    error: &CallError,
) -> Result<(), FieldError> {
    let CallError::Plugin { kind, message, .. } = error else {
        return Ok(());
    };
    let counts = match kind {
        GuestErrorKind::InvalidConfig => true,
        GuestErrorKind::InvalidEvent => sample.typed,
        _ => false,
    };
    let message = ["invalid config: ", "invalid event: "]
        .iter()
        .fold(message.as_str(), |m, p| m.strip_prefix(p).unwrap_or(m));
    let Some(key) = named_key(message).filter(|k| counts && config.contains_key(*k)) else {
        return Ok(());
    };
    let mut message = message.replace(" (in <string>:", " (template line ");
    if *kind == GuestErrorKind::InvalidEvent {
        message.push_str(&format!(
            "; on a sample `{}` event built from its schema, payload {}",
            sample.event.event_type,
            String::from_utf8_lossy(&sample.event.payload)
        ));
    }
    Err(FieldError {
        field: format!("config.{key}"),
        message,
    })
}

/// The key a plugin's message starts with: `` `text` is not … ``.
fn named_key(message: &str) -> Option<&str> {
    message
        .strip_prefix('`')
        .and_then(|rest| rest.split_once('`'))
        .map(|(key, _)| key)
}

/// Renders every sample through `plugin` with `ctx` (blocking calls):
/// the first verdict against the endpoint's `config`.
pub fn check_templates(
    plugin: &LoadedPlugin,
    ctx: &Context,
    config: &BTreeMap<String, String>,
    samples: &[Sample],
) -> Result<(), FieldError> {
    for sample in samples {
        if let Err(error) = plugin.render(&sample.event, ctx) {
            verdict(config, sample, &error)?;
        }
    }
    Ok(())
}

/// `hookmesh plugin render --sample TYPE [--schema FILE]`: renders the
/// sample of `event_type` that registration renders (its payload built
/// from `schema`, `{}` without one) with the context file's config; a
/// template error is reported as registration reports it.
pub fn render_sample(
    plugin: &LoadedPlugin,
    event_type: &str,
    schema: Option<&Path>,
    context: Option<&Path>,
) -> anyhow::Result<Vec<HttpRequest>> {
    let now = crate::now_ms();
    check_type_name("--sample", event_type)?;
    let mut project = Project::new("cli".into(), "cli".into(), now);
    if let Some(path) = schema {
        let schema: serde_json::Value = read_json(path)?;
        project.custom_event_types.push(CustomEventType {
            name: event_type.into(),
            description: None,
            schema: Some(check_schema("--schema", &schema)?),
        });
    }
    let sample = sample_of(&project, event_type.to_string(), now);
    let ctx = match context {
        Some(path) => read_json::<ContextInput>(path)?.into_context(now),
        None => ContextInput::default().into_context(now),
    };
    let config: BTreeMap<String, String> = ctx
        .config
        .iter()
        .map(|e| (e.key.clone(), e.value.clone()))
        .collect();
    let rendered = plugin.render(&sample.event, &ctx);
    if let Err(error) = &rendered {
        verdict(&config, &sample, error)?;
    }
    if schema.is_some() && !sample.typed {
        tracing::warn!("the schema leaves some values open (no `type`, or an object without `properties`): its sample payload is `{{}}` and only template syntax is judged");
    }
    rendered
        .map_err(|e| anyhow::anyhow!(e.to_string().replace(" (in <string>:", " (template line ")))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Project {
        let mut project = Project::new("p".into(), "P".into(), 0);
        project.custom_event_types = vec![CustomEventType {
            name: "order.paid".into(),
            description: None,
            schema: Some(
                r#"{"type":"object","properties":{"total_cents":{"type":"integer"}}}"#.into(),
            ),
        }];
        project.seen_event_types = vec!["order.refunded".into()];
        project
    }

    #[test]
    fn subscriptions_expand_over_the_catalogue() {
        let p = project();
        assert_eq!(
            subscribed_types(&p, &["order.*".into(), "db.insert".into()]),
            ["order.paid", "order.refunded", "db.insert"]
        );
        assert_eq!(
            subscribed_types(&p, &["lesson.*".into()]),
            ["lesson.sample"]
        );
        assert_eq!(subscribed_types(&p, &["endpoint.*".into()]).len(), 2);
        let all = subscribed_types(&p, &["*".into()]);
        assert!(
            all.contains(&"user.created".to_string()) && all.contains(&"order.paid".to_string())
        );
        assert!(!all.iter().any(|t| t.starts_with("delivery.")));
    }

    #[test]
    fn schema_types_come_first_with_a_payload_that_meets_the_schema() {
        let samples = samples(&project(), &["*".into()], 1);
        assert!(samples.len() <= MAX_SAMPLES);
        assert_eq!(samples[0].event.event_type, "order.paid");
        assert!(samples[0].typed);
        assert_eq!(samples[0].event.payload, br#"{"total_cents":1}"#);
        assert!(!samples[1].typed);
        assert_eq!(samples[1].event.payload, b"{}");
    }

    fn refused(kind: GuestErrorKind, message: &str, typed: bool) -> Option<FieldError> {
        let config = BTreeMap::from([("text".to_string(), "{{ x".to_string())]);
        let mut sample = samples(&project(), &["order.paid".into()], 1).remove(0);
        sample.typed = typed;
        let error = CallError::Plugin {
            plugin: "slack".into(),
            call: "render",
            kind,
            message: message.into(),
        };
        verdict(&config, &sample, &error).err()
    }

    #[test]
    fn verdicts_name_the_key_and_line() {
        let syntax = refused(
            GuestErrorKind::InvalidConfig,
            "invalid config: `text` is not a valid template: syntax error: unexpected end of input (in <string>:2)",
            false,
        )
        .unwrap();
        assert_eq!(syntax.field, "config.text");
        assert!(
            syntax.message.contains("(template line 2)"),
            "{}",
            syntax.message
        );
        let event = "invalid event: `text` cannot be rendered for this event: invalid operation";
        assert!(refused(GuestErrorKind::InvalidEvent, event, false).is_none());
        let typed = refused(GuestErrorKind::InvalidEvent, event, true).unwrap();
        assert!(
            typed.message.contains("sample `order.paid` event"),
            "{}",
            typed.message
        );
        // A key the endpoint does not set (a project-level token) waits.
        assert!(refused(
            GuestErrorKind::InvalidConfig,
            "invalid config: `bot_token` is required",
            false
        )
        .is_none());
    }
}
