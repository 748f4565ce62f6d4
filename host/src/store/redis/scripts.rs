//! The Lua scripts that make each multi-key change atomic. Every script's
//! keys share one hash tag (one endpoint, one project or one event), so it
//! touches one slot and runs unchanged on Redis Cluster. Scripts are called
//! by digest (`EVALSHA`): the text travels only when a server does not
//! have it (restarted, failed over, `SCRIPT FLUSH`), when the connection
//! answers `NOSCRIPT` and loads every script ([`ALL`]) before calling
//! again (see `conn.rs` for which calls may be made again).
//!
//! A delivery is one string under `{ep:E}:r:D` (its endpoint and id are in
//! the key): a MessagePack array the scripts write and change,
//! `[1, event, seq, status, attempts, next, created, updated, code, error,
//! test, attempt…]` with the status `p`, `s` or `f` (pending, succeeded,
//! failed), `false` for no code or error, and each attempt's record (the
//! store's binary format) after the fields ([`delivery_lua`]). One key per
//! delivery with its attempts costs about half the RAM of the hash and list
//! stored before (issue #14); those older deliveries (`d:D` and `a:D`) are
//! still read, and rewritten in the new form when next changed. Scripts
//! answer a delivery as its record without the attempts.

use redis::Cmd;

/// The Lua function both [`TAKE_TOKENS`] and [`INGEST`] take tokens with:
/// `take_tokens(key, rate, burst, n, now)` → wait ms (0 when taken), tokens
/// left.
macro_rules! token_bucket_lua {
    () => {
        r#"
local function take_tokens(key, rate, burst, n, now)
  local tokens, ts = burst, now
  local b = redis.call('GET', key)
  if b then
    local sep = string.find(b, ' ', 1, true)
    tokens = tonumber(string.sub(b, 1, sep - 1)) or burst
    ts = tonumber(string.sub(b, sep + 1)) or now
  end
  tokens = math.min(burst, tokens + math.max(0, now - ts) / 1000 * rate)
  local need = math.min(n, burst)
  local wait = 0
  if tokens >= need then
    tokens = tokens - n
  else
    wait = math.ceil((need - tokens) / rate * 1000)
  end
  redis.call('SET', key, tostring(tokens) .. ' ' .. tostring(now),
    'PX', math.ceil((burst - tokens) / rate * 1000) + 1000)
  return wait, tokens
end
"#
    };
}

/// The Lua function [`RECORD`] and [`EVENT_FINISHED`] count a finished
/// delivery with: `one_less_pending(deliveries, pending)` → how many of
/// the event's deliveries are still pending. The count is the `pending`
/// key, which exists while some are (as it did in the first layout); an
/// event stored in the layout between keeps it in the `#pending` field of
/// its `deliveries` hash.
macro_rules! pending_count_lua {
    () => {
        r#"
local function one_less_pending(deliveries, pending)
  local left = redis.call('DECR', pending)
  if left > 0 then return left end
  redis.call('DEL', pending)
  if left == 0 then return 0 end
  -- no pending key (DECR made it -1): the count is in the hash
  left = redis.call('HINCRBY', deliveries, '#pending', -1)
  if left < 0 then redis.call('HDEL', deliveries, '#pending') end
  return left
end
"#
    };
}

/// The Lua functions of delivery records (see the module doc):
/// `new_delivery(event, seq, now)`, `load_delivery(key, old_key,
/// old_attempts)` → the record and whether it is in the older form (a hash
/// and a list of attempts), `save_delivery(key, d, ttl, old_key,
/// old_attempts, old)` (kept as long as it was when `ttl` is nil; the
/// older form removed), `header(d)`: the record without its attempts,
/// packed, and `delivery_keys(p, id)`: the keys of delivery `id` under an
/// endpoint's prefix `p` (`…{ep:E}:`), its own then its older form's hash
/// and list. `D_*` name the fields' positions.
macro_rules! delivery_lua {
    () => {
        r#"
local D_EVENT, D_SEQ, D_STATUS, D_ATTEMPTS, D_NEXT = 2, 3, 4, 5, 6
local D_CREATED, D_UPDATED, D_CODE, D_ERROR, D_TEST = 7, 8, 9, 10, 11
local function new_delivery(event, seq, now)
  return {1, event, seq, 'p', 0, now, now, now, false, false, false}
end
local function load_delivery(key, old_key, old_attempts)
  local raw = redis.call('GET', key)
  if raw then return cmsgpack.unpack(raw), false end
  local h = redis.call('HMGET', old_key, 'event', 'seq', 'status', 'attempts',
    'next', 'created', 'updated', 'code', 'error', 'test')
  if not h[1] then return nil, false end
  local d = {1, h[1], tonumber(h[2]), string.sub(h[3], 1, 1), tonumber(h[4]),
    tonumber(h[5]), tonumber(h[6]), tonumber(h[7]), h[8] and tonumber(h[8]) or false,
    h[9] or false, h[10] == '1'}
  for _, a in ipairs(redis.call('LRANGE', old_attempts, 0, -1)) do d[#d + 1] = a end
  return d, true
end
local function save_delivery(key, d, ttl, old_key, old_attempts, old)
  if ttl then
    redis.call('SET', key, cmsgpack.pack(d), 'PX', ttl)
  else
    redis.call('SET', key, cmsgpack.pack(d), 'KEEPTTL')
  end
  if old then redis.call('DEL', old_key, old_attempts) end
end
local function header(d)
  return cmsgpack.pack({unpack(d, 1, D_TEST)})
end
local function delivery_keys(p, id)
  return p .. 'r:' .. id, p .. 'd:' .. id, p .. 'a:' .. id
end
"#
    };
}

/// [`RECORD`] trims the history when a delivery whose sequence number is
/// a multiple of this finishes, up to [`HISTORY_TRIM_LOOK`] of its oldest
/// entries: it can drop twice as many as are added, so a backlog left by
/// a delivery pending for long (expiring after those behind it) clears.
pub(super) const HISTORY_TRIM_EVERY: u64 = 8;
/// How many of the oldest history entries that trim looks at.
pub(super) const HISTORY_TRIM_LOOK: u64 = 16;

/// The Lua function that adds an id to a project's event index,
/// `log_add(index, prefix, id)`. The index is kept in chunks of at most
/// 128 ids (`EVENT_CHUNK`): sorted sets small enough for Redis's compact
/// encoding (about 30 bytes per id, where a large sorted set takes about
/// 120), each under `prefix` and its lower bound, the bounds in the
/// sorted set `index` (the first chunk's bound is empty). A full chunk
/// gets a new one after it when the id is above all of its own (ids rise
/// with time, so chunks stay full), else splits in halves: the leaves of
/// a B-tree.
macro_rules! event_index_lua {
    () => {
        r#"
local function log_chunk(index, id)
  return redis.call('ZRANGE', index, '[' .. id, '-', 'BYLEX', 'REV', 'LIMIT', 0, 1)[1]
end
local function log_add(index, prefix, id)
  local bound = log_chunk(index, id)
  if not bound then
    bound = ''
    redis.call('ZADD', index, 0, '')
  end
  local chunk = prefix .. bound
  if redis.call('ZCARD', chunk) >= 128 then  -- EVENT_CHUNK
    local above = redis.call('ZRANGE', chunk, '+', '(' .. id, 'BYLEX', 'REV', 'LIMIT', 0, 1)[1]
    if not above then
      redis.call('ZADD', index, 0, id)
      redis.call('ZADD', prefix .. id, 0, id)
      return
    end
    local upper = redis.call('ZRANGE', chunk, 64, -1)
    local moved = {}
    for _, member in ipairs(upper) do
      moved[#moved + 1] = 0
      moved[#moved + 1] = member
    end
    redis.call('ZADD', prefix .. upper[1], unpack(moved))
    redis.call('ZREMRANGEBYRANK', chunk, 64, -1)
    redis.call('ZADD', index, 0, upper[1])
    chunk = prefix .. log_chunk(index, id)
  end
  redis.call('ZADD', chunk, 0, id)
end
"#
    };
}

/// The most ids one chunk of a project's event index holds (Redis keeps
/// sorted sets of up to 128 members compact: `zset-max-listpack-entries`;
/// the literal in the script).
#[cfg(test)]
pub(super) const EVENT_CHUNK: usize = 128;

/// Adds an event's id to its project's event index (see
/// [`event_index_lua`]). KEYS: the index. ARGV: the chunk key prefix, id.
pub(super) const LOG_ADD: &str = concat!(
    event_index_lua!(),
    r#"
log_add(KEYS[1], ARGV[1], ARGV[2])
return 1
"#
);

/// Up to ARGV[4] ids of a project's event index, newest first: below
/// ARGV[2] and not below ARGV[3] ('' = no bound). KEYS: the index.
/// ARGV: the chunk key prefix, before, from, limit. (Ids share one
/// fixed-width form, so Lua's comparison orders them as Redis does.)
pub(super) const LOG_PAGE: &str = r#"
local prefix, before, from, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local max, min, cursor = '+', '-', '+'
if before ~= '' then max = '(' .. before; cursor = '[' .. before end
if from ~= '' then min = '[' .. from end
local out = {}
while #out < limit do
  local bounds = redis.call('ZRANGE', KEYS[1], cursor, '-', 'BYLEX', 'REV', 'LIMIT', 0, 8)
  if #bounds == 0 then break end
  for _, bound in ipairs(bounds) do
    local ids = redis.call('ZRANGE', prefix .. bound, max, min, 'BYLEX', 'REV',
      'LIMIT', 0, limit - #out)
    for _, id in ipairs(ids) do out[#out + 1] = id end
    -- older chunks hold only ids below this one's bound
    if #out >= limit or (from ~= '' and bound <= from) then return out end
  end
  cursor = '(' .. bounds[#bounds]
end
return out
"#;

/// Drops the ids below ARGV[2] from a project's event index, whole chunks
/// first (up to 64 chunks a call). KEYS: the index. ARGV: the chunk key
/// prefix, the lowest id kept.
pub(super) const LOG_TRIM: &str = r#"
local bounds = redis.call('ZRANGE', KEYS[1], '-', '(' .. ARGV[2], 'BYLEX', 'LIMIT', 0, 64)
for i, bound in ipairs(bounds) do
  if i < #bounds then
    -- the next chunk starts below the cut: this one is wholly below it
    redis.call('DEL', ARGV[1] .. bound)
    redis.call('ZREM', KEYS[1], bound)
  else
    redis.call('ZREMRANGEBYLEX', ARGV[1] .. bound, '-', '(' .. ARGV[2])
  end
end
return #bounds
"#;

/// How many fields a delivery record has before its attempts.
pub(super) const DELIVERY_HEADER_LEN: usize = 11;

/// Builds `EVALSHA digest numkeys keys… args…`.
pub(super) fn eval(script: &str, keys: &[&str], args: &[&[u8]]) -> Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(digest(script)).arg(keys.len());
    for key in keys {
        cmd.arg(*key);
    }
    for arg in args {
        cmd.arg(*arg);
    }
    cmd
}

/// Every script, as loaded after a `NOSCRIPT`.
pub(super) const ALL: [&str; 19] = [
    INGEST,
    ENQUEUE,
    RECORD_TEST,
    REPLACE_IF_UNCHANGED,
    RECORD,
    EVENT_FINISHED,
    PEEK,
    READ,
    DELETE_ENDPOINT,
    FREE_ENDPOINT,
    IDEMPOTENCY,
    CLAIM,
    RENEW,
    RELEASE,
    DROP,
    TAKE_TOKENS,
    LOG_ADD,
    LOG_PAGE,
    LOG_TRIM,
];

/// A script's SHA-1 digest in hex, as `EVALSHA` names it (computed once
/// per script of [`ALL`]).
pub(super) fn digest(script: &str) -> String {
    static DIGESTS: std::sync::OnceLock<Vec<(&'static str, String)>> = std::sync::OnceLock::new();
    let digests = DIGESTS.get_or_init(|| ALL.iter().map(|s| (*s, sha1_hex(s))).collect());
    digests
        .iter()
        .find(|(text, _)| *text == script)
        .map_or_else(|| sha1_hex(script), |(_, digest)| digest.clone())
}

fn sha1_hex(text: &str) -> String {
    use sha1::Digest as _;
    hex::encode(sha1::Sha1::digest(text.as_bytes()))
}

/// Stores one event with its log entries, its idempotency reservation
/// and its deliveries, all at once (one server only: the keys span slots),
/// after taking its ingestion budget from the project's token bucket when
/// one is given (nothing is stored when the budget is spent). The event's
/// pending key counts its deliveries still pending.
/// (A pipeline calls again only the scripts answered `NOSCRIPT`, which
/// did not run: no event is written twice.)
/// KEYS: event record, project's event index, event's pending count, token
/// bucket (any key when there is no budget), idempotency reservation, work
/// set, then for each delivery: seq, queue, history, delivery.
/// ARGV: event id, event record, record expiry ms ('' = kept until its
/// deliveries finish), now ms, reservation expiry ms ('' = no key),
/// reservation ttl ms, tokens per second ('' = no budget), burst, tokens
/// wanted, the event index's chunk key prefix, then for each delivery:
/// endpoint id, delivery id.
/// Returns, without a budget, the id of the event holding the idempotency
/// key when another one does (nothing is written), else nil; with one,
/// {that id or '', the wait in ms (0 when taken), the tokens left}.
pub(super) const INGEST: &str = concat!(
    token_bucket_lua!(),
    delivery_lua!(),
    event_index_lua!(),
    r#"
local id, now = ARGV[1], ARGV[4]
local wait, tokens = 0, nil
if ARGV[7] ~= '' then
  wait, tokens = take_tokens(KEYS[4], tonumber(ARGV[7]), tonumber(ARGV[8]),
    tonumber(ARGV[9]), tonumber(now))
end
local function answer(holder)
  if tokens == nil then return holder end
  return {holder or '', wait, tostring(tokens)}
end
if wait > 0 then return answer(false) end
if ARGV[5] ~= '' then
  local v = redis.call('GET', KEYS[5])
  if v then
    local sep = string.find(v, '|', 1, true)
    if sep and tonumber(string.sub(v, sep + 1)) > tonumber(now) then
      return answer(string.sub(v, 1, sep - 1))
    end
  end
  redis.call('SET', KEYS[5], id .. '|' .. ARGV[5], 'PX', ARGV[6])
end
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
log_add(KEYS[2], ARGV[10], id)
local n = (#ARGV - 10) / 2
if n == 0 then return answer(false) end
local endpoints = {}
for i = 1, n do
  local endpoint, delivery = ARGV[9 + 2 * i], ARGV[10 + 2 * i]
  local k = 2 + 4 * i
  local seq = redis.call('INCR', KEYS[k + 1])
  redis.call('SET', KEYS[k + 4], cmsgpack.pack(new_delivery(id, seq, tonumber(now))))
  redis.call('ZADD', KEYS[k + 2], seq, delivery)
  redis.call('XADD', KEYS[k + 3], seq .. '-0', 'd', delivery)
  endpoints[#endpoints + 1] = endpoint
end
redis.call('SET', KEYS[3], n)
redis.call('SADD', KEYS[6], unpack(endpoints))
return answer(false)
"#
);

/// Queues a delivery unless it exists (so finishing an interrupted
/// ingestion twice queues it once). Returns its sequence number.
/// KEYS: seq, queue, history, delivery, its older form's hash.
/// ARGV: id, event, now.
pub(super) const ENQUEUE: &str = concat!(
    delivery_lua!(),
    r#"
local raw = redis.call('GET', KEYS[4])
if raw then return cmsgpack.unpack(raw)[D_SEQ] end
if redis.call('EXISTS', KEYS[5]) == 1 then
  return tonumber(redis.call('HGET', KEYS[5], 'seq'))
end
local seq = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[4], cmsgpack.pack(new_delivery(ARGV[2], seq, tonumber(ARGV[3]))))
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('XADD', KEYS[3], seq .. '-0', 'd', ARGV[1])
return seq
"#
);

/// Stores a finished test send's delivery in the endpoint's history (not
/// its queue) at the next sequence number, with its one attempt, both kept
/// for the retention. Returns the sequence number.
/// KEYS: seq, history, delivery. ARGV: id, event, status (its name,
/// stored as its first letter, as `load_delivery` does with the older
/// form's), created, updated, code ('' for none), error ('' for none),
/// attempt record, retention ms.
pub(super) const RECORD_TEST: &str = r#"
local seq = redis.call('INCR', KEYS[1])
local created = tonumber(ARGV[4])
local code, err = false, false
if ARGV[6] ~= '' then code = tonumber(ARGV[6]) end
if ARGV[7] ~= '' then err = ARGV[7] end
local record = cmsgpack.pack({1, ARGV[2], seq, string.sub(ARGV[3], 1, 1), 1, created, created,
  tonumber(ARGV[5]), code, err, true, ARGV[8]})
local retention = tonumber(ARGV[9])
if retention > 0 then
  redis.call('SET', KEYS[3], record, 'PX', retention)
else
  redis.call('SET', KEYS[3], record)
end
redis.call('XADD', KEYS[2], seq .. '-0', 'd', ARGV[1])
return seq
"#;

/// Replaces a record only if it still holds what was read (compare and
/// set): 1 when replaced, 0 when it changed meanwhile, -1 when it is gone.
/// KEYS: record. ARGV: what was read, the new value.
pub(super) const REPLACE_IF_UNCHANGED: &str = r#"
local now = redis.call('GET', KEYS[1])
if not now then return -1 end
if now ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"#;

/// Records an attempt and applies its change, fenced by the lease.
/// KEYS: delivery, queue, its older form's hash, minute stats, hour stats,
/// lease, minute index, hour index (zsets of the minutes and hours with
/// stats), its older form's attempts, history.
/// ARGV: expected lease ('' = unchecked), attempt record, number, status
/// code ('' = none), error ('' = none), updated ms, change (ack | retry |
/// dead), next attempt ms, dead-letter reason, statistics field (the
/// outcome and the latency bucket: `s3`), retention ms, minute-stats ttl ms, minute, hour,
/// minutes kept, hours kept, event key prefix ('' on a cluster, where the
/// caller runs [`EVENT_FINISHED`] itself: the event lives in another slot),
/// delivery id, the endpoint's key prefix (`…{ep:E}:`), n, m: when a
/// delivery whose sequence number is a multiple of n finishes, the
/// history's oldest entries whose deliveries expired are dropped, up to
/// m, stopping at the first delivery kept (so the history is as long as
/// the retention keeps, for a command or two per delivery).
/// An attempt whose number was recorded already changes nothing (the
/// caller retried a record whose answer was lost). An attempt is one
/// increment per statistics key (of its outcome-and-bucket field); the
/// key's expiry and index entry are written with each field's first count
/// only (commands per event: issue #13).
/// Returns {the delivery's record without attempts, 1 when this call
/// changed it (0 for a record made before)}.
pub(super) const RECORD: &str = concat!(
    pending_count_lua!(),
    delivery_lua!(),
    r#"
if ARGV[1] ~= '' and redis.call('GET', KEYS[6]) ~= ARGV[1] then
  return redis.error_reply('HMLEASE lease lost')  -- conn::LEASE_LOST_CODE
end
local d, old = load_delivery(KEYS[1], KEYS[3], KEYS[9])
if not d then
  return redis.error_reply('HMNOTFOUND delivery')  -- conn::NOT_FOUND_CODE
end
local n = tonumber(ARGV[3])
if n <= d[D_ATTEMPTS] then
  -- recorded before (a retried record whose answer was lost): no change
  return {header(d), 0}
end
d[#d + 1] = ARGV[2]
d[D_ATTEMPTS] = n
d[D_UPDATED] = tonumber(ARGV[6])
d[D_CODE] = false
if ARGV[4] ~= '' then d[D_CODE] = tonumber(ARGV[4]) end
local err, done = ARGV[5], true
if ARGV[7] == 'ack' then
  d[D_STATUS] = 's'
elseif ARGV[7] == 'retry' then
  d[D_NEXT] = tonumber(ARGV[8])
  done = false
else
  d[D_STATUS] = 'f'
  err = ARGV[9]
end
d[D_ERROR] = false
if err ~= '' then d[D_ERROR] = err end
local retention = tonumber(ARGV[11])
local ttl = nil
if done then
  redis.call('ZREM', KEYS[2], ARGV[18])
  if retention > 0 then ttl = retention end
end
save_delivery(KEYS[1], d, ttl, KEYS[3], KEYS[9], old)
if done and d[D_SEQ] % tonumber(ARGV[20]) == 0 then
  local gone = {}
  for _, entry in ipairs(redis.call('XRANGE', KEYS[10], '-', '+', 'COUNT', ARGV[21])) do
    if redis.call('EXISTS', ARGV[19] .. 'r:' .. entry[2][2]) == 1 then break end
    gone[#gone + 1] = entry[1]
  end
  if #gone > 0 then redis.call('XDEL', KEYS[10], unpack(gone)) end
end
if done and ARGV[17] ~= '' then
  -- the event's last delivery finished: keep it for the retention from now
  local ev = ARGV[17] .. d[D_EVENT] .. '}'
  if one_less_pending(ev .. ':deliveries', ev .. ':pending') <= 0 and retention > 0 then
    redis.call('PEXPIRE', ev, retention)
    redis.call('PEXPIRE', ev .. ':deliveries', retention)
  end
end
-- statistics: a minute's (hour's) key gets its expiry and its place in
-- the index when its first attempt is counted
for i = 4, 5 do
  if redis.call('HINCRBY', KEYS[i], ARGV[10], 1) == 1 then
    if i == 4 then
      redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[12]) + 60000)
      redis.call('ZADD', KEYS[7], ARGV[13], ARGV[13])
      redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', tonumber(ARGV[13]) - tonumber(ARGV[15]))
    else
      if retention > 0 then redis.call('PEXPIRE', KEYS[5], retention + 3600000) end
      redis.call('ZADD', KEYS[8], ARGV[14], ARGV[14])
      redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', tonumber(ARGV[14]) - tonumber(ARGV[16]))
    end
  end
end
return {header(d), 1}
"#
);

/// One of an event's deliveries finished: when none is left pending, the
/// event (and the deliveries hash of an event stored before its
/// deliveries moved into its value) expire a retention from now.
/// KEYS: the event's pending count, event record, event deliveries hash.
/// ARGV: retention ms.
pub(super) const EVENT_FINISHED: &str = concat!(
    pending_count_lua!(),
    r#"
if one_less_pending(KEYS[3], KEYS[1]) <= 0 and tonumber(ARGV[1]) > 0 then
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[3], ARGV[1])
end
return 1
"#
);

/// Up to ARGV[1] oldest queued deliveries: their ids and records without
/// attempts, alternating. KEYS: queue. ARGV: limit, the endpoint's key
/// prefix (`…{ep:E}:`; delivery keys are built here, they share the
/// queue's hash tag).
pub(super) const PEEK: &str = concat!(
    delivery_lua!(),
    r#"
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local out = {}
for _, id in ipairs(ids) do
  local d = load_delivery(delivery_keys(ARGV[2], id))
  if d then
    out[#out + 1] = id
    out[#out + 1] = header(d)
  end
end
return out
"#
);

/// Deliveries of one endpoint by id: for each, its record (with its
/// attempts when ARGV[2] is `1`, else without), or false when it does not
/// exist (deliveries stored in the older form are answered in the new one).
/// KEYS: any key of the endpoint (for its slot). ARGV: the endpoint's key
/// prefix (`…{ep:E}:`), `1` or `0`, then the ids.
pub(super) const READ: &str = concat!(
    delivery_lua!(),
    r#"
local out = {}
for i = 3, #ARGV do
  local key, old_key, old_attempts = delivery_keys(ARGV[1], ARGV[i])
  local raw = false
  if ARGV[2] == '1' then raw = redis.call('GET', key) end
  if not raw then
    local d = load_delivery(key, old_key, old_attempts)
    if d then
      if ARGV[2] == '1' then raw = cmsgpack.pack(d) else raw = header(d) end
    end
  end
  out[#out + 1] = raw
end
return out
"#
);

/// Removes an endpoint: its queued deliveries fail ("endpoint deleted"),
/// its queue, record and lease go; history stays readable.
/// KEYS: record, queue, lease. ARGV: the endpoint's key prefix
/// (`…{ep:E}:`), now, retention ms.
/// Returns {1 when it existed, the events of the deliveries it failed}.
pub(super) const DELETE_ENDPOINT: &str = concat!(
    delivery_lua!(),
    r#"
local existed = redis.call('DEL', KEYS[1])
local events = {}
local ttl = nil
if tonumber(ARGV[3]) > 0 then ttl = tonumber(ARGV[3]) end
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local key, old_key, old_attempts = delivery_keys(ARGV[1], id)
  local d, old = load_delivery(key, old_key, old_attempts)
  if d then
    d[D_STATUS] = 'f'
    d[D_ERROR] = 'endpoint deleted'
    d[D_UPDATED] = tonumber(ARGV[2])
    save_delivery(key, d, ttl, old_key, old_attempts, old)
    table.insert(events, d[D_EVENT])
  end
end
redis.call('DEL', KEYS[2], KEYS[3])
return {existed, events}
"#
);

/// Removes an endpoint with everything under its hash tag: its record,
/// queue, history, every delivery (queued or not, in either form), its
/// statistics, sequence, lease and token bucket (its project is deleted).
/// KEYS: record, queue, history as stored before, seq, lease, fence,
/// bucket, minute index, hour index, history. ARGV: the endpoint's key
/// prefix (`…{ep:E}:`), key prefixes of its minute stats and hour stats.
pub(super) const FREE_ENDPOINT: &str = concat!(
    delivery_lua!(),
    r#"
local function free(id)
  redis.call('DEL', delivery_keys(ARGV[1], id))
end
for i = 2, 3 do
  for _, id in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do free(id) end
end
for _, entry in ipairs(redis.call('XRANGE', KEYS[10], '-', '+')) do free(entry[2][2]) end
for i = 8, 9 do
  for _, period in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do
    redis.call('DEL', ARGV[i - 6] .. period)
  end
end
return redis.call('DEL', unpack(KEYS))
"#
);

/// Reserves an idempotency key for an event, unless an unexpired
/// reservation exists: then returns that event's id.
/// KEYS: idempotency key. ARGV: event id, expires ms, now ms, ttl ms.
pub(super) const IDEMPOTENCY: &str = r#"
local v = redis.call('GET', KEYS[1])
if v then
  local sep = string.find(v, '|', 1, true)
  if sep and tonumber(string.sub(v, sep + 1)) > tonumber(ARGV[3]) then
    return string.sub(v, 1, sep - 1)
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'PX', ARGV[4])
return false
"#;

/// Takes or keeps a lease. KEYS: lease, fencing counter.
/// ARGV: owner, ttl ms. Returns the lease value `owner/token` when this
/// owner holds it now, nil when another does.
pub(super) const CLAIM: &str = r#"
local v = redis.call('GET', KEYS[1])
if v then
  if string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. '/' then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return v
  end
  return false
end
local token = redis.call('INCR', KEYS[2])
v = ARGV[1] .. '/' .. token
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
return v
"#;

/// Extends a lease still held. KEYS: lease. ARGV: value, ttl ms. 1 or 0.
pub(super) const RENEW: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"#;

/// Gives a lease up when the queue is empty. KEYS: lease, queue.
/// ARGV: value. 1: released (or no longer ours); 0: work queued, kept.
pub(super) const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 1 end
if redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
redis.call('DEL', KEYS[1])
return 1
"#;

/// Drops a lease still held, work queued or not. KEYS: lease. ARGV: value.
pub(super) const DROP: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"#;

/// A token bucket shared by every instance, kept as one string
/// `"tokens ts"` (a read and a write per call), on the callers' clocks
/// (hosts kept in time, e.g. by NTP: a clock behind by d ms adds no
/// tokens until it catches up; one ahead adds at most d ms of refill,
/// never past the burst).
/// KEYS: bucket. ARGV: tokens per second, burst, tokens wanted, now ms.
/// Returns {0 when taken, else the wait in ms; the tokens left, as text
/// (fractional, below zero after a bulk larger than the burst)}. The key
/// expires once the bucket is full again: a missing bucket is a full one.
pub(super) const TAKE_TOKENS: &str = concat!(
    token_bucket_lua!(),
    r#"
local wait, tokens = take_tokens(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]),
  tonumber(ARGV[3]), tonumber(ARGV[4]))
return {wait, tostring(tokens)}
"#
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_the_sha1_redis_computes() {
        // `redis-cli SCRIPT LOAD "return 1"` answers this digest.
        assert_eq!(
            digest("return 1"),
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        );
        let names: std::collections::HashSet<String> = ALL.iter().map(|s| digest(s)).collect();
        assert_eq!(names.len(), ALL.len(), "every script has its own digest");
    }
}
