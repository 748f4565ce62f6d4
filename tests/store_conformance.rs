//! One conformance suite for every storage backend: the same tests, run
//! against each (`conformance!(name, opener)`), so backends agree on FIFO
//! order, scheduling, acknowledgement, dead letters, idempotency, replay,
//! paging and recovery after a restart. The Redis backend runs them on a
//! real `redis-server` started by the test (each test under its own key
//! prefix); `redis_shared` then checks what only a shared store does:
//! leases with fencing, and rate-limit buckets shared by instances.

#![allow(clippy::unwrap_used)]

use hookmesh_test_support::redis as redis_server;

use hookmesh::store::embedded::EmbeddedStore;
use hookmesh::store::redis::{RedisOptions, RedisStore};
use hookmesh::store::*;
use redis_server::RedisServer;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "hookmesh-conformance-{name}-{}",
        std::process::id()
    ));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn event(id: &str) -> Event {
    Event {
        id: id.into(),
        project_id: "p".into(),
        event_type: "user.created".into(),
        resource: None,
        resource_id: None,
        payload: format!(r#"{{"id":"{id}"}}"#).into_bytes(),
        time_created_ms: 1,
        source: None,
    }
}

fn new_event(id: &str, endpoints: &[&str], key: Option<(&str, u64)>) -> NewEvent {
    NewEvent {
        event: event(id),
        deliveries: endpoints
            .iter()
            .map(|e| (e.to_string(), format!("dlv_{id}_{e}")))
            .collect(),
        idempotency: key.map(|(k, exp)| (k.to_string(), exp)),
    }
}

fn attempt(delivery_id: &str, number: u32, outcome: AttemptOutcome) -> Attempt {
    Attempt {
        delivery_id: delivery_id.into(),
        number,
        started_ms: 100,
        duration_ms: 7,
        status_code: Some(if outcome == AttemptOutcome::Success {
            200
        } else {
            503
        }),
        response_excerpt: "ok".into(),
        error: None,
        outcome,
        requests: Vec::new(),
        response_headers: Vec::new(),
    }
}

/// A finished test send of a new event `event_id` to `endpoint_id`.
fn test_record(event_id: &str, project_id: &str, endpoint_id: &str, ok: bool) -> TestRecord {
    let delivery_id = format!("dlv_{event_id}_{endpoint_id}");
    let outcome = if ok {
        AttemptOutcome::Success
    } else {
        AttemptOutcome::Failed
    };
    let mut delivery = Delivery::queued(&delivery_id, event_id, endpoint_id, 0, 50);
    delivery.test = true;
    let attempt = attempt(&delivery_id, 1, outcome);
    let change = if ok {
        DeliveryChange::Ack
    } else {
        DeliveryChange::DeadLetter {
            reason: "not accepted: HTTP 503".into(),
        }
    };
    delivery.apply(&attempt, &change);
    TestRecord {
        event: Event {
            project_id: project_id.into(),
            ..event(event_id)
        },
        delivery,
        attempt,
    }
}

fn endpoint_record(id: &str, provider: &str, created_ms: u64) -> Endpoint {
    Endpoint {
        id: id.into(),
        project_id: "p".into(),
        url: "https://x.example".into(),
        description: String::new(),
        events: vec!["*".into()],
        active: true,
        disabled_reason: None,
        ordered: true,
        provider: provider.into(),
        config: Default::default(),
        secrets: vec![SealedSecret {
            sealed: vec![1, 2, 3],
            expires_ms: None,
        }],
        filter: Default::default(),
        rate_limit: None,
        failing_since_ms: None,
        failure_alerted: false,
        created_ms,
        updated_ms: created_ms,
        declared: false,
    }
}

fn ids(deliveries: &[Delivery]) -> Vec<String> {
    deliveries.iter().map(|d| d.id.clone()).collect()
}

async fn fifo_per_endpoint(store: &dyn Backend) {
    store
        .ingest(
            vec![
                new_event("e1", &["a", "b"], None),
                new_event("e2", &["a"], None),
            ],
            10,
        )
        .await
        .unwrap();
    store
        .ingest(vec![new_event("e3", &["a", "b"], None)], 11)
        .await
        .unwrap();
    assert_eq!(
        ids(&store.queue_peek("a", 10).await.unwrap()),
        ["dlv_e1_a", "dlv_e2_a", "dlv_e3_a"]
    );
    assert_eq!(
        ids(&store.queue_peek("b", 10).await.unwrap()),
        ["dlv_e1_b", "dlv_e3_b"]
    );
    let mut with_work = store.endpoints_with_work().await.unwrap();
    with_work.sort();
    assert_eq!(with_work, ["a", "b"]);
    assert_eq!(
        store.event("e2").await.unwrap().unwrap().payload,
        br#"{"id":"e2"}"#
    );
    // Metrics sample each queue with its endpoint's class (`b` has no record).
    store
        .put_endpoint(&endpoint_record("a", "slack", 1))
        .await
        .unwrap();
    let mut queues = store.queue_stats().await.unwrap();
    queues.sort_by(|x, y| x.endpoint_id.cmp(&y.endpoint_id));
    let sample = |endpoint_id: &str, provider: &str, depth, oldest_ms| QueueSample {
        endpoint_id: endpoint_id.into(),
        provider: provider.into(),
        depth,
        oldest_ms: Some(oldest_ms),
    };
    assert_eq!(
        queues,
        [sample("a", "slack", 3, 10), sample("b", "", 2, 10)]
    );
}

/// Records an attempt and checks that the backend changed the delivery
/// exactly as [`Delivery::apply`] defines (for Redis: that its Lua script
/// agrees with the Rust definition).
async fn record_as_defined(
    store: &dyn Backend,
    endpoint_id: &str,
    attempt: &Attempt,
    change: DeliveryChange,
) -> Result<Delivery, StoreError> {
    let before = store
        .delivery(endpoint_id, &attempt.delivery_id)
        .await?
        .expect("the delivery exists");
    let after = store
        .record_attempt(endpoint_id, Arc::new(attempt.clone()), change.clone())
        .await?;
    let mut expected = before;
    expected.apply(attempt, &change);
    assert_eq!(after, expected, "recorded as Delivery::apply defines");
    assert_eq!(
        store
            .delivery(endpoint_id, &attempt.delivery_id)
            .await?
            .as_ref(),
        Some(&after),
        "and stored so"
    );
    Ok(after)
}

async fn ack_reschedule_and_dead_letter(store: &dyn Backend) {
    store
        .ingest(
            vec![
                new_event("e1", &["a"], None),
                new_event("e2", &["a"], None),
                new_event("e3", &["a"], None),
            ],
            10,
        )
        .await
        .unwrap();
    let d = record_as_defined(
        store,
        "a",
        &attempt("dlv_e1_a", 1, AttemptOutcome::Retry),
        DeliveryChange::Reschedule {
            next_attempt_ms: 500,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (d.status, d.attempts, d.next_attempt_ms),
        (DeliveryStatus::Pending, 1, 500)
    );
    let head = store.queue_head("a").await.unwrap().unwrap();
    assert_eq!(
        (head.id.as_str(), head.next_attempt_ms),
        ("dlv_e1_a", 500),
        "a rescheduled head stays the head"
    );
    record_as_defined(
        store,
        "a",
        &attempt("dlv_e1_a", 2, AttemptOutcome::Success),
        DeliveryChange::Ack,
    )
    .await
    .unwrap();
    record_as_defined(
        store,
        "a",
        &attempt("dlv_e2_a", 1, AttemptOutcome::Failed),
        DeliveryChange::DeadLetter {
            reason: "gave up".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(ids(&store.queue_peek("a", 10).await.unwrap()), ["dlv_e3_a"]);
    let done = store.delivery("a", "dlv_e1_a").await.unwrap().unwrap();
    assert_eq!((done.status, done.attempts), (DeliveryStatus::Succeeded, 2));
    let dead = store.delivery("a", "dlv_e2_a").await.unwrap().unwrap();
    assert_eq!(
        (dead.status, dead.last_error.as_deref()),
        (DeliveryStatus::Failed, Some("gave up"))
    );
    let log = store.attempts_of("a", "dlv_e1_a").await.unwrap();
    assert_eq!(log.iter().map(|a| a.number).collect::<Vec<_>>(), [1, 2]);
    let periods = store.endpoint_stats("a", 0).await.unwrap();
    // All three started at 100 ms: one period from 0 (a minute, or an hour
    // where the window is longer than the minutes a backend keeps).
    assert_eq!(periods.len(), 1, "{periods:?}");
    assert_eq!(periods[0].start_ms, 0);
    assert!([60_000, 3_600_000].contains(&periods[0].length_ms));
    let stats = &periods[0].stats;
    assert_eq!(
        (
            stats.attempts,
            stats.successes,
            stats.retries,
            stats.failures
        ),
        (3, 1, 1, 1)
    );
    assert!(store
        .record_attempt(
            "a",
            Arc::new(attempt("dlv_missing", 1, AttemptOutcome::Success)),
            DeliveryChange::Ack
        )
        .await
        .is_err());
}

async fn idempotency(store: &dyn Backend) {
    let first = store
        .ingest(vec![new_event("e1", &["a"], Some(("k", 1000)))], 10)
        .await
        .unwrap();
    let again = store
        .ingest(vec![new_event("e2", &["a"], Some(("k", 1000)))], 20)
        .await
        .unwrap();
    assert_eq!(
        first,
        [Ingested::Stored {
            event_id: "e1".into(),
            deliveries: 1
        }]
    );
    assert_eq!(
        again,
        [Ingested::Duplicate {
            event_id: "e1".into()
        }]
    );
    assert_eq!(
        store.queue_peek("a", 10).await.unwrap().len(),
        1,
        "a duplicate queues nothing"
    );
    let expired = store
        .ingest(vec![new_event("e3", &["a"], Some(("k", 5000)))], 2000)
        .await
        .unwrap();
    assert_eq!(
        expired,
        [Ingested::Stored {
            event_id: "e3".into(),
            deliveries: 1
        }],
        "an expired key is free again"
    );
    let same_batch = store
        .ingest(
            vec![
                new_event("e4", &["a"], Some(("j", 9000))),
                new_event("e5", &["a"], Some(("j", 9000))),
            ],
            30,
        )
        .await
        .unwrap();
    assert_eq!(
        same_batch[1],
        Ingested::Duplicate {
            event_id: "e4".into()
        }
    );
}

async fn replay_and_paging(store: &dyn Backend) {
    for i in 0..5 {
        store
            .ingest(vec![new_event(&format!("e{i}"), &["a"], None)], 10 + i)
            .await
            .unwrap();
    }
    store
        .record_attempt(
            "a",
            Arc::new(attempt("dlv_e0_a", 1, AttemptOutcome::Failed)),
            DeliveryChange::DeadLetter { reason: "x".into() },
        )
        .await
        .unwrap();
    let replay = store.requeue("e0", "a", "dlv_replay", 50).await.unwrap();
    assert_eq!(
        store.queue_peek("a", 10).await.unwrap().last().unwrap().id,
        "dlv_replay",
        "a replay joins the tail"
    );
    assert!(replay.seq > store.delivery("a", "dlv_e4_a").await.unwrap().unwrap().seq);
    assert!(matches!(
        store.requeue("nope", "a", "dlv_x", 50).await,
        Err(StoreError::NotFound { .. })
    ));

    let first = store
        .deliveries_of(
            "a",
            &DeliveryQuery {
                limit: 4,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&first.items),
        ["dlv_replay", "dlv_e4_a", "dlv_e3_a", "dlv_e2_a"],
        "newest first"
    );
    let second = store
        .deliveries_of(
            "a",
            &DeliveryQuery {
                limit: 4,
                before_seq: first.next_cursor,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&second.items), ["dlv_e1_a", "dlv_e0_a"]);
    assert_eq!(second.next_cursor, None);
    let failed = store
        .deliveries_of(
            "a",
            &DeliveryQuery {
                limit: 10,
                status: Some(DeliveryStatus::Failed),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&failed.items), ["dlv_e0_a"]);
}

/// A record whose answer was lost is sent again: it must change nothing
/// the second time (no second attempt, no second count, no undoing a
/// later change).
async fn a_retried_record_changes_nothing(store: &dyn Backend) {
    store
        .ingest(vec![new_event("e1", &["a"], None)], 10)
        .await
        .unwrap();
    let retry = attempt("dlv_e1_a", 1, AttemptOutcome::Retry);
    let later = DeliveryChange::Reschedule {
        next_attempt_ms: 500,
    };
    record_as_defined(store, "a", &retry, later.clone())
        .await
        .unwrap();
    let again = record_as_defined(store, "a", &retry, later).await.unwrap();
    assert_eq!((again.attempts, again.next_attempt_ms), (1, 500));
    record_as_defined(
        store,
        "a",
        &attempt("dlv_e1_a", 2, AttemptOutcome::Success),
        DeliveryChange::Ack,
    )
    .await
    .unwrap();
    let stale = record_as_defined(
        store,
        "a",
        &retry,
        DeliveryChange::Reschedule {
            next_attempt_ms: 900,
        },
    )
    .await
    .unwrap();
    assert_eq!(stale.status, DeliveryStatus::Succeeded, "not undone");
    assert_eq!(store.attempts_of("a", "dlv_e1_a").await.unwrap().len(), 2);
    let stats = store.endpoint_stats("a", 0).await.unwrap();
    let counted: u64 = stats.iter().map(|p| p.stats.attempts).sum();
    assert_eq!(counted, 2, "each attempt counted once");
    assert!(store.queue_head("a").await.unwrap().is_none());
}

/// An update applies to the endpoint as stored now, so a change written
/// in between (by the API, or health) is kept.
async fn updates_apply_to_the_stored_endpoint(store: &dyn Backend) {
    store
        .put_endpoint(&endpoint_record("ep1", "webhook", 1))
        .await
        .unwrap();
    let mut changed_meanwhile = store.endpoint("ep1").await.unwrap().unwrap();
    changed_meanwhile.description = "from the API".into();
    store.put_endpoint(&changed_meanwhile).await.unwrap();
    let updated = store
        .update_endpoint(
            "ep1",
            std::sync::Arc::new(|e: &mut Endpoint| e.failing_since_ms = Some(7)),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.description, "from the API");
    assert_eq!(updated.failing_since_ms, Some(7));
    assert_eq!(store.endpoint("ep1").await.unwrap(), Some(updated));
    let missing = store
        .update_endpoint(
            "nope",
            std::sync::Arc::new(|e: &mut Endpoint| e.active = false),
        )
        .await
        .unwrap();
    assert!(missing.is_none());
}

/// Project changes from several threads at once: none is lost (the API's
/// `PUT` and a type seen at ingestion may change one project together).
async fn project_updates_lose_nothing(store: &dyn Backend) {
    store
        .put_project(&Project::new("p".into(), "P".into(), 1))
        .await
        .unwrap();
    let writers = (0..4).map(|thread| async move {
        for n in 0..10 {
            let seen = format!("t{thread}.n{n}");
            let change: ProjectChange =
                std::sync::Arc::new(move |p: &mut Project| p.seen_event_types.push(seen.clone()));
            store.update_project("p", change).await.unwrap().unwrap();
        }
    });
    futures_util::future::join_all(writers).await;
    let project = store.project("p").await.unwrap().unwrap();
    assert_eq!(project.seen_event_types.len(), 40, "{project:?}");
    let strict: ProjectChange = std::sync::Arc::new(|p: &mut Project| p.strict_event_types = true);
    assert!(
        store
            .update_project("p", strict.clone())
            .await
            .unwrap()
            .unwrap()
            .strict_event_types
    );
    assert_eq!(store.update_project("nope", strict).await.unwrap(), None);
}

async fn catalog_records(store: &dyn Backend) {
    let project = Project {
        custom_event_types: vec![
            CustomEventType::named("order.paid"),
            CustomEventType {
                name: "user.signup".into(),
                description: Some("signed up".into()),
                schema: Some(r#"{"type":"object","required":["email"]}"#.into()),
            },
        ],
        strict_event_types: true,
        seen_event_types: vec!["lesson.completed".into()],
        ..Project::new("p".into(), "P".into(), 1)
    };
    store.put_project(&project).await.unwrap();
    assert_eq!(store.project("p").await.unwrap(), Some(project));
    let key = ApiKey {
        hash: "h".into(),
        project_id: "p".into(),
        kind: KeyKind::Publishable,
        prefix: "hm_pk_".into(),
        created_ms: 1,
        label: Some("mobile".into()),
        expires_ms: None,
        origin: KeyOrigin::Api,
        last_used_ms: None,
        portal: None,
    };
    store.put_api_key(&key).await.unwrap();
    assert_eq!(store.api_key("h").await.unwrap(), Some(key.clone()));
    api_key_lifecycle(store, key).await;
    let endpoint = |id: &str, created_ms| endpoint_record(id, "webhook", created_ms);
    let version =
        |project: &'static str| async move { store.routes_version(project).await.unwrap() };
    let (before, elsewhere) = (version("p").await, version("q").await);
    store.put_endpoint(&endpoint("ep2", 2)).await.unwrap();
    let after_one = version("p").await;
    assert!(after_one > before, "creating an endpoint moves the version");
    store.put_endpoint(&endpoint("ep1", 1)).await.unwrap();
    assert!(version("p").await > after_one);
    assert_eq!(
        store
            .endpoints_of("p")
            .await
            .unwrap()
            .iter()
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>(),
        ["ep1", "ep2"]
    );
    store
        .ingest(vec![new_event("e1", &["ep1"], None)], 5)
        .await
        .unwrap();
    let before_update = version("p").await;
    store
        .update_endpoint(
            "ep2",
            std::sync::Arc::new(|e: &mut Endpoint| e.active = false),
        )
        .await
        .unwrap();
    assert!(
        version("p").await > before_update,
        "a change moves the version"
    );
    let before_delete = version("p").await;
    assert!(store.delete_endpoint("ep1").await.unwrap());
    assert!(!store.delete_endpoint("ep1").await.unwrap());
    assert!(
        version("p").await > before_delete,
        "a deletion moves the version"
    );
    assert_eq!(version("q").await, elsewhere, "versions are per project");
    assert_eq!(
        store.endpoints_of("p").await.unwrap().len(),
        1,
        "the deletion is visible"
    );
    assert!(store.queue_head("ep1").await.unwrap().is_none());
    assert_eq!(
        store
            .delivery("ep1", "dlv_e1_ep1")
            .await
            .unwrap()
            .unwrap()
            .status,
        DeliveryStatus::Failed
    );
    let settings = ProviderSettings {
        project_id: "p".into(),
        provider: "slack".into(),
        enabled: false,
        config: [("channel".to_string(), "#ops".to_string())].into(),
        secrets: Default::default(),
        updated_ms: 1,
        declared: true,
    };
    store.put_provider_settings(&settings).await.unwrap();
    assert_eq!(
        store.provider_settings("p", "slack").await.unwrap(),
        Some(settings.clone())
    );
    let instance = ProviderSettings {
        provider: "hmac.uptime".into(),
        ..settings.clone()
    };
    store.put_provider_settings(&instance).await.unwrap();
    store.put_provider_settings(&instance).await.unwrap();
    let elsewhere = ProviderSettings {
        project_id: "q".into(),
        ..settings.clone()
    };
    store.put_provider_settings(&elsewhere).await.unwrap();
    assert_eq!(
        store.provider_settings_of("p").await.unwrap(),
        [instance, settings],
        "every configured provider of the project, by name, once"
    );
}

/// The event log's indexes: a project's event ids newest first within
/// bounds, and every delivery of an event (replays too), oldest first.
async fn event_log_indexes(store: &dyn Backend) {
    for (i, id) in ["evt_x1", "evt_x2", "evt_x3"].iter().enumerate() {
        store
            .ingest(vec![new_event(id, &["a", "b"][..i.min(2)], None)], 10)
            .await
            .unwrap();
    }
    let ids = |before: Option<&'static str>, from: Option<&'static str>, limit| async move {
        store
            .project_events("p", before, from, limit)
            .await
            .unwrap()
    };
    assert_eq!(ids(None, None, 10).await, ["evt_x3", "evt_x2", "evt_x1"]);
    assert_eq!(ids(None, None, 2).await, ["evt_x3", "evt_x2"]);
    assert_eq!(ids(Some("evt_x3"), None, 10).await, ["evt_x2", "evt_x1"]);
    assert_eq!(ids(None, Some("evt_x2"), 10).await, ["evt_x3", "evt_x2"]);
    assert_eq!(ids(Some("evt_x3"), Some("evt_x2"), 10).await, ["evt_x2"]);
    assert!(store
        .project_events("q", None, None, 10)
        .await
        .unwrap()
        .is_empty());
    store
        .requeue("evt_x2", "a", "dlv_x2_replay", 20)
        .await
        .unwrap();
    let found = store
        .deliveries_of_events(&["evt_x1", "evt_x3", "evt_x2", "evt_none"])
        .await
        .unwrap();
    let ids: Vec<Vec<&str>> = found
        .iter()
        .map(|ds| ds.iter().map(|d| d.id.as_str()).collect())
        .collect();
    assert_eq!(
        ids,
        [
            vec![],
            vec!["dlv_evt_x3_a", "dlv_evt_x3_b"],
            vec!["dlv_evt_x2_a", "dlv_x2_replay"],
            vec![],
        ]
    );
    assert_eq!(found[1][1].endpoint_id, "b");
    let duplicate = new_event("evt_x4", &["a"], Some(("k", u64::MAX)));
    store.ingest(vec![duplicate], 30).await.unwrap();
    let again = new_event("evt_x5", &["a"], Some(("k", u64::MAX)));
    store.ingest(vec![again], 31).await.unwrap();
    assert_eq!(
        store.project_events("p", None, None, 10).await.unwrap(),
        ["evt_x4", "evt_x3", "evt_x2", "evt_x1"],
        "a duplicate is not logged"
    );
}

/// Stores project `project_id` with a key, endpoint `endpoint_id` and a
/// provider setting, and ingests `events` (one delivery each, the first
/// acknowledged, the rest queued; each with an idempotency key).
async fn populated(store: &dyn Backend, project_id: &str, endpoint_id: &str, events: &[&str]) {
    store
        .put_project(&Project::new(project_id.into(), "P".into(), 1))
        .await
        .unwrap();
    store
        .put_api_key(&ApiKey {
            hash: format!("hash_{project_id}"),
            project_id: project_id.into(),
            kind: KeyKind::Secret,
            prefix: "hm_sk_".into(),
            created_ms: 1,
            label: None,
            expires_ms: None,
            origin: KeyOrigin::Api,
            last_used_ms: None,
            portal: None,
        })
        .await
        .unwrap();
    let used = store.api_keys_of(project_id).await.unwrap();
    store.touch_api_key(&used[0], 2).await.unwrap();
    let endpoint = Endpoint {
        project_id: project_id.into(),
        declared: true,
        ..endpoint_record(endpoint_id, "webhook", 1)
    };
    store.put_endpoint(&endpoint).await.unwrap();
    store
        .put_provider_settings(&ProviderSettings {
            project_id: project_id.into(),
            provider: "slack".into(),
            enabled: true,
            config: Default::default(),
            secrets: [("bot_token".to_string(), vec![9u8; 4])].into(),
            updated_ms: 1,
            declared: true,
        })
        .await
        .unwrap();
    for id in events {
        let mut item = new_event(id, &[endpoint_id], Some((id, u64::MAX)));
        item.event.project_id = project_id.into();
        store.ingest(vec![item], 10).await.unwrap();
    }
    let first = format!("dlv_{}_{endpoint_id}", events[0]);
    record_as_defined(
        store,
        endpoint_id,
        &attempt(&first, 1, AttemptOutcome::Success),
        DeliveryChange::Ack,
    )
    .await
    .unwrap();
    let test = test_record(
        &format!("{}_test", events[0]),
        project_id,
        endpoint_id,
        true,
    );
    store.record_test(&test).await.unwrap();
}

/// A test send is stored finished: in the endpoint's history after the
/// deliveries before it, never in its queue, with its attempt, its event
/// in the project's log; no statistics.
async fn test_records(store: &dyn Backend) {
    store
        .put_endpoint(&endpoint_record("ep_t", "webhook", 1))
        .await
        .unwrap();
    store
        .ingest(vec![new_event("evt_t1", &["ep_t"], None)], 10)
        .await
        .unwrap();
    let failed = store
        .record_test(&test_record("evt_t2", "p", "ep_t", false))
        .await
        .unwrap();
    let queued = store.queue_peek("ep_t", 10).await.unwrap();
    assert_eq!(ids(&queued), ["dlv_evt_t1_ep_t"], "a test is never queued");
    assert!(
        failed.seq > queued[0].seq,
        "it takes the next sequence number"
    );
    assert_eq!(
        (failed.status, failed.test, failed.attempts),
        (DeliveryStatus::Failed, true, 1)
    );
    let stored = store.delivery("ep_t", "dlv_evt_t2_ep_t").await.unwrap();
    assert_eq!(stored.as_ref(), Some(&failed));
    let history = store
        .deliveries_of(
            "ep_t",
            &DeliveryQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&history.items), ["dlv_evt_t2_ep_t", "dlv_evt_t1_ep_t"]);
    assert!(history.items[0].test && !history.items[1].test);
    let failed_only = store
        .deliveries_of(
            "ep_t",
            &DeliveryQuery {
                status: Some(DeliveryStatus::Failed),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&failed_only.items), ["dlv_evt_t2_ep_t"]);
    let attempts = store.attempts_of("ep_t", "dlv_evt_t2_ep_t").await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, AttemptOutcome::Failed);
    assert!(store.event("evt_t2").await.unwrap().is_some());
    assert_eq!(
        store.project_events("p", None, None, 10).await.unwrap(),
        ["evt_t2", "evt_t1"]
    );
    assert_eq!(
        ids(&store.deliveries_of_events(&["evt_t2"]).await.unwrap()[0]),
        ["dlv_evt_t2_ep_t"]
    );
    assert!(
        store.endpoint_stats("ep_t", 0).await.unwrap().is_empty(),
        "tests are not counted"
    );
}

/// Deleting a project removes everything it owns and nothing of another
/// project; deleting provider settings removes one provider.
async fn project_deletion_frees_what_it_owned(store: &dyn Backend) {
    populated(store, "gone", "ep_gone", &["evt_g1", "evt_g2"]).await;
    populated(store, "kept", "ep_kept", &["evt_k1", "evt_k2"]).await;
    store
        .requeue("evt_g1", "ep_gone", "dlv_g1_replay", 20)
        .await
        .unwrap();
    assert!(store.delete_project("gone").await.unwrap());
    assert_eq!(store.project("gone").await.unwrap(), None);
    assert_eq!(store.api_key("hash_gone").await.unwrap(), None, "its keys");
    assert_eq!(store.endpoint("ep_gone").await.unwrap(), None);
    assert!(store.endpoints_of("gone").await.unwrap().is_empty());
    assert!(store.queue_peek("ep_gone", 10).await.unwrap().is_empty());
    assert!(!store
        .endpoints_with_work()
        .await
        .unwrap()
        .contains(&"ep_gone".to_string()));
    assert_eq!(store.event("evt_g1").await.unwrap(), None, "its events");
    assert_eq!(
        store
            .deliveries_of_events(&["evt_g1", "evt_g2"])
            .await
            .unwrap(),
        [vec![], vec![]]
    );
    assert_eq!(
        store
            .delivery("ep_gone", "dlv_evt_g1_ep_gone")
            .await
            .unwrap(),
        None
    );
    assert!(store
        .attempts_of("ep_gone", "dlv_evt_g1_ep_gone")
        .await
        .unwrap()
        .is_empty());
    let history = store
        .deliveries_of(
            "ep_gone",
            &DeliveryQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(history.items.is_empty(), "its delivery history");
    assert!(store.endpoint_stats("ep_gone", 0).await.unwrap().is_empty());
    assert!(store
        .project_events("gone", None, None, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(store.provider_settings_of("gone").await.unwrap().is_empty());
    assert!(!store
        .projects()
        .await
        .unwrap()
        .iter()
        .any(|p| p.id == "gone"));
    assert!(!store.delete_project("gone").await.unwrap(), "deleted once");

    assert!(
        store.project("kept").await.unwrap().is_some(),
        "the other project stays"
    );
    assert!(store.api_key("hash_kept").await.unwrap().is_some());
    assert_eq!(
        ids(&store.queue_peek("ep_kept", 10).await.unwrap()),
        ["dlv_evt_k2_ep_kept"]
    );
    assert!(store.event("evt_k1").await.unwrap().is_some());
    assert_eq!(store.provider_settings_of("kept").await.unwrap().len(), 1);

    assert!(store
        .delete_provider_settings("kept", "slack")
        .await
        .unwrap());
    assert!(!store
        .delete_provider_settings("kept", "slack")
        .await
        .unwrap());
    assert_eq!(
        store.provider_settings("kept", "slack").await.unwrap(),
        None
    );
    assert!(store.provider_settings_of("kept").await.unwrap().is_empty());
}

async fn survives_restart(open: &dyn Fn(&Path) -> Box<dyn Backend>, dir: &Path) {
    {
        let store = open(dir);
        store
            .ingest(
                vec![new_event("e1", &["a"], None), new_event("e2", &["a"], None)],
                10,
            )
            .await
            .unwrap();
        store
            .record_attempt(
                "a",
                Arc::new(attempt("dlv_e1_a", 1, AttemptOutcome::Success)),
                DeliveryChange::Ack,
            )
            .await
            .unwrap();
        store.flush().await.unwrap();
    }
    let store = open(dir);
    assert_eq!(ids(&store.queue_peek("a", 10).await.unwrap()), ["dlv_e2_a"]);
    assert_eq!(store.endpoints_with_work().await.unwrap(), ["a"]);
    assert_eq!(
        store
            .delivery("a", "dlv_e1_a")
            .await
            .unwrap()
            .unwrap()
            .status,
        DeliveryStatus::Succeeded
    );
}

/// Writes from many tasks at once answer as one at a time do: every
/// event stored once (an idempotency key used twice stores one), queued in
/// one order, acknowledged.
async fn async_writes(store: std::sync::Arc<dyn Backend>) {
    let ingestions = (0..40).map(|i| {
        let key = (i >= 38).then_some(("twice", u64::MAX));
        let batch = vec![new_event(&format!("e{i:02}"), &["a"], key)];
        let store = std::sync::Arc::clone(&store);
        tokio::spawn(async move { store.ingest(batch, 10).await })
    });
    let mut stored = 0;
    let mut duplicates = 0;
    for task in ingestions.collect::<Vec<_>>() {
        match task.await.unwrap().unwrap().as_slice() {
            [Ingested::Stored { deliveries: 1, .. }] => stored += 1,
            [Ingested::Duplicate { .. }] => duplicates += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!((stored, duplicates), (39, 1));
    let queued = store.queue_peek("a", 100).await.unwrap();
    assert_eq!(queued.len(), 39);
    assert!(queued.windows(2).all(|w| w[0].seq < w[1].seq));
    let acks = queued.iter().map(|d| {
        let ack = attempt(&d.id, 1, AttemptOutcome::Success);
        let store = std::sync::Arc::clone(&store);
        async move {
            store
                .record_attempt("a", Arc::new(ack), DeliveryChange::Ack)
                .await
        }
    });
    for delivery in futures_util::future::join_all(acks).await {
        assert_eq!(delivery.unwrap().status, DeliveryStatus::Succeeded);
    }
    assert!(store.queue_peek("a", 100).await.unwrap().is_empty());
    assert_eq!(
        store.attempts_of("a", &queued[7].id).await.unwrap().len(),
        1
    );
}

/// A work window through [`Store`]: events ingested through it come from
/// memory, the others from the backend, and an event queued twice for one
/// endpoint (a replay) is in both slots; a new `Store` (nothing in memory)
/// reads the same window from the backend.
async fn work_windows_take_events_from_memory_or_the_store(backend: std::sync::Arc<dyn Backend>) {
    backend
        .put_endpoint(&endpoint_record("a", "webhook", 1))
        .await
        .unwrap();
    let store = Store::new(std::sync::Arc::clone(&backend));
    let admitted = store
        .admit_and_ingest(None, vec![new_event("e1", &["a"], None)], 10)
        .await
        .unwrap();
    assert!(matches!(admitted, Admission::Stored(..)));
    backend
        .ingest(vec![new_event("e2", &["a"], None)], 11)
        .await
        .unwrap();
    backend.requeue("e1", "a", "dlv_again", 12).await.unwrap();
    for store in [store, Store::new(backend)] {
        let window = store.work_window("a", 10, |w| w).await.unwrap().unwrap();
        let slots: Vec<(&str, Option<&Event>)> = window
            .queued
            .iter()
            .map(|(d, e)| (d.id.as_str(), e.as_ref()))
            .collect();
        assert_eq!(
            slots,
            [
                ("dlv_e1_a", Some(&event("e1"))),
                ("dlv_e2_a", Some(&event("e2"))),
                ("dlv_again", Some(&event("e1"))),
            ]
        );
    }
}

macro_rules! conformance {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;

            fn fresh(test: &str) -> Box<dyn Backend> {
                let open: &dyn Fn(&Path) -> Box<dyn Backend> = &$open;
                open(&scratch(&format!("{}-{test}", stringify!($backend))))
            }

            #[tokio::test]
            async fn fifo_per_endpoint() {
                super::fifo_per_endpoint(fresh("fifo").as_ref()).await;
            }

            #[tokio::test]
            async fn ack_reschedule_and_dead_letter() {
                super::ack_reschedule_and_dead_letter(fresh("ack").as_ref()).await;
            }

            #[tokio::test]
            async fn a_retried_record_changes_nothing() {
                super::a_retried_record_changes_nothing(fresh("retried").as_ref()).await;
            }

            #[tokio::test]
            async fn updates_apply_to_the_stored_endpoint() {
                super::updates_apply_to_the_stored_endpoint(fresh("update").as_ref()).await;
            }

            #[tokio::test]
            async fn idempotency() {
                super::idempotency(fresh("idem").as_ref()).await;
            }

            #[tokio::test]
            async fn replay_and_paging() {
                super::replay_and_paging(fresh("replay").as_ref()).await;
            }

            #[tokio::test]
            async fn event_log_indexes() {
                super::event_log_indexes(fresh("event-log").as_ref()).await;
            }

            #[tokio::test]
            async fn test_records() {
                super::test_records(fresh("test-records").as_ref()).await;
            }

            #[tokio::test]
            async fn project_updates_lose_nothing() {
                super::project_updates_lose_nothing(fresh("project-updates").as_ref()).await;
            }

            #[tokio::test]
            async fn project_deletion_frees_what_it_owned() {
                super::project_deletion_frees_what_it_owned(fresh("project-delete").as_ref()).await;
            }

            #[tokio::test]
            async fn catalog_records() {
                super::catalog_records(fresh("catalog").as_ref()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn async_writes() {
                super::async_writes(std::sync::Arc::from(fresh("async"))).await;
            }

            #[tokio::test]
            async fn work_windows_take_events_from_memory_or_the_store() {
                super::work_windows_take_events_from_memory_or_the_store(std::sync::Arc::from(
                    fresh("windows"),
                ))
                .await;
            }

            #[tokio::test]
            async fn survives_restart() {
                let dir = scratch(&format!("{}-restart", stringify!($backend)));
                super::survives_restart(&$open, &dir).await;
            }
        }
    };
}

conformance!(embedded, |dir: &Path| -> Box<dyn Backend> {
    Box::new(InProcess::new(
        EmbeddedStore::open(&dir.join("store.redb")).unwrap(),
    ))
});

/// One server for the whole test binary; tests keep apart by key prefix.
fn shared_redis() -> &'static RedisServer {
    static SERVER: OnceLock<RedisServer> = OnceLock::new();
    SERVER.get_or_init(|| RedisServer::start("conformance"))
}

fn redis_store(prefix: &str, lease_ttl: Duration) -> RedisStore {
    RedisStore::open(RedisOptions {
        urls: vec![shared_redis().url()],
        cluster: false,
        prefix: prefix.to_string(),
        lease_ttl,
        retention: Duration::from_secs(3600),
    })
    .unwrap()
}

conformance!(redis, |dir: &Path| -> Box<dyn Backend> {
    let name = dir.file_name().unwrap().to_string_lossy().replace('-', "_");
    Box::new(redis_store(&name, Duration::from_secs(5)))
});

mod redis_shared {
    use super::*;

    /// After a project is deleted no key of it, of its endpoints or of its
    /// events is left in Redis, but for its idempotency reservations
    /// (listed nowhere; they expire on their TTL) and its routing version
    /// (one counter, kept so a project made again under the id never meets
    /// a routing cache of the old one).
    #[tokio::test]
    async fn a_deleted_project_leaves_no_keys() {
        let store = redis_store("freed", Duration::from_secs(5));
        populated(&store, "gone", "ep_gone", &["evt_g1", "evt_g2"]).await;
        populated(&store, "kept", "ep_kept", &["evt_k1"]).await;
        let keys = || shared_redis().command(&["KEYS", "freed:*"]);
        assert!(keys().contains("{ep:ep_gone}:r:"), "populated: {}", keys());
        assert!(store.delete_project("gone").await.unwrap());
        let left: Vec<String> = keys()
            .lines()
            .filter(|k| k.contains("gone") || k.contains("evt_g"))
            .filter(|k| !k.contains("{p:gone}:idem:") && !k.ends_with("{p:gone}:ver"))
            .map(str::to_string)
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        assert!(
            keys().contains("{ep:ep_kept}:r:"),
            "the other project keeps its keys"
        );
    }

    /// `SCRIPT FLUSH` every 5 ms while 8 tasks ingest fan-outs and
    /// the deliveries are acknowledged: every call that meets `NOSCRIPT`
    /// loads the scripts and goes on, and nothing is lost or doubled — each
    /// endpoint's queue holds every event once, in order, and every
    /// acknowledgement lands.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn scripts_flushed_mid_load_lose_and_duplicate_nothing() {
        let server = std::sync::Arc::new(RedisServer::start("noscript"));
        let store = std::sync::Arc::new(
            RedisStore::open(RedisOptions {
                urls: vec![server.url()],
                cluster: false,
                prefix: "noscript".into(),
                lease_ttl: Duration::from_secs(5),
                retention: Duration::from_secs(3600),
            })
            .unwrap(),
        );
        let flushing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flusher = {
            let (server, flushing) = (
                std::sync::Arc::clone(&server),
                std::sync::Arc::clone(&flushing),
            );
            std::thread::spawn(move || {
                let mut flushes = 0;
                while flushing.load(std::sync::atomic::Ordering::Relaxed) {
                    assert_eq!(server.command(&["SCRIPT", "FLUSH"]), "OK");
                    flushes += 1;
                    std::thread::sleep(Duration::from_millis(5));
                }
                flushes
            })
        };
        let writers = (0..8).map(|writer| {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move {
                for n in 0..25 {
                    let id = format!("evt_w{writer}_{n:02}");
                    let key = Some((id.as_str(), u64::MAX));
                    store
                        .ingest(vec![new_event(&id, &["a", "b"], key)], 10)
                        .await
                        .unwrap();
                }
            })
        });
        for writer in writers.collect::<Vec<_>>() {
            writer.await.unwrap();
        }
        for endpoint in ["a", "b"] {
            let queued = store.queue_peek(endpoint, 1_000).await.unwrap();
            assert_eq!(queued.len(), 200, "every event queued once on {endpoint}");
            let mut events: Vec<&str> = queued.iter().map(|d| d.event_id.as_str()).collect();
            for writer in 0..8 {
                let own: Vec<&&str> = events
                    .iter()
                    .filter(|e| e.starts_with(&format!("evt_w{writer}_")))
                    .collect();
                assert!(
                    own.windows(2).all(|w| w[0] < w[1]),
                    "one writer's events in order"
                );
            }
            events.sort_unstable();
            events.dedup();
            assert_eq!(events.len(), 200, "no event twice on {endpoint}");
            assert!(store.claim(endpoint).await.unwrap());
            for delivery in &queued {
                let ack = attempt(&delivery.id, 1, AttemptOutcome::Success);
                let recorded = store
                    .record_attempt(endpoint, Arc::new(ack), DeliveryChange::Ack)
                    .await
                    .unwrap();
                assert_eq!(recorded.status, DeliveryStatus::Succeeded);
            }
            assert!(store.queue_peek(endpoint, 10).await.unwrap().is_empty());
        }
        flushing.store(false, std::sync::atomic::Ordering::Relaxed);
        let flushes = flusher.join().unwrap();
        assert!(
            flushes > 10,
            "the scripts were flushed under load ({flushes} times)"
        );
        assert_eq!(
            server.command(&["ZCARD", "noscript:pending"]),
            "0",
            "no ingestion left half-way"
        );
    }

    #[tokio::test]
    async fn one_instance_holds_an_endpoint_and_a_lost_lease_cannot_acknowledge() {
        let ttl = Duration::from_millis(600);
        let a = redis_store("lease_fence", ttl);
        let b = redis_store("lease_fence", ttl);
        a.ingest(
            vec![
                new_event("e1", &["ep"], None),
                new_event("e2", &["ep"], None),
            ],
            10,
        )
        .await
        .unwrap();
        assert!(a.claim("ep").await.unwrap());
        assert!(!b.claim("ep").await.unwrap(), "held by a");
        assert!(a.claim("ep").await.unwrap(), "a keeps it");
        tokio::time::sleep(ttl * 2).await;
        assert!(!b.claim("ep").await.unwrap(), "a renews while alive");
        a.record_attempt(
            "ep",
            Arc::new(attempt("dlv_e1_ep", 1, AttemptOutcome::Success)),
            DeliveryChange::Ack,
        )
        .await
        .unwrap();

        // a loses the lease behind its back (as if paused past the TTL):
        // b takes over, and a's acknowledgement is refused.
        shared_redis().command(&["DEL", "lease_fence:{ep:ep}:lease"]);
        assert!(b.claim("ep").await.unwrap());
        let refused = a
            .record_attempt(
                "ep",
                Arc::new(attempt("dlv_e2_ep", 1, AttemptOutcome::Success)),
                DeliveryChange::Ack,
            )
            .await;
        assert!(
            matches!(refused, Err(StoreError::LeaseLost(_))),
            "{refused:?}"
        );
        assert!(!a.claim("ep").await.unwrap(), "a must not deliver any more");
        assert_eq!(
            ids(&b.queue_peek("ep", 10).await.unwrap()),
            ["dlv_e2_ep"],
            "nothing acked by a"
        );
        b.record_attempt(
            "ep",
            Arc::new(attempt("dlv_e2_ep", 1, AttemptOutcome::Success)),
            DeliveryChange::Ack,
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_dead_instances_endpoints_become_unowned_after_the_ttl() {
        let ttl = Duration::from_millis(600);
        let b = redis_store("lease_dead", ttl);
        {
            let a = redis_store("lease_dead", ttl);
            a.ingest(vec![new_event("e1", &["ep"], None)], 10)
                .await
                .unwrap();
            assert!(a.claim("ep").await.unwrap());
            assert!(b.unowned_work().await.unwrap().is_empty(), "a holds it");
        } // a dies: nobody renews its lease
        tokio::time::sleep(ttl + Duration::from_millis(400)).await;
        assert_eq!(b.unowned_work().await.unwrap(), ["ep"]);
        assert!(b.claim("ep").await.unwrap());
    }

    #[tokio::test]
    async fn a_stopping_instance_hands_its_endpoints_over_at_once() {
        let ttl = Duration::from_secs(30);
        let a = redis_store("lease_handover", ttl);
        let b = redis_store("lease_handover", ttl);
        a.ingest(vec![new_event("e1", &["ep"], None)], 10)
            .await
            .unwrap();
        assert!(a.claim("ep").await.unwrap());
        assert!(!b.claim("ep").await.unwrap());
        a.release_all().await.unwrap();
        assert_eq!(
            b.unowned_work().await.unwrap(),
            ["ep"],
            "no wait for the 30 s TTL"
        );
        assert!(b.claim("ep").await.unwrap());
        assert!(!a.claim("ep").await.unwrap());
    }

    #[tokio::test]
    async fn release_keeps_the_lease_while_work_is_queued() {
        let ttl = Duration::from_secs(5);
        let a = redis_store("lease_release", ttl);
        let b = redis_store("lease_release", ttl);
        a.ingest(vec![new_event("e1", &["ep"], None)], 10)
            .await
            .unwrap();
        assert!(a.claim("ep").await.unwrap());
        assert!(!a.release("ep").await.unwrap(), "work is queued");
        a.record_attempt(
            "ep",
            Arc::new(attempt("dlv_e1_ep", 1, AttemptOutcome::Success)),
            DeliveryChange::Ack,
        )
        .await
        .unwrap();
        assert!(a.release("ep").await.unwrap());
        assert!(b.claim("ep").await.unwrap(), "released: anyone may take it");
    }

    #[tokio::test]
    async fn rate_limit_buckets_are_shared_by_instances() {
        let a = redis_store("buckets", Duration::from_secs(5));
        let b = redis_store("buckets", Duration::from_secs(5));
        let rate = Rate::parse("5/s").unwrap();
        let bucket = Bucket::Endpoint("ep".into());
        let mut granted = 0;
        for i in 0..10 {
            let store = if i % 2 == 0 { &a } else { &b };
            let quota = store.take_tokens(&bucket, rate, 1).await.unwrap();
            assert_eq!(quota.limit, 5, "the bucket's size");
            if quota.result().is_ok() {
                granted += 1;
                assert!(quota.remaining <= 5 - granted, "{quota:?} after {granted}");
            }
        }
        assert_eq!(granted, 5, "one burst between both instances");
        let refused = a.take_tokens(&bucket, rate, 1).await.unwrap();
        let wait = refused.result().unwrap_err();
        assert!(wait <= Duration::from_millis(200), "{wait:?}");
        assert_eq!(refused.remaining, 0);
        assert!(refused.reset <= Duration::from_secs(1), "{refused:?}");
        tokio::time::sleep(wait).await;
        assert!(b
            .take_tokens(&bucket, rate, 1)
            .await
            .unwrap()
            .result()
            .is_ok());
    }
}

/// Listing, last use, expiry and revocation of keys; a revoked key is
/// never brought back by a late expiry or use.
async fn api_key_lifecycle(store: &dyn Backend, key: ApiKey) {
    let other = ApiKey {
        hash: "h2".into(),
        project_id: "q".into(),
        ..key.clone()
    };
    store.put_api_key(&other).await.unwrap();
    let listed = store.api_keys_of("p").await.unwrap();
    assert_eq!(listed, vec![key.clone()], "only the project's keys");
    store.touch_api_key(&key, 50).await.unwrap();
    assert!(store.expire_api_key(&key, 90).await.unwrap());
    let listed = store.api_keys_of("p").await.unwrap();
    assert_eq!(
        (listed[0].last_used_ms, listed[0].expires_ms),
        (Some(50), Some(90))
    );
    assert!(store.delete_api_key(&key).await.unwrap());
    assert!(!store.delete_api_key(&key).await.unwrap());
    assert!(!store.expire_api_key(&key, 99).await.unwrap());
    store.touch_api_key(&key, 60).await.unwrap();
    assert_eq!(store.api_key("h").await.unwrap(), None, "stays revoked");
    assert!(store.api_keys_of("p").await.unwrap().is_empty());
    assert_eq!(store.api_keys_of("q").await.unwrap().len(), 1);
}
