//! The Lua scripts the coordinator runs in Redis: each does a whole batch atomically in one call.
//!
//! Conventions (see `docs/fleet.md` for the key layout):
//! - `ARGV[1]` is the namespace `<prefix>:{<group>}`; keys the script derives from it (a member's
//!   served map, a barrier record) share the group's hash tag, so the scripts stay within one
//!   cluster slot.
//! - Times are the members' logical clocks (`now` in ms, passed in); real `PEXPIRE`s only
//!   collect garbage, with the generous spans the caller passes.
//! - Records are tab-separated strings; member lists inside a record are `\x1f`-separated.
//!   Numbers read back from Redis go through `tonumber(x) or 0`, so a damaged record degrades to
//!   "old" instead of failing the script.

/// Helpers every script starts with.
const PRELUDE: &str = r#"
local function split(s, sep)
  local out, start = {}, 1
  while true do
    local i = string.find(s, sep, start, true)
    if not i then out[#out + 1] = string.sub(s, start); return out end
    out[#out + 1] = string.sub(s, start, i - 1)
    start = i + 1
  end
end
-- Live members (seen within ttl) and whether each has published its full served state.
local function live_members(ns, mkey, now, ttl)
  local all = redis.call('HGETALL', mkey)
  local names, ready = {}, {}
  for i = 1, #all, 2 do
    local f = split(all[i + 1], '\t')
    if now - (tonumber(f[1]) or 0) <= ttl then
      names[#names + 1] = all[i]
      local r = '0'
      if f[2] == '1' and redis.call('HEXISTS', ns .. ':served:' .. all[i], '') == 1 then r = '1' end
      ready[#ready + 1] = r
    end
  end
  return names, ready
end
-- What the barrier knows of (path, full): since/round (created at `now` if missing), the forced
-- record, and every live member whose served token differs from `short` ('?' = never published).
local function item_facts(ns, fkey, path, short, full, names, now, gc)
  local field = path .. '\t' .. full
  local bkey = ns .. ':b:' .. redis.sha1hex(field)
  local rec = redis.call('GET', bkey)
  local since, round = string.format('%d', now), '0'
  if rec then
    local f = split(rec, '\t'); since = f[1]; round = f[2] or '0'
  else
    redis.call('SET', bkey, since .. '\t0', 'PX', gc)
  end
  local forced = redis.call('HGET', fkey, field) or ''
  local mm = {}
  for j = 1, #names do
    local s = redis.call('HGET', ns .. ':served:' .. names[j], path)
    if s ~= short then mm[#mm + 1] = names[j]; mm[#mm + 1] = s or '?' end
  end
  return {path, full, since, round, forced, mm}
end
"#;

/// Heartbeat. KEYS: members. ARGV: ns, me, now, deploy_ms ('' = unchanged), deploy_id, gc_ms,
/// prune_ms, ttl_ms. Returns {ready '0'|'1', live count, pruned count}.
const JOIN: &str = r#"
local ns, me, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local skey = ns .. ':served:' .. me
local rec = redis.call('HGET', KEYS[1], me)
local ready, dms, did = '0', '', ''
if rec then local f = split(rec, '\t'); ready = f[2] or '0'; dms = f[3] or ''; did = f[4] or '' end
if ready == '1' and redis.call('HEXISTS', skey, '') == 0 then ready = '0' end
if ARGV[4] ~= '' then dms = ARGV[4]; did = ARGV[5] end
redis.call('HSET', KEYS[1], me, ARGV[3] .. '\t' .. ready .. '\t' .. dms .. '\t' .. did)
local all = redis.call('HGETALL', KEYS[1])
local live, pruned = 0, 0
for i = 1, #all, 2 do
  local seen = tonumber(split(all[i + 1], '\t')[1]) or 0
  if all[i] ~= me and now - seen > tonumber(ARGV[7]) then
    redis.call('HDEL', KEYS[1], all[i])
    redis.call('DEL', ns .. ':served:' .. all[i], ns .. ':staging:' .. all[i])
    pruned = pruned + 1
  elseif now - seen <= tonumber(ARGV[8]) then
    live = live + 1
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIRE', skey, ARGV[6])
return {ready, live, pruned}
"#;

/// Publish served tokens. KEYS: members, served map, staging map. ARGV: ns, me, now, mode
/// ('i' incremental, 'f' full), first '1'|'0', final '1'|'0', gc_ms, then (path, token) pairs.
/// A full publish fills the staging map and swaps it in on its final call, marking the member
/// ready; an incremental one drops removed paths of a ready member (absent = not served).
const PUBLISH: &str = r#"
local mode, first, final = ARGV[4], ARGV[5], ARGV[6]
local target = KEYS[2]
if mode == 'f' then
  target = KEYS[3]
  if first == '1' then redis.call('DEL', target); redis.call('HSET', target, '', '1') end
  if redis.call('EXISTS', target) == 0 then return redis.error_reply('ERR full publish lost its staging map') end
end
local ready = redis.call('HEXISTS', KEYS[2], '') == 1
for i = 8, #ARGV, 2 do
  if mode == 'i' and ready and ARGV[i + 1] == '-' then
    redis.call('HDEL', target, ARGV[i])
  else
    redis.call('HSET', target, ARGV[i], ARGV[i + 1])
  end
end
if mode == 'f' and final == '1' then
  redis.call('RENAME', target, KEYS[2])
  local rec = redis.call('HGET', KEYS[1], ARGV[2])
  local f = split(rec or (ARGV[3] .. '\t0\t\t'), '\t')
  redis.call('HSET', KEYS[1], ARGV[2], f[1] .. '\t1\t' .. (f[3] or '') .. '\t' .. (f[4] or ''))
end
redis.call('PEXPIRE', target, ARGV[7])
return #ARGV
"#;

/// Barrier facts for a batch. KEYS: members, forced map. ARGV: ns, now, ttl_ms, bar_gc_ms, then
/// (path, short, full) triples. Returns {live names, ready flags, facts per item}.
const DUE: &str = r#"
local ns, now = ARGV[1], tonumber(ARGV[2])
local names, ready = live_members(ns, KEYS[1], now, tonumber(ARGV[3]))
local out = {}
for b = 5, #ARGV, 3 do
  out[#out + 1] = item_facts(ns, KEYS[2], ARGV[b], ARGV[b + 1], ARGV[b + 2], names, now, ARGV[4])
end
return {names, ready, out}
"#;

/// Barrier facts for every forced record. KEYS: members, forced map. ARGV: ns, now, ttl_ms,
/// bar_gc_ms. Returns {live names, ready flags, facts per forced record}.
const FORCED: &str = r#"
local ns, now = ARGV[1], tonumber(ARGV[2])
local names, ready = live_members(ns, KEYS[1], now, tonumber(ARGV[3]))
local all = redis.call('HGETALL', KEYS[2])
local out = {}
for i = 1, #all, 2 do
  local f = all[i]
  local tab = 0
  for j = #f, 1, -1 do if string.byte(f, j) == 9 then tab = j; break end end
  if tab > 1 then
    local path, full = string.sub(f, 1, tab - 1), string.sub(f, tab + 1)
    local short = full
    if full ~= '-' then short = string.sub(full, 1, 16) end
    out[#out + 1] = item_facts(ns, KEYS[2], path, short, full, names, now, ARGV[4])
  end
end
return {names, ready, out}
"#;

/// Barrier writes. KEYS: forced map. ARGV: ns, now, bar_gc_ms, state_gc_ms, then (op, path,
/// full, round, laggards) quintuples; op 'f' records a forced purge of `round` behind
/// `laggards` (merging with one already recorded), 'r' resolves a forced round whose laggards
/// caught up (the re-purge round + 1 becomes pending and the barrier's round moves on), 's'
/// settles a pending re-purge of at most `round`. Returns the round each op leaves in force.
const BARRIER_WRITE: &str = r#"
local ns, now = ARGV[1], ARGV[2]
local res = {}
for b = 5, #ARGV, 5 do
  local op, path, full, round, lags = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  local field = path .. '\t' .. full
  local rec = redis.call('HGET', KEYS[1], field)
  local f = {}
  if rec then f = split(rec, '\t') end
  local left = round
  if op == 'f' then
    if not rec or (f[2] == round and f[1] == 'P') then
      redis.call('HSET', KEYS[1], field, 'L\t' .. round .. '\t' .. now .. '\t' .. lags)
    elseif f[2] == round then
      local have, merged = {}, f[4] or ''
      for _, m in ipairs(split(merged, '\31')) do have[m] = true end
      for _, m in ipairs(split(lags, '\31')) do
        if m ~= '' and not have[m] then if merged == '' then merged = m else merged = merged .. '\31' .. m end end
      end
      redis.call('HSET', KEYS[1], field, 'L\t' .. round .. '\t' .. (f[3] or now) .. '\t' .. merged)
    else
      left = f[2]
    end
  elseif op == 'r' then
    if rec and f[1] == 'L' and f[2] == round then
      left = tostring((tonumber(round) or 0) + 1)
      redis.call('HSET', KEYS[1], field, 'P\t' .. left .. '\t' .. now .. '\t')
      local bkey = ns .. ':b:' .. redis.sha1hex(field)
      local since = split(redis.call('GET', bkey) or now, '\t')[1]
      redis.call('SET', bkey, since .. '\t' .. left, 'PX', ARGV[3])
    elseif rec then
      left = f[2]
    end
  elseif op == 's' then
    if rec and f[1] == 'P' and (tonumber(f[2]) or 0) <= (tonumber(round) or 0) then redis.call('HDEL', KEYS[1], field) end
  end
  res[#res + 1] = left
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return res
"#;

/// Claim items. KEYS: one claim key per item. ARGV: me, now, lease_ms, gc_ms. Returns a string
/// of one code per item — m mine (new or renewed), t taken over from an expired lease, d already
/// submitted, o held by another live lease — and the holders for t and o, in order.
const CLAIM: &str = r#"
local me, now, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local mine = 'c\t' .. me .. '\t' .. string.format('%d', now + lease)
local codes, who = {}, {}
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if not v then
    redis.call('SET', KEYS[i], mine, 'PX', ARGV[4]); codes[i] = 'm'
  else
    local f = split(v, '\t')
    if f[1] == 's' then
      codes[i] = 'd'
    elseif f[2] == me then
      redis.call('SET', KEYS[i], mine, 'PX', ARGV[4]); codes[i] = 'm'
    elseif (tonumber(f[3]) or 0) <= now then
      redis.call('SET', KEYS[i], mine, 'PX', ARGV[4]); codes[i] = 't'; who[#who + 1] = f[2] or ''
    else
      codes[i] = 'o'; who[#who + 1] = f[2] or ''
    end
  end
end
return {table.concat(codes), who}
"#;

/// Mark items submitted (the API accepted them). KEYS: claim keys. ARGV: me, now, gc_ms.
const SUBMITTED: &str = r#"
local v = 's\t' .. ARGV[1] .. '\t' .. ARGV[2]
for i = 1, #KEYS do redis.call('SET', KEYS[i], v, 'PX', ARGV[3]) end
return #KEYS
"#;

/// Give back my live claims. KEYS: claim keys. ARGV: me. Returns how many were released.
const RELEASE: &str = r#"
local n = 0
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v then
    local f = split(v, '\t')
    if f[1] == 'c' and f[2] == ARGV[1] then redis.call('DEL', KEYS[i]); n = n + 1 end
  end
end
return n
"#;

/// Take `n` slots of a shared sliding window, all or none. KEYS: window zset, ticket counter.
/// ARGV: me, now, n, max, window_ms, in_flight_ms, poll_ms, gc_ms. A slot counts from when it is
/// taken until a window after it is done (score = done time; in flight: now + in_flight_ms).
/// Returns {0, tickets} or {wait_ms, {}}.
const RATE_TAKE: &str = r#"
local now, n, max, window = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count + n <= max then
  local last = redis.call('INCRBY', KEYS[2], n)
  local tickets = {}
  for j = 1, n do
    local t = ARGV[1] .. '#' .. string.format('%d', last - n + j)
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[6]), t)
    tickets[j] = t
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[8]); redis.call('PEXPIRE', KEYS[2], ARGV[8])
  return {0, tickets}
end
local need = count + n - max
local r = redis.call('ZRANGE', KEYS[1], need - 1, need - 1, 'WITHSCORES')
local score = tonumber(r[2]) or now
local wait = score + window - now
if score > now then wait = math.min(wait, tonumber(ARGV[7])) end
if wait < 1 then wait = 1 end
return {wait, {}}
"#;

/// The requests of these tickets got their answers: they count until a window after `now`.
/// KEYS: window zset. ARGV: now, tickets...
const RATE_DONE: &str = r#"
local n = 0
for i = 2, #ARGV do n = n + redis.call('ZADD', KEYS[1], 'XX', 'CH', ARGV[1], ARGV[i]) end
return n
"#;

/// The daily quota ledger. KEYS: the day's counter. ARGV: op ('spend' n limit | 'refund' n |
/// 'observe' available limit), a, b, gc_ms. Returns {granted or changed, used}.
const QUOTA: &str = r#"
local used = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local a, b = tonumber(ARGV[2]) or 0, tonumber(ARGV[3]) or 0
local changed = 0
if ARGV[1] == 'spend' then
  changed = math.min(a, math.max(b - used, 0))
elseif ARGV[1] == 'refund' then
  changed = -math.min(a, used)
elseif ARGV[1] == 'observe' then
  changed = math.max(b - a - used, 0)
end
used = used + changed
redis.call('SET', KEYS[1], string.format('%d', used), 'PX', ARGV[4])
return {math.abs(changed), used}
"#;

/// One script: its name (for errors), full source and SHA-1 (for `EVALSHA`).
#[derive(Debug)]
pub(crate) struct Script {
    pub name: &'static str,
    pub source: String,
    pub sha: String,
}

impl Script {
    fn new(name: &'static str, body: &str) -> Script {
        use sha1::Digest;
        let source = format!("{PRELUDE}{body}");
        let sha = hex::encode(sha1::Sha1::digest(source.as_bytes()));
        Script { name, source, sha }
    }
}

/// Which script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub(crate) enum Lua {
    Join,
    Publish,
    Due,
    Forced,
    BarrierWrite,
    Claim,
    Submitted,
    Release,
    RateTake,
    RateDone,
    Quota,
}

/// Every script, in [`Lua`] order.
pub(crate) static SCRIPTS: std::sync::LazyLock<Vec<Script>> = std::sync::LazyLock::new(|| {
    [
        ("join", JOIN),
        ("publish", PUBLISH),
        ("due", DUE),
        ("forced", FORCED),
        ("barrier_write", BARRIER_WRITE),
        ("claim", CLAIM),
        ("submitted", SUBMITTED),
        ("release", RELEASE),
        ("rate_take", RATE_TAKE),
        ("rate_done", RATE_DONE),
        ("quota", QUOTA),
    ]
    .into_iter()
    .map(|(n, b)| Script::new(n, b))
    .collect()
});

impl Lua {
    pub(crate) fn script(self) -> &'static Script {
        &SCRIPTS[self as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_line_up_with_their_names() {
        for (lua, name) in [(Lua::Join, "join"), (Lua::Due, "due"), (Lua::Claim, "claim"), (Lua::Quota, "quota")] {
            assert_eq!(lua.script().name, name);
        }
        assert_eq!(SCRIPTS.len(), Lua::Quota as usize + 1);
        let shas: std::collections::BTreeSet<_> = SCRIPTS.iter().map(|s| s.sha.as_str()).collect();
        assert_eq!(shas.len(), SCRIPTS.len());
        assert!(SCRIPTS.iter().all(|s| s.sha.len() == 40));
    }
}
