//! Key names. Everything of one endpoint shares the hash tag `{ep:ID}`,
//! everything of one project's ingestion `{p:ID}`, an event and its
//! intent `{ev:ID}`: each script's keys land in one Cluster slot.
//!
//! ```text
//! P:{ep:E}:rec        endpoint record          P:{p:X}:eps      its endpoint ids (set)
//! P:{ep:E}:q          queue (zset seq → dlv)   P:{p:X}:ver      routing version (counter)
//! P:{ep:E}:hs         history (stream: id      P:{p:X}:idem:K   idempotency reservation
//!                     `SEQ-0`, field d = dlv)
//! P:{ep:E}:seq        sequence counter         P:{p:X}:tb       ingestion token bucket
//! P:{ep:E}:r:D        delivery with attempts   P:{p:X}:prov:N   provider settings
//!                     (string, MessagePack)
//! P:{ep:E}:d:D, a:D   a delivery and its attempts as stored before (hash, list)
//! P:{ep:E}:h          history as stored before (zset seq → dlv)
//! P:{ep:E}:sm:MINUTE  stats per minute (hash)  P:{ev:V}:intent  fan-out not finished yet
//! P:{ep:E}:sh:HOUR    stats per hour (hash)    P:project:X, P:projects, P:apikey:H
//! P:{ep:E}:smi, shi   minutes, hours with stats (zsets)
//!                                           P:{p:X}:keys     its API key hashes (set)
//! P:{ep:E}:lease      owner/token, with TTL    P:work           endpoints that may have work (set)
//! P:{ep:E}:fence      lease token counter      P:pending        intents by time (zset)
//! P:{ep:E}:tb         delivery token bucket    P:wake           pub/sub channel: endpoints with new work
//! P:{p:X}:keys        the project's key hashes P:{p:X}:keyuse   key hash → last use (hash)
//! P:{mk:H}:tb         management token bucket of one caller (`admin`, or a key's SHA-256)
//! P:{p:X}:evx         the project's event index: its chunks' lower bounds (zset)
//! P:{p:X}:evc:B       the index's chunk from id B: at most 128 ids (zset)
//! P:{p:X}:events      the project's event ids as stored before (zset)
//! P:{ev:V}            the event: its record, then its deliveries (`event_value.rs`)
//! P:{ev:V}:pending    how many of its deliveries are pending (while some are)
//! P:{ev:V}:deliveries an event's deliveries as stored before they moved into its
//!                     value (hash: delivery id → endpoint id, `#pending`)
//! ```

/// Builds key names under one prefix.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    pub(super) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
        }
    }

    fn endpoint(&self, id: &str, what: &str) -> String {
        format!("{}:{{ep:{id}}}:{what}", self.prefix)
    }

    fn project(&self, id: &str, what: &str) -> String {
        format!("{}:{{p:{id}}}:{what}", self.prefix)
    }

    pub(super) fn endpoint_record(&self, id: &str) -> String {
        self.endpoint(id, "rec")
    }
    pub(super) fn queue(&self, id: &str) -> String {
        self.endpoint(id, "q")
    }
    /// Every delivery of the endpoint by sequence number (a stream).
    pub(super) fn history(&self, id: &str) -> String {
        self.endpoint(id, "hs")
    }
    /// The history as stored before it became a stream (a sorted set).
    pub(super) fn older_history(&self, id: &str) -> String {
        self.endpoint(id, "h")
    }
    pub(super) fn seq(&self, id: &str) -> String {
        self.endpoint(id, "seq")
    }
    /// What every key of an endpoint starts with (`…{ep:E}:`): scripts
    /// append `r:`, `d:` or `a:` and a delivery id.
    pub(super) fn endpoint_prefix(&self, endpoint_id: &str) -> String {
        self.endpoint(endpoint_id, "")
    }
    /// A delivery with its attempts (see `scripts.rs`).
    pub(super) fn delivery(&self, endpoint_id: &str, delivery_id: &str) -> String {
        self.endpoint(endpoint_id, &format!("r:{delivery_id}"))
    }
    /// A delivery stored before its attempts moved into its record (hash).
    pub(super) fn older_delivery(&self, endpoint_id: &str, delivery_id: &str) -> String {
        self.endpoint(endpoint_id, &format!("d:{delivery_id}"))
    }
    /// The attempts of an [`Self::older_delivery`] (list).
    pub(super) fn older_attempts(&self, endpoint_id: &str, delivery_id: &str) -> String {
        self.endpoint(endpoint_id, &format!("a:{delivery_id}"))
    }
    pub(super) fn minute_stats(&self, endpoint_id: &str, minute: u64) -> String {
        format!("{}{minute}", self.stats_prefix(endpoint_id, false))
    }
    pub(super) fn hour_stats(&self, endpoint_id: &str, hour: u64) -> String {
        format!("{}{hour}", self.stats_prefix(endpoint_id, true))
    }
    /// Minutes (or hours) with stats, as a zset.
    pub(super) fn stats_index(&self, endpoint_id: &str, hourly: bool) -> String {
        self.endpoint(endpoint_id, if hourly { "shi" } else { "smi" })
    }
    pub(super) fn lease(&self, id: &str) -> String {
        self.endpoint(id, "lease")
    }
    pub(super) fn fence(&self, id: &str) -> String {
        self.endpoint(id, "fence")
    }
    pub(super) fn endpoint_bucket(&self, id: &str) -> String {
        self.endpoint(id, "tb")
    }

    pub(super) fn project_endpoints(&self, id: &str) -> String {
        self.project(id, "eps")
    }
    pub(super) fn routes_version(&self, id: &str) -> String {
        self.project(id, "ver")
    }
    pub(super) fn idempotency(&self, project_id: &str, key: &str) -> String {
        self.project(project_id, &format!("idem:{key}"))
    }
    pub(super) fn ingest_bucket(&self, id: &str) -> String {
        self.project(id, "tb")
    }
    /// Hashes of the project's API keys and portal sessions (a set): to
    /// list them, and so deleting the project finds them.
    pub(super) fn project_keys(&self, id: &str) -> String {
        self.project(id, "keys")
    }
    /// When each of the project's keys was last used (hash → Unix ms).
    pub(super) fn key_uses(&self, id: &str) -> String {
        self.project(id, "keyuse")
    }
    /// A management caller's token bucket (its own hash slot).
    pub(super) fn management_bucket(&self, caller: &str) -> String {
        format!("{}:{{mk:{caller}}}:tb", self.prefix)
    }
    pub(super) fn provider(&self, project_id: &str, provider: &str) -> String {
        self.project(project_id, &format!("prov:{provider}"))
    }

    /// Prefix of an endpoint's per-minute (or per-hour) stats keys.
    pub(super) fn stats_prefix(&self, endpoint_id: &str, hourly: bool) -> String {
        self.endpoint(endpoint_id, if hourly { "sh:" } else { "sm:" })
    }

    /// Names of the project's configured providers and instances.
    pub(super) fn provider_names(&self, project_id: &str) -> String {
        self.project(project_id, "provs")
    }
    pub(super) fn event(&self, id: &str) -> String {
        format!("{}:{{ev:{id}}}", self.prefix)
    }
    /// The deliveries (delivery id → endpoint id, replays included) of an
    /// event stored before they moved into its value, with their
    /// `#pending` count.
    pub(super) fn event_deliveries(&self, id: &str) -> String {
        format!("{}:{{ev:{id}}}:deliveries", self.prefix)
    }
    /// How many of the event's deliveries are still pending; it exists
    /// while some are.
    pub(super) fn event_pending(&self, id: &str) -> String {
        format!("{}:{{ev:{id}}}:pending", self.prefix)
    }
    /// What [`Self::event`] starts with, for scripts that append `id}`.
    pub(super) fn event_prefix(&self) -> String {
        format!("{}:{{ev:", self.prefix)
    }
    /// The project's event index: the bounds of its chunks (see
    /// `scripts.rs`, `event_index_lua`).
    pub(super) fn event_index(&self, id: &str) -> String {
        self.project(id, "evx")
    }
    /// What the keys of the event index's chunks start with (the chunk's
    /// lower bound follows).
    pub(super) fn event_chunk_prefix(&self, id: &str) -> String {
        self.project(id, "evc:")
    }
    /// The project's event ids as stored before the index took chunks
    /// (one sorted set, one score: ordered by id, so by time).
    pub(super) fn older_project_events(&self, id: &str) -> String {
        self.project(id, "events")
    }
    pub(super) fn intent(&self, id: &str) -> String {
        format!("{}:{{ev:{id}}}:intent", self.prefix)
    }

    pub(super) fn project_record(&self, id: &str) -> String {
        format!("{}:project:{id}", self.prefix)
    }
    pub(super) fn projects(&self) -> String {
        format!("{}:projects", self.prefix)
    }
    pub(super) fn api_key(&self, hash: &str) -> String {
        format!("{}:apikey:{hash}", self.prefix)
    }
    pub(super) fn work(&self) -> String {
        format!("{}:work", self.prefix)
    }
    pub(super) fn pending(&self) -> String {
        format!("{}:pending", self.prefix)
    }
    pub(super) fn wake_channel(&self) -> String {
        format!("{}:wake", self.prefix)
    }
}
