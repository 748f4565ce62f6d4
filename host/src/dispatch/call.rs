//! One attempt's calls: render through the endpoint's plugin, send each
//! request through egress, classify each answer; and the plugin call
//! context (clock, endpoint, opened secrets, merged config).

use super::sent::{response_headers, Redactor};
use super::Core;
use crate::egress::EgressError;
use crate::plugin::{self, CallError, Failure, Outcome};
use crate::providers::merged_config;
use crate::signing::{SealError, SecretBox};
use crate::store::{
    Attempt, AttemptOutcome, Delivery, DeliveryChange, Endpoint, Event, ProviderSettings,
    SentRequest, TestRecord,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The result of render → send → classify: the plugin's [`Outcome`] (or
/// the one the host decides for it when the call or the send failed)
/// with what the attempt log shows.
pub(super) struct Verdict {
    pub(super) status_code: Option<u16>,
    pub(super) excerpt: String,
    pub(super) error: Option<String>,
    pub(super) outcome: Outcome,
    /// What was sent, as the delivery log keeps it.
    pub(super) requests: Vec<SentRequest>,
    /// The last answer's headers.
    pub(super) response_headers: Vec<(String, String)>,
}

impl Verdict {
    /// The attempt record of this verdict: attempt `number` of
    /// `delivery_id`, started at `started_ms`, labelled `outcome`.
    pub(super) fn into_attempt(
        self,
        delivery_id: &str,
        number: u32,
        started_ms: u64,
        took: Duration,
        outcome: AttemptOutcome,
    ) -> Attempt {
        Attempt {
            delivery_id: delivery_id.to_string(),
            number,
            started_ms,
            duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            status_code: self.status_code,
            response_excerpt: self.excerpt,
            error: self.error,
            outcome,
            requests: self.requests,
            response_headers: self.response_headers,
        }
    }

    /// Worth another try (a transient failure before any answer).
    pub(super) fn retry(error: String) -> Self {
        Self {
            status_code: None,
            excerpt: String::new(),
            error: Some(error),
            outcome: Outcome::Retry(None),
            requests: Vec::new(),
            response_headers: Vec::new(),
        }
    }

    /// Never going to work (a failure before any answer).
    pub(super) fn fail(reason: String) -> Self {
        Self {
            status_code: None,
            excerpt: String::new(),
            error: Some(reason.clone()),
            outcome: Outcome::Fail(Failure {
                reason,
                disable_endpoint: false,
            }),
            requests: Vec::new(),
            response_headers: Vec::new(),
        }
    }
}

/// Sends `event` to `endpoint` now with its call `config` (see
/// [`call_config`]), through the same render → send → classify path as a
/// delivery, once: the answer is a finished delivery marked `test`
/// (succeeded when the plugin classified the answer a success, failed
/// otherwise — a test is never retried) with its attempt, for the caller
/// to record ([`crate::store::Store::record_test`]).
pub async fn test_send(
    core: &Arc<Core>,
    endpoint: &Endpoint,
    config: BTreeMap<String, String>,
    event: &Event,
) -> TestRecord {
    let started_ms = core.now_ms();
    let started = Instant::now();
    let mut delivery = Delivery::queued(
        &crate::signing::new_id("dlv_"),
        &event.id,
        &endpoint.id,
        0,
        started_ms,
    );
    delivery.test = true;
    let mut verdict = run(core, endpoint, &Ok(config), event, &delivery, 1, started_ms).await;
    let ok = matches!(verdict.outcome, Outcome::Success);
    if let Outcome::Fail(failure) = &verdict.outcome {
        verdict.error = verdict.error.or(Some(failure.reason.clone()));
    }
    let outcome = if ok {
        AttemptOutcome::Success
    } else {
        AttemptOutcome::Failed
    };
    let attempt = verdict.into_attempt(&delivery.id, 1, started_ms, started.elapsed(), outcome);
    let change = if ok {
        DeliveryChange::Ack
    } else {
        DeliveryChange::DeadLetter {
            reason: not_accepted(&attempt),
        }
    };
    delivery.apply(&attempt, &change);
    TestRecord {
        event: event.clone(),
        delivery,
        attempt,
    }
}

/// Why a test's answer was not a success, in the delivery's `last_error`.
fn not_accepted(attempt: &Attempt) -> String {
    match (&attempt.error, attempt.status_code) {
        (Some(error), _) => error.clone(),
        (None, Some(code)) => format!("not accepted: HTTP {code}"),
        (None, None) => "not accepted".to_string(),
    }
}

/// Render through the plugin, send every request, classify each answer.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run(
    core: &Arc<Core>,
    endpoint: &Endpoint,
    config: &Result<BTreeMap<String, String>, String>,
    event: &Event,
    delivery: &Delivery,
    number: u32,
    now_ms: u64,
) -> Verdict {
    let Some(plugin) = core.plugins.get(&endpoint.provider) else {
        return Verdict::retry(format!("provider `{}` is not loaded", endpoint.provider));
    };
    let config = match config {
        Ok(config) => config.clone(),
        Err(reason) => return Verdict::retry(reason.clone()),
    };
    let ctx = match build_context(
        &core.secrets,
        endpoint,
        config,
        &delivery.id,
        number,
        now_ms,
    ) {
        Ok(ctx) => ctx,
        Err(e) => return Verdict::fail(e.to_string()),
    };
    let rendered = timed(
        core,
        plugin.name(),
        "render",
        plugin.render_async(plugin_event(event), ctx.clone()),
    )
    .await;
    let requests = match rendered {
        Ok(requests) => requests,
        Err(
            e @ (CallError::Plugin { .. }
            | CallError::ForbiddenTarget { .. }
            | CallError::OutputCap { .. }),
        ) => return Verdict::fail(e.to_string()),
        Err(e) => return Verdict::retry(e.to_string()),
    };
    let redactor = Redactor::new(&ctx, &plugin.manifest().config_fields);
    let mut verdict = Verdict {
        status_code: None,
        excerpt: String::new(),
        error: None,
        outcome: Outcome::Success,
        requests: Vec::new(),
        response_headers: Vec::new(),
    };
    for request in requests {
        verdict.requests.push(redactor.request(&request));
        let answer = match core.egress.send(&request).await {
            Ok(answer) => answer,
            Err(e @ (EgressError::Forbidden { .. } | EgressError::BadUrl { .. })) => {
                return Verdict {
                    requests: verdict.requests,
                    ..Verdict::fail(e.to_string())
                }
            }
            Err(e) => {
                return Verdict {
                    requests: verdict.requests,
                    ..Verdict::retry(e.to_string())
                }
            }
        };
        verdict.status_code = Some(answer.response.status);
        verdict.response_headers = response_headers(&answer.response.headers);
        verdict.excerpt = String::from_utf8_lossy(&answer.response.body).into_owned();
        let classified = timed(
            core,
            plugin.name(),
            "classify",
            plugin.classify_async(answer.response, ctx.clone()),
        )
        .await;
        verdict.outcome = classified.unwrap_or_else(|e| {
            verdict.error = Some(e.to_string());
            Outcome::Retry(None)
        });
        if !matches!(verdict.outcome, Outcome::Success) {
            break;
        }
    }
    verdict
}

/// Runs a plugin call, recording its duration and failure.
pub(super) async fn timed<T>(
    core: &Core,
    plugin: &str,
    call: &str,
    work: impl std::future::Future<Output = Result<T, CallError>>,
) -> Result<T, CallError> {
    let started = Instant::now();
    let result = work.await;
    let labels = [plugin, call];
    core.metrics
        .plugin_calls
        .with_label_values(&labels)
        .observe(started.elapsed().as_secs_f64());
    if result.is_err() {
        core.metrics
            .plugin_failures
            .with_label_values(&labels)
            .inc();
    }
    result
}

pub(super) fn record_metrics(core: &Core, provider: &str, change: &DeliveryChange, took: Duration) {
    let rescheduled = matches!(change, DeliveryChange::Reschedule { .. });
    let outcome = change.outcome().as_str();
    core.metrics
        .deliveries
        .with_label_values(&[provider, outcome])
        .inc();
    core.metrics
        .attempt_duration
        .with_label_values(&[provider])
        .observe(took.as_secs_f64());
    if rescheduled {
        core.metrics.retries.inc();
    }
}

/// The stored event as the plugin sees it.
pub(super) fn plugin_event(event: &Event) -> plugin::Event {
    plugin::Event {
        id: event.id.clone(),
        event_type: event.event_type.clone(),
        resource: event.resource.clone(),
        resource_id: event.resource_id.clone(),
        payload: event.payload.clone(),
        time_created_ms: event.time_created_ms,
    }
}

/// The endpoint's signing secrets that are still valid at `now_ms`, newest first.
pub fn open_secrets(
    secrets: &SecretBox,
    endpoint: &Endpoint,
    now_ms: u64,
) -> Result<Vec<String>, SealError> {
    endpoint
        .secrets
        .iter()
        .filter(|s| s.expires_ms.is_none_or(|at| at > now_ms))
        .map(|s| secrets.open(&s.sealed))
        .collect()
}

/// The plugin call context for one attempt; `config` is the merged
/// provider + endpoint config ([`crate::providers::merged_config`]).
pub fn build_context(
    secrets: &SecretBox,
    endpoint: &Endpoint,
    config: BTreeMap<String, String>,
    delivery_id: &str,
    attempt: u32,
    now_ms: u64,
) -> Result<plugin::Context, SealError> {
    Ok(plugin::Context {
        now_ms,
        delivery_id: delivery_id.to_string(),
        attempt,
        endpoint: Some(plugin::Endpoint {
            id: endpoint.id.clone(),
            url: endpoint.url.clone(),
            secrets: open_secrets(secrets, endpoint, now_ms)?,
        }),
        config: config
            .into_iter()
            .map(|(key, value)| plugin::ConfigEntry { key, value })
            .collect(),
    })
}

/// The project's settings for the endpoint's provider, merged with the
/// endpoint's config; `Err` names why the endpoint cannot send now.
pub async fn call_config(
    core: &Core,
    endpoint: &Endpoint,
) -> Result<BTreeMap<String, String>, String> {
    let settings = core
        .store
        .provider_settings(&endpoint.project_id, &endpoint.provider)
        .await
        .map_err(|e| e.to_string())?;
    sendable_config(settings.as_ref(), endpoint, &core.secrets)
}

/// The config for a call through `endpoint`, or why it cannot send now
/// (provider disabled for the project, secret that does not open).
pub(super) fn sendable_config(
    settings: Option<&ProviderSettings>,
    endpoint: &Endpoint,
    secrets: &SecretBox,
) -> Result<BTreeMap<String, String>, String> {
    if settings.is_some_and(|s| !s.enabled) {
        return Err(format!(
            "provider `{}` is disabled for this project",
            endpoint.provider
        ));
    }
    merged_config(settings, &endpoint.config, secrets).map_err(|e| e.to_string())
}
