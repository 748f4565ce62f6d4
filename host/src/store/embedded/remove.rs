//! Removing a project from the embedded store, with everything it owns,
//! in one write transaction: its record and API keys; its endpoints with
//! their queues, history, deliveries, attempts and statistics; its events
//! with the event log's index rows; its idempotency keys and provider
//! settings. Nothing of it is left for the purger: the pages are free for
//! later writes at once.

use super::*;

/// Removes project `id` and what it owns; false when it did not exist.
pub(super) fn delete_project(db: &Database, id: &str) -> Result<bool, StoreError> {
    let txn = db.begin_write()?;
    if txn.open_table(PROJECTS)?.remove(id)?.is_none() {
        return Ok(false);
    }
    remove_api_keys(&txn, id)?;
    remove_events(&txn, id)?;
    let endpoint_ids: Vec<String> = txn
        .open_table(PROJECT_ENDPOINTS)?
        .range((id, "")..(id, AFTER_EVERY_ID))?
        .map(|row| Ok(row?.0.value().1.to_string()))
        .collect::<Result<_, StoreError>>()?;
    for endpoint_id in &endpoint_ids {
        remove_endpoint(&txn, endpoint_id)?;
    }
    txn.open_table(PROJECT_ENDPOINTS)?
        .retain_in((id, "")..(id, AFTER_EVERY_ID), |_, _| false)?;
    txn.open_table(IDEMPOTENCY)?
        .retain_in((id, "")..(id, AFTER_EVERY_ID), |_, _| false)?;
    txn.open_table(PROVIDERS)?
        .retain_in((id, "")..(id, AFTER_EVERY_ID), |_, _| false)?;
    txn.commit()?;
    Ok(true)
}

/// Every API key of the project (keys are stored by hash: a full scan).
fn remove_api_keys(txn: &redb::WriteTransaction, project_id: &str) -> Result<(), StoreError> {
    let mut keys = txn.open_table(API_KEYS)?;
    let mut owned = Vec::new();
    for row in keys.iter()? {
        let (hash, value) = row?;
        let key: ApiKey = decode(hash.value(), value.value())?;
        if key.project_id == project_id {
            owned.push(key.hash);
        }
    }
    for hash in &owned {
        keys.remove(hash.as_str())?;
    }
    Ok(())
}

/// The project's events, each with its deliveries (replays included).
fn remove_events(txn: &redb::WriteTransaction, project_id: &str) -> Result<(), StoreError> {
    let event_ids: Vec<String> = txn
        .open_table(PROJECT_EVENTS)?
        .range((project_id, "")..(project_id, AFTER_EVERY_ID))?
        .map(|row| Ok(row?.0.value().1.to_string()))
        .collect::<Result<_, StoreError>>()?;
    let mut by_event = txn.open_table(EVENT_DELIVERIES)?;
    for event_id in &event_ids {
        let delivery_ids: Vec<String> = by_event
            .range((event_id.as_str(), "")..(event_id.as_str(), AFTER_EVERY_ID))?
            .map(|row| Ok(row?.0.value().1.to_string()))
            .collect::<Result<_, StoreError>>()?;
        for delivery_id in &delivery_ids {
            remove_delivery(txn, delivery_id)?;
        }
        by_event.retain_in(
            (event_id.as_str(), "")..(event_id.as_str(), AFTER_EVERY_ID),
            |_, _| false,
        )?;
        txn.open_table(EVENTS)?.remove(event_id.as_str())?;
    }
    txn.open_table(PROJECT_EVENTS)?
        .retain_in((project_id, "")..(project_id, AFTER_EVERY_ID), |_, _| false)?;
    Ok(())
}

/// A delivery with its attempts and its places in its endpoint's queue
/// and history.
fn remove_delivery(txn: &redb::WriteTransaction, delivery_id: &str) -> Result<(), StoreError> {
    let removed = txn
        .open_table(DELIVERIES)?
        .remove(delivery_id)?
        .map(|bytes| bytes.value().to_vec());
    let Some(removed) = removed else {
        return Ok(());
    };
    let delivery: Delivery = decode(delivery_id, &removed)?;
    let key = (delivery.endpoint_id.as_str(), delivery.seq);
    txn.open_table(QUEUE)?.remove(key)?;
    txn.open_table(HISTORY)?.remove(key)?;
    txn.open_table(ATTEMPTS)?
        .retain_in((delivery_id, 0)..=(delivery_id, u32::MAX), |_, _| false)?;
    Ok(())
}

/// An endpoint's record, what is left of its queue and history (events
/// already removed took most of it), and its statistics.
fn remove_endpoint(txn: &redb::WriteTransaction, endpoint_id: &str) -> Result<(), StoreError> {
    txn.open_table(ENDPOINTS)?.remove(endpoint_id)?;
    let left: Vec<String> = txn
        .open_table(HISTORY)?
        .range((endpoint_id, 0)..=(endpoint_id, u64::MAX))?
        .map(|row| Ok(row?.1.value().to_string()))
        .collect::<Result<_, StoreError>>()?;
    for delivery_id in &left {
        remove_delivery(txn, delivery_id)?;
    }
    let all = (endpoint_id, 0)..=(endpoint_id, u64::MAX);
    txn.open_table(QUEUE)?
        .retain_in(all.clone(), |_, _| false)?;
    txn.open_table(HISTORY)?
        .retain_in(all.clone(), |_, _| false)?;
    txn.open_table(STATS)?.retain_in(all, |_, _| false)?;
    Ok(())
}

/// Removes a project's settings for `provider`; false when there were none.
pub(super) fn delete_provider_settings(
    db: &Database,
    project_id: &str,
    provider: &str,
) -> Result<bool, StoreError> {
    let txn = db.begin_write()?;
    let existed = txn
        .open_table(PROVIDERS)?
        .remove((project_id, provider))?
        .is_some();
    txn.commit()?;
    Ok(existed)
}
