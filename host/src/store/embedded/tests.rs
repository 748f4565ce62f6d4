//! Tests of the embedded store's own mechanics (group commit, flushing).
use super::*;

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hookmesh-store-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    dir.join("store.redb")
}

fn new_event(project: &str, id: &str, endpoint: &str, key: Option<&str>) -> NewEvent {
    NewEvent {
        event: Event {
            id: id.into(),
            project_id: project.into(),
            event_type: "user.created".into(),
            resource: None,
            resource_id: None,
            payload: b"{}".to_vec(),
            time_created_ms: 1,
            source: None,
        },
        deliveries: vec![(endpoint.into(), format!("dlv_{id}"))],
        idempotency: key.map(|k| (k.to_string(), u64::MAX)),
    }
}

#[test]
fn concurrent_ingestion_is_group_committed_in_a_total_order() {
    let store = Arc::new(EmbeddedStore::open(&temp_path("group")).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..50 {
                    let id = format!("evt_{t}_{i}");
                    let key = (i % 10 == 0).then(|| "same-key".to_string());
                    store
                        .ingest(vec![new_event("p", &id, "ep", key.as_deref())], 1)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let queued = store.queue_peek("ep", 1000).unwrap();
    // 8 × 50 events, of which 40 used one idempotency key: 1 of those stored.
    assert_eq!(queued.len(), 8 * 45 + 1);
    let seqs: Vec<u64> = queued.iter().map(|d| d.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "queue is in sequence order"
    );
    for t in 0..8 {
        let mine: Vec<u64> = queued
            .iter()
            .filter(|d| d.event_id.starts_with(&format!("evt_{t}_")))
            .map(|d| d.event_id.rsplit('_').next().unwrap().parse().unwrap())
            .collect();
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "each caller's events keep their order"
        );
    }
}

#[test]
fn lazily_committed_attempts_survive_a_flush_and_reopen() {
    let path = temp_path("flush");
    {
        let store = EmbeddedStore::open(&path).unwrap();
        store
            .ingest(vec![new_event("p", "evt_1", "ep", None)], 1)
            .unwrap();
        let attempt = Attempt::bare("dlv_evt_1", 1, 2, Some(200), AttemptOutcome::Success);
        store
            .record_attempt("ep", &attempt, DeliveryChange::Ack)
            .unwrap();
        store.flush().unwrap();
    }
    let store = EmbeddedStore::open(&path).unwrap();
    assert_eq!(
        store.delivery("ep", "dlv_evt_1").unwrap().unwrap().status,
        DeliveryStatus::Succeeded
    );
    assert!(store.queue_head("ep").unwrap().is_none());
    assert_eq!(store.attempts_of("ep", "dlv_evt_1").unwrap().len(), 1);
}

#[test]
fn each_project_is_purged_at_its_own_retention() {
    let store = EmbeddedStore::open(&temp_path("own-retention")).unwrap();
    let brief = Project {
        retention: Some(Duration::from_secs(60)),
        ..Project::new("brief".into(), "Brief".into(), 1)
    };
    store.put_project(&brief).unwrap();
    store
        .put_project(&Project::new("kept".into(), "Kept".into(), 1))
        .unwrap();
    // Made ten minutes ago: past brief's minute, within the default hour.
    let then = crate::now_ms() - 600_000;
    let mut ids = Vec::new();
    for project in ["brief", "kept"] {
        let id = crate::signing::new_id_at("evt_", then);
        let mut event = new_event(project, &id, &format!("ep_{project}"), None);
        event.event.time_created_ms = then;
        event.deliveries.clear();
        store.ingest(vec![event], then).unwrap();
        ids.push(id);
    }
    // A pending delivery of brief's, as old: kept whatever its age.
    let pending = crate::signing::new_id_at("evt_", then);
    let mut event = new_event("brief", &pending, "ep_brief", None);
    event.event.time_created_ms = then;
    store.ingest(vec![event], then).unwrap();

    let purged = store.purge_now(Duration::from_secs(3600)).unwrap();
    assert_eq!(purged.events, 1, "{purged:?}");
    assert!(
        store.event(&ids[0]).unwrap().is_none(),
        "past brief's minute"
    );
    assert!(
        store.event(&ids[1]).unwrap().is_some(),
        "within the default hour"
    );
    assert!(store.event(&pending).unwrap().is_some(), "pending: kept");
    assert!(store.queue_head("ep_brief").unwrap().is_some());
    assert_eq!(
        store.purge_now(Duration::from_secs(60)).unwrap().events,
        1,
        "a default of a minute takes kept's too"
    );
}
