//! Describing a plugin: [`Manifest`] constructors and [`ConfigField`], the
//! builder for the config fields it accepts.
//!
//! A field is optional and not secret unless its builder says otherwise:
//!
//! ```
//! use hookmesh_sdk::{ConfigField, Manifest, Scope};
//!
//! let manifest = Manifest::outbound("teams", "0.1.0", "posts to Microsoft Teams")
//!     .field(ConfigField::new("token").describe("API token").secret().required())
//!     .field(ConfigField::new("channel").required_for(Scope::Endpoint))
//!     .field(ConfigField::new("text").one_of("message").required_for(Scope::Endpoint))
//!     .field(ConfigField::new("card").one_of("message").required_for(Scope::Endpoint));
//! assert_eq!(manifest.fields()[1].required_scope(), Some(Scope::Endpoint));
//! ```
//!
//! - [`Scope::Project`]: the project's provider settings must set the field;
//!   until they do, the host lists the provider as `incomplete`.
//! - [`Scope::Endpoint`]: every endpoint delivering through the provider
//!   needs a value, from its own config or inherited from the project's
//!   settings; the project is not incomplete without it.
//! - A field in a "one of" group is required only with its group: at least
//!   one of the group's fields must be set, at the scope its fields give.
//! - Secret fields are sealed at rest, masked by the API and may only be set
//!   in the project's provider settings.
//!
//! On the wire (`config-field` in `wit/plugin.wit`) `required` is true for a
//! field required at project scope outside any group, which is all a host
//! of contract `0.1.0` reads; the endpoint scope and the group travel in a
//! last description line, `hookmesh:required-for=endpoint,one-of=message`,
//! which [`ConfigField::from_wire`] reads back (and hosts strip for display).

use crate::bindings::hookmesh::plugin::types::ConfigField as WireField;
use crate::{Capability, Manifest, ABI_VERSION};

/// Marks the description line that carries a field's scope and group.
const RULES_PREFIX: &str = "hookmesh:";

/// Where a required config field must be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// In the project's provider settings.
    Project,
    /// For each endpoint: its own config or the project's settings.
    Endpoint,
}

impl Scope {
    /// The scope's name on the wire and in the API: `project`, `endpoint`.
    ///
    /// ```
    /// assert_eq!(hookmesh_sdk::Scope::Endpoint.as_str(), "endpoint");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Project => "project",
            Scope::Endpoint => "endpoint",
        }
    }
}

/// One config field a plugin accepts; see the module doc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigField {
    name: String,
    description: String,
    secret: bool,
    required: Option<Scope>,
    one_of: Option<String>,
}

impl ConfigField {
    /// An optional, non-secret field named `name`. A name with `<…>` is a
    /// pattern: `header.<Name>` accepts every key starting with `header.`.
    ///
    /// ```
    /// let field = hookmesh_sdk::ConfigField::new("channel");
    /// assert_eq!(field.name(), "channel");
    /// assert_eq!(field.required_scope(), None);
    /// ```
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            description: String::new(),
            secret: false,
            required: None,
            one_of: None,
        }
    }

    /// What the field is for, shown in the provider list.
    ///
    /// ```
    /// let field = hookmesh_sdk::ConfigField::new("channel").describe("where to post");
    /// assert_eq!(field.description(), "where to post");
    /// ```
    pub fn describe(mut self, description: &str) -> Self {
        self.description = description.into();
        self
    }

    /// A secret: sealed at rest, masked by the API, project settings only.
    ///
    /// ```
    /// assert!(hookmesh_sdk::ConfigField::new("token").secret().is_secret());
    /// ```
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// Required in the project's provider settings
    /// (`required_for(Scope::Project)`).
    ///
    /// ```
    /// use hookmesh_sdk::{ConfigField, Scope};
    /// let field = ConfigField::new("webhook_secret").secret().required();
    /// assert_eq!(field.required_scope(), Some(Scope::Project));
    /// ```
    pub fn required(self) -> Self {
        self.required_for(Scope::Project)
    }

    /// Required at `scope` (see [`Scope`]); in a group, the group is.
    ///
    /// ```
    /// use hookmesh_sdk::{ConfigField, Scope};
    /// let field = ConfigField::new("channel").required_for(Scope::Endpoint);
    /// assert_eq!(field.required_scope(), Some(Scope::Endpoint));
    /// ```
    pub fn required_for(mut self, scope: Scope) -> Self {
        self.required = Some(scope);
        self
    }

    /// Puts the field in "one of" group `group`: when the group's fields
    /// are required, any one of them set is enough.
    ///
    /// ```
    /// use hookmesh_sdk::{ConfigField, Scope};
    /// let text = ConfigField::new("text").one_of("message").required_for(Scope::Endpoint);
    /// assert_eq!(text.group(), Some("message"));
    /// ```
    pub fn one_of(mut self, group: &str) -> Self {
        self.one_of = Some(group.into());
        self
    }

    /// The field's name (or pattern).
    ///
    /// ```
    /// assert_eq!(hookmesh_sdk::ConfigField::new("map.<field>").name(), "map.<field>");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The description given to [`ConfigField::describe`].
    ///
    /// ```
    /// assert_eq!(hookmesh_sdk::ConfigField::new("x").description(), "");
    /// ```
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Whether the field is secret.
    ///
    /// ```
    /// assert!(!hookmesh_sdk::ConfigField::new("channel").is_secret());
    /// ```
    pub fn is_secret(&self) -> bool {
        self.secret
    }

    /// Where the field (or its group) must be set, if it is required.
    ///
    /// ```
    /// let field = hookmesh_sdk::ConfigField::new("token").required();
    /// assert_eq!(field.required_scope(), Some(hookmesh_sdk::Scope::Project));
    /// ```
    pub fn required_scope(&self) -> Option<Scope> {
        self.required
    }

    /// The "one of" group the field belongs to.
    ///
    /// ```
    /// assert_eq!(hookmesh_sdk::ConfigField::new("text").group(), None);
    /// ```
    pub fn group(&self) -> Option<&str> {
        self.one_of.as_deref()
    }

    /// The field as the contract's `config-field` record (see the module doc).
    ///
    /// ```
    /// use hookmesh_sdk::{ConfigField, Scope};
    /// let wire = ConfigField::new("channel").required_for(Scope::Endpoint).to_wire();
    /// assert!(!wire.required);
    /// assert_eq!(wire.description, "hookmesh:required-for=endpoint");
    /// ```
    pub fn to_wire(&self) -> WireField {
        WireField {
            name: self.name.clone(),
            description: self.wire_description(),
            secret: self.secret,
            required: self.required == Some(Scope::Project) && self.one_of.is_none(),
        }
    }

    /// Reads a `config-field` record back, from this SDK or an older one.
    ///
    /// ```
    /// use hookmesh_sdk::{ConfigField, Scope};
    /// let field = ConfigField::new("text").describe("message").one_of("body").required();
    /// assert_eq!(ConfigField::from_wire(&field.to_wire()), field);
    /// ```
    pub fn from_wire(wire: &WireField) -> Self {
        Self::parse(&wire.name, &wire.description, wire.secret, wire.required)
    }

    /// [`ConfigField::from_wire`] from the record's parts, for hosts with
    /// bindings of their own.
    ///
    /// ```
    /// use hookmesh_sdk::{ConfigField, Scope};
    /// let field = ConfigField::parse("token", "API token", true, true);
    /// assert_eq!(field, ConfigField::new("token").describe("API token").secret().required());
    /// ```
    pub fn parse(name: &str, description: &str, secret: bool, required: bool) -> Self {
        let mut field = Self::new(name);
        field.secret = secret;
        field.required = required.then_some(Scope::Project);
        let (text, rules) = match description.rsplit_once('\n') {
            Some((text, last)) if last.starts_with(RULES_PREFIX) => (text, last),
            None if description.starts_with(RULES_PREFIX) => ("", description),
            _ => (description, ""),
        };
        field.description = text.to_string();
        let rules = rules.strip_prefix(RULES_PREFIX).unwrap_or_default();
        for (key, value) in rules.split(',').filter_map(|r| r.split_once('=')) {
            match (key.trim(), value.trim()) {
                ("required-for", "endpoint") => field.required = Some(Scope::Endpoint),
                ("required-for", "project") => field.required = Some(Scope::Project),
                ("one-of", group) if !group.is_empty() => field.one_of = Some(group.into()),
                _ => {}
            }
        }
        field
    }

    fn wire_description(&self) -> String {
        let mut rules = Vec::new();
        let in_group = self.one_of.is_some();
        match self.required {
            Some(Scope::Endpoint) => rules.push("required-for=endpoint".to_string()),
            Some(Scope::Project) if in_group => rules.push("required-for=project".to_string()),
            _ => {}
        }
        if let Some(group) = &self.one_of {
            rules.push(format!("one-of={group}"));
        }
        match (rules.is_empty(), self.description.is_empty()) {
            (true, _) => self.description.clone(),
            (false, true) => format!("{RULES_PREFIX}{}", rules.join(",")),
            (false, false) => format!("{}\n{RULES_PREFIX}{}", self.description, rules.join(",")),
        }
    }
}

impl From<ConfigField> for WireField {
    fn from(field: ConfigField) -> Self {
        field.to_wire()
    }
}

impl Manifest {
    /// A manifest for an outbound-only plugin that addresses only the
    /// endpoint's own URL; add fields with [`Manifest::field`].
    ///
    /// ```
    /// let manifest = hookmesh_sdk::Manifest::outbound("echo", "0.1.0", "posts the envelope");
    /// assert_eq!(manifest.capabilities, [hookmesh_sdk::Capability::Outbound]);
    /// ```
    pub fn outbound(name: &str, version: &str, description: &str) -> Self {
        Manifest {
            name: name.into(),
            version: version.into(),
            abi_version: ABI_VERSION.into(),
            description: description.into(),
            config_fields: Vec::new(),
            allowed_hosts: Vec::new(),
            capabilities: vec![Capability::Outbound],
        }
    }

    /// A manifest for an inbound-only plugin (it verifies a provider's
    /// webhooks and renders nothing); add fields with [`Manifest::field`].
    ///
    /// ```
    /// let manifest = hookmesh_sdk::Manifest::inbound("acme", "0.1.0", "Acme's webhooks");
    /// assert_eq!(manifest.capabilities, [hookmesh_sdk::Capability::Inbound]);
    /// ```
    pub fn inbound(name: &str, version: &str, description: &str) -> Self {
        Manifest {
            capabilities: vec![Capability::Inbound],
            ..Self::outbound(name, version, description)
        }
    }

    /// Adds a config field.
    ///
    /// ```
    /// use hookmesh_sdk::{ConfigField, Manifest};
    /// let manifest = Manifest::outbound("echo", "0.1.0", "")
    ///     .field(ConfigField::new("token").describe("bearer token").secret().required());
    /// assert_eq!(manifest.config_fields[0].name, "token");
    /// ```
    pub fn field(mut self, field: ConfigField) -> Self {
        self.config_fields.push(field.to_wire());
        self
    }

    /// The config fields as [`ConfigField`]s (scopes and groups read back).
    ///
    /// ```
    /// use hookmesh_sdk::{ConfigField, Manifest, Scope};
    /// let manifest = Manifest::outbound("echo", "0.1.0", "")
    ///     .field(ConfigField::new("channel").required_for(Scope::Endpoint));
    /// assert_eq!(manifest.fields()[0].required_scope(), Some(Scope::Endpoint));
    /// ```
    pub fn fields(&self) -> Vec<ConfigField> {
        self.config_fields
            .iter()
            .map(ConfigField::from_wire)
            .collect()
    }

    /// Allows requests to `host` (exact, or `*.example.com` for subdomains).
    ///
    /// ```
    /// let manifest = hookmesh_sdk::Manifest::outbound("slack", "0.1.0", "")
    ///     .allow_host("slack.com");
    /// assert_eq!(manifest.allowed_hosts, ["slack.com"]);
    /// ```
    pub fn allow_host(mut self, host: &str) -> Self {
        self.allowed_hosts.push(host.into());
        self
    }

    /// Adds a capability.
    ///
    /// ```
    /// use hookmesh_sdk::{Capability, Manifest};
    /// let manifest = Manifest::outbound("slack", "0.1.0", "").capability(Capability::Inbound);
    /// assert_eq!(manifest.capabilities, [Capability::Outbound, Capability::Inbound]);
    /// ```
    pub fn capability(mut self, capability: Capability) -> Self {
        self.capabilities.push(capability);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_combination_survives_the_wire() {
        let scopes = [None, Some(Scope::Project), Some(Scope::Endpoint)];
        for description in ["", "what it is", "two\nlines"] {
            for scope in scopes {
                for group in [None, Some("message")] {
                    for secret in [false, true] {
                        let mut field = ConfigField::new("f").describe(description);
                        if secret {
                            field = field.secret();
                        }
                        if let Some(scope) = scope {
                            field = field.required_for(scope);
                        }
                        if let Some(group) = group {
                            field = field.one_of(group);
                        }
                        assert_eq!(ConfigField::from_wire(&field.to_wire()), field);
                    }
                }
            }
        }
    }

    #[test]
    fn old_hosts_see_only_project_requirements_outside_groups() {
        let required = |f: ConfigField| f.to_wire().required;
        assert!(required(ConfigField::new("a").required()));
        assert!(!required(
            ConfigField::new("a").required_for(Scope::Endpoint)
        ));
        assert!(!required(ConfigField::new("a").required().one_of("g")));
        assert!(!required(ConfigField::new("a")));
    }

    #[test]
    fn plain_descriptions_are_untouched() {
        let wire = ConfigField::new("a")
            .describe("plain")
            .secret()
            .required()
            .to_wire();
        assert_eq!(wire.description, "plain");
        let field = ConfigField::parse("a", "says hookmesh: but not on its own line", false, false);
        assert_eq!(
            field.description(),
            "says hookmesh: but not on its own line"
        );
        assert_eq!(field.required_scope(), None);
    }
}
