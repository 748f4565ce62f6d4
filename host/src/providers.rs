//! Provider settings: checking config against a plugin's manifest, sealing
//! its secret fields, masking them for display, and merging a project's
//! provider settings under an endpoint's own config for a call.
//!
//! Settings are stored under an integration name: a plugin's name
//! (`stripe`), or a named instance of an inbound plugin,
//! `<plugin>.<instance>` (`hmac.uptime`), so that one plugin can serve
//! several inbound sources of a project, each with its own settings and
//! secret ([`IntegrationName`]). Plugin names cannot contain a dot (the
//! host refuses such manifests at load), so the split is unambiguous.

use crate::ingest::FieldError;
use crate::plugin::{ConfigField, Manifest};
use crate::signing::{SealError, SecretBox};
use crate::store::ProviderSettings;
use hookmesh_sdk::{ConfigField as SdkField, Scope};
use std::collections::BTreeMap;

/// What masked secrets look like in API answers.
pub const MASK: &str = "********";
/// Longest instance name.
pub const MAX_INSTANCE_LEN: usize = 64;

/// A provider integration's name: a plugin, or a named instance of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegrationName<'a> {
    /// The plugin that serves it (`hmac`).
    pub plugin: &'a str,
    /// The instance (`uptime` in `hmac.uptime`), if named.
    pub instance: Option<&'a str>,
}

impl std::fmt::Display for IntegrationName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.instance {
            Some(instance) => write!(f, "{}.{instance}", self.plugin),
            None => f.write_str(self.plugin),
        }
    }
}

/// An integration name that cannot be split into plugin and instance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}`: an instance name after `<plugin>.` must be 1-{MAX_INSTANCE_LEN} characters of a-z, 0-9, `-` or `_`")]
pub struct BadIntegrationName {
    /// The name as given.
    pub name: String,
}

impl<'a> IntegrationName<'a> {
    /// Splits `hmac.uptime` into plugin `hmac` and instance `uptime`; a
    /// name without a dot is the plugin itself.
    pub fn parse(name: &'a str) -> Result<Self, BadIntegrationName> {
        let Some((plugin, instance)) = name.split_once('.') else {
            return Ok(Self {
                plugin: name,
                instance: None,
            });
        };
        let valid = !instance.is_empty()
            && instance.len() <= MAX_INSTANCE_LEN
            && instance
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid {
            return Err(BadIntegrationName { name: name.into() });
        }
        Ok(Self {
            plugin,
            instance: Some(instance),
        })
    }
}

/// The manifest field `key` falls under: exact, or a pattern such as
/// `header.<Name>` matching any `header.` key.
pub fn field_for<'a>(manifest: &'a Manifest, key: &str) -> Option<&'a ConfigField> {
    manifest
        .config_fields
        .iter()
        .find(|f| match f.name.find('<') {
            Some(at) => key.len() > at && key.starts_with(&f.name[..at]),
            None => f.name == key,
        })
}

fn field_error(field: String, message: String) -> FieldError {
    FieldError { field, message }
}

/// Keys must be fields of the manifest; `secret_allowed = false` refuses
/// secret fields (endpoint config is not sealed: secrets belong in the
/// project's provider settings).
pub fn check_keys<'a>(
    manifest: &Manifest,
    keys: impl IntoIterator<Item = &'a String>,
    prefix: &str,
    secret_allowed: bool,
) -> Result<(), FieldError> {
    for key in keys {
        let field = format!("{prefix}.{key}");
        match field_for(manifest, key) {
            None => {
                let names: Vec<&str> = manifest.config_fields.iter().map(|f| f.name.as_str()).collect();
                return Err(field_error(
                    field,
                    format!("not a config field of provider `{}`; its fields: {names:?}", manifest.name),
                ));
            }
            Some(f) if f.secret && !secret_allowed => {
                return Err(field_error(
                    field,
                    format!(
                        "is secret: set it once for the project with PUT /projects/{{p}}/integrations/providers/{}",
                        manifest.name
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Applies `changes` (value: set; null: remove) to `settings`, sealing
/// secret fields, then checks that required fields are present.
pub fn apply_changes(
    manifest: &Manifest,
    settings: &mut ProviderSettings,
    changes: BTreeMap<String, Option<String>>,
    secrets: &SecretBox,
) -> Result<(), FieldError> {
    check_keys(manifest, changes.keys(), "config", true)?;
    for (key, value) in changes {
        let secret = field_for(manifest, &key).is_some_and(|f| f.secret);
        settings.config.remove(&key);
        settings.secrets.remove(&key);
        match (value, secret) {
            (Some(v), true) => {
                settings.secrets.insert(key, secrets.seal(&v));
            }
            (Some(v), false) => {
                settings.config.insert(key, v);
            }
            (None, _) => {}
        }
    }
    Ok(())
}

/// What the project's settings still lack: each field required at project
/// scope ([`hookmesh_sdk::Scope::Project`]) that neither the settings nor
/// `endpoint_config` set, and each required "one of" group none of whose
/// fields is set (named `a|b`). Fields required per endpoint
/// ([`hookmesh_sdk::Scope::Endpoint`]) are not the project's to set.
pub fn missing_required(
    manifest: &Manifest,
    settings: Option<&ProviderSettings>,
    endpoint_config: &BTreeMap<String, String>,
) -> Vec<String> {
    let is_set = |name: &str| {
        settings.is_some_and(|s| s.config.contains_key(name) || s.secrets.contains_key(name))
            || endpoint_config.contains_key(name)
    };
    let mut missing = Vec::new();
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for field in manifest_fields(manifest) {
        if field.required_scope() != Some(Scope::Project) || field.name().contains('<') {
            continue;
        }
        match field.group() {
            None if !is_set(field.name()) => missing.push(field.name().to_string()),
            None => {}
            Some(group) => match groups.iter_mut().find(|(g, _)| g == group) {
                Some((_, names)) => names.push(field.name().to_string()),
                None => groups.push((group.to_string(), vec![field.name().to_string()])),
            },
        }
    }
    for (_, names) in groups {
        if !names.iter().any(|name| is_set(name)) {
            missing.push(names.join("|"));
        }
    }
    missing
}

/// The manifest's config fields with their scopes and groups read back
/// (see [`hookmesh_sdk::manifest`] for how they travel).
pub fn manifest_fields(manifest: &Manifest) -> impl Iterator<Item = SdkField> + '_ {
    manifest.config_fields.iter().map(sdk_field)
}

/// One wire field as the SDK's [`SdkField`].
pub fn sdk_field(field: &ConfigField) -> SdkField {
    SdkField::parse(
        &field.name,
        &field.description,
        field.secret,
        field.required,
    )
}

/// The config a call sees: the project's provider settings (secrets
/// opened), overridden by the endpoint's own config.
pub fn merged_config(
    settings: Option<&ProviderSettings>,
    endpoint_config: &BTreeMap<String, String>,
    secrets: &SecretBox,
) -> Result<BTreeMap<String, String>, SealError> {
    let mut merged = BTreeMap::new();
    if let Some(settings) = settings {
        merged.extend(settings.config.clone());
        for (key, sealed) in &settings.secrets {
            merged.insert(key.clone(), secrets.open(sealed)?);
        }
    }
    merged.extend(endpoint_config.clone());
    Ok(merged)
}

/// The settings as the API shows them: secrets masked.
pub fn masked(settings: &ProviderSettings) -> BTreeMap<String, String> {
    let mut shown = settings.config.clone();
    for key in settings.secrets.keys() {
        shown.insert(key.clone(), MASK.to_string());
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(fields: Vec<SdkField>) -> Manifest {
        let fields = fields
            .iter()
            .map(|f| {
                let wire = f.to_wire();
                ConfigField {
                    name: wire.name,
                    description: wire.description,
                    secret: wire.secret,
                    required: wire.required,
                }
            })
            .collect();
        Manifest {
            name: "p".into(),
            version: "0.1.0".into(),
            abi_version: "0.1.0".into(),
            description: String::new(),
            config_fields: fields,
            allowed_hosts: Vec::new(),
            capabilities: Vec::new(),
        }
    }

    fn settings(keys: &[&str], secrets: &[&str]) -> ProviderSettings {
        let mut settings = ProviderSettings {
            project_id: "acme".into(),
            provider: "p".into(),
            enabled: true,
            config: BTreeMap::new(),
            secrets: BTreeMap::new(),
            updated_ms: 0,
            declared: false,
        };
        for key in keys {
            settings.config.insert((*key).into(), "v".into());
        }
        for key in secrets {
            settings.secrets.insert((*key).into(), Vec::new());
        }
        settings
    }

    #[test]
    fn completeness_counts_project_fields_and_groups_only() {
        let manifest = manifest(vec![
            SdkField::new("token").secret().required(),
            SdkField::new("summary").required_for(Scope::Endpoint),
            SdkField::new("text").one_of("message").required(),
            SdkField::new("card").one_of("message").required(),
            SdkField::new("header.<Name>").required(),
            SdkField::new("note"),
        ]);
        let none = BTreeMap::new();
        assert_eq!(
            missing_required(&manifest, None, &none),
            ["token", "text|card"]
        );
        let partly = settings(&["card"], &[]);
        assert_eq!(missing_required(&manifest, Some(&partly), &none), ["token"]);
        let complete = settings(&["text"], &["token"]);
        assert!(missing_required(&manifest, Some(&complete), &none).is_empty());
    }

    #[test]
    fn integration_names_split_at_the_first_dot() {
        assert_eq!(
            IntegrationName::parse("stripe"),
            Ok(IntegrationName {
                plugin: "stripe",
                instance: None
            })
        );
        assert_eq!(
            IntegrationName::parse("hmac.uptime-2"),
            Ok(IntegrationName {
                plugin: "hmac",
                instance: Some("uptime-2")
            })
        );
        for bad in [
            "hmac.",
            "hmac.a.b",
            "hmac.Up",
            "hmac.a b",
            &format!("hmac.{}", "a".repeat(65)),
        ] {
            assert!(IntegrationName::parse(bad).is_err(), "{bad}");
        }
    }
}
