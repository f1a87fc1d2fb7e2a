//! The Lua scripts team mode runs in Redis. Each is one atomic step, so twenty processes
//! asking at once see one consistent limit, budget and cache; times come from Redis's own
//! clock (`TIME`), so processes on machines with skewed clocks still agree.

/// Takes a slot, or says why not. KEYS: request log, token TAT, pause, team day spend, team
/// month spend, user day spend, user month spend. ARGV: rpm, tpm (0: unlimited), tokens,
/// longest wait (ms), a unique member name, the request's most cost, then the four caps in
/// KEYS order (-1: none).
///
/// Requests per minute are a sliding-window log (a sorted set of slot times): at most `rpm`
/// slots in any 60 s, so the provider never sees more than its limit. A slot may lie in the
/// future, as the local limiter's reservations do; the caller sleeps until it. Tokens per
/// minute are GCRA (the "theoretical arrival time" of the next token) with a burst of one
/// minute's worth, the local token bucket's shape. A request let through reserves its most
/// cost in the four spend counters (settled by `FINISHED`), so requests running at once cannot
/// pass a cap together: each sees the others' reservations. Returns `{1, wait_ms}` (taken),
/// `{0, wait_ms}` (after the longest wait: nothing taken) or `{2, which_cap, spent}`.
pub(crate) const ADMIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = 60000
local cost = tonumber(ARGV[6])
for i = 4, 7 do
  local cap = tonumber(ARGV[3 + i])
  if cap >= 0 then
    local spent = tonumber(redis.call('GET', KEYS[i]) or '0')
    if spent + cost > cap then
      return {2, i - 3, tostring(spent)}
    end
  end
end
local wait = 0
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused > now then wait = paused - now end
local rpm = tonumber(ARGV[1])
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  local n = redis.call('ZCARD', KEYS[1])
  if n >= rpm then
    local nth = redis.call('ZRANGE', KEYS[1], n - rpm, n - rpm, 'WITHSCORES')
    wait = math.max(wait, tonumber(nth[2]) + window - now)
  end
end
local tpm = tonumber(ARGV[2])
local tat = 0
if tpm > 0 then
  local per_token = window / tpm
  tat = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), now) + math.min(tonumber(ARGV[3]), tpm) * per_token
  wait = math.max(wait, tat - window - now)
end
if wait > tonumber(ARGV[4]) then
  return {0, math.ceil(wait), ''}
end
if rpm > 0 then
  redis.call('ZADD', KEYS[1], now + wait, ARGV[5])
  redis.call('PEXPIRE', KEYS[1], math.ceil(wait) + window + 1000)
end
if tpm > 0 then
  redis.call('SET', KEYS[2], string.format('%d', math.ceil(tat)), 'PX', math.ceil(tat - now) + window)
end
if cost > 0 then
  for i = 4, 7 do
    redis.call('INCRBYFLOAT', KEYS[i], string.format('%.17g', cost))
    redis.call('EXPIRE', KEYS[i], (i % 2 == 0) and 2 * 86400 or 35 * 86400)
  end
end
return {1, math.ceil(wait), ''}
";

/// Settles a request `ADMIT` let through and shares its answer. KEYS: team day spend, team
/// month spend, user day spend, user month spend, the day's usage hash, the answer's key, the
/// cache index. ARGV: cost, input tokens, output tokens, the usage field prefix, the answer
/// ('' to share nothing), its time to live (ms), the cache's most entries, what `ADMIT`
/// reserved, whether to count the request in the usage (1, or 0 for a refused attempt).
///
/// The spend counters get the cost less the reservation: the reservation is replaced by what
/// the request cost, in one step. The cache holds the answer under its key (a hash of
/// provider, model, parameters and prompt) and nothing else; its index, by time stored, drops
/// the oldest past the cap.
pub(crate) const FINISHED: &str = r"
local cost = tonumber(ARGV[1])
local change = cost - tonumber(ARGV[8])
local day, month = 2 * 86400, 35 * 86400
if change ~= 0 then
  for i = 1, 4 do
    redis.call('INCRBYFLOAT', KEYS[i], string.format('%.17g', change))
    redis.call('EXPIRE', KEYS[i], (i % 2 == 1) and day or month)
  end
end
if ARGV[9] == '1' then
  local field = ARGV[4]
  redis.call('HINCRBY', KEYS[5], field .. 'requests', 1)
  redis.call('HINCRBY', KEYS[5], field .. 'input_tokens', ARGV[2])
  redis.call('HINCRBY', KEYS[5], field .. 'output_tokens', ARGV[3])
  redis.call('HINCRBYFLOAT', KEYS[5], field .. 'cost_usd', ARGV[1])
  redis.call('EXPIRE', KEYS[5], month)
end
if ARGV[5] ~= '' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local ttl = tonumber(ARGV[6])
  redis.call('SET', KEYS[6], ARGV[5], 'PX', ttl)
  redis.call('ZADD', KEYS[7], now, KEYS[6])
  redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now - ttl)
  local excess = redis.call('ZCARD', KEYS[7]) - tonumber(ARGV[7])
  if excess > 0 then
    local oldest = redis.call('ZPOPMIN', KEYS[7], excess)
    for i = 1, #oldest, 2 do redis.call('DEL', oldest[i]) end
  end
  redis.call('PEXPIRE', KEYS[7], ttl)
end
return 1
";

/// Pauses a provider for the whole team until `now + wait` (a later pause wins). KEYS: the
/// pause key. ARGV: the wait (ms).
pub(crate) const PAUSE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = tonumber(ARGV[1])
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
if now + wait > paused then
  redis.call('SET', KEYS[1], string.format('%d', now + wait), 'PX', wait)
end
return 1
";
