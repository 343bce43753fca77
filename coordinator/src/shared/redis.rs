//! Redis shared state, for several coordinator replicas on one Redis.
//!
//! [`RedisShared`] implements [`SharedState`] on a [`ConnectionManager`], a multiplexed
//! connection that reconnects on its own after Redis restarts or the network drops.
//!
//! Every operation that reads and then writes runs as one Lua script, so it is atomic on
//! the server however many replicas race it. Times that must agree across replicas (the
//! rate-limit window, the fencing-token floor) come from the server's `TIME` inside the
//! script, never from a replica's clock. Since Redis 5 scripts replicate their effects,
//! not the script, so `TIME` before a write is allowed and replicas see the same values.
//!
//! Every key is `"{prefix}:{kind}:{key}"`, so deployments and tests can share a server.
//!
//! Every call is bounded by the timeout given to [`RedisShared::connect`]: the connection
//! attempt, each response, and — because a call issued while the manager is reconnecting
//! waits for that reconnection — the call as a whole. An unreachable Redis therefore
//! yields [`SharedError::Unavailable`] promptly, and callers fail closed, instead of
//! requests piling up behind a hung connection.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, RedisResult, Script, ServerErrorKind, Value};

use super::{RateDecision, SharedError, SharedState};

/// Longest TTL or window honoured; longer ones are clamped (Redis rejects expiry times
/// that overflow, and nothing kept here should live this long anyway).
const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// Reconnection attempts per (re)connection before the manager reports failure. Few,
/// because the caller's timeout bounds the whole call anyway and failing closed quickly
/// beats retrying a dead server for long.
const CONNECT_RETRIES: usize = 3;

/// How long a fencing counter outlives the last leader it numbered. The counter only has
/// to beat the server clock floor (see `LEAD`), so it may expire; a week covers any sane
/// clock step back while still cleaning up after lease names that are no longer used.
const FENCE_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Reserve: take the key if free, refresh it if `holder` already has it.
/// KEYS[1] hold; ARGV[1] holder, ARGV[2] ttl ms. Returns 1 if `holder` holds it now.
const RESERVE: &str = r"
local current = redis.call('GET', KEYS[1])
if current == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// Extend: compare-and-pexpire. KEYS[1] hold; ARGV[1] holder, ARGV[2] ttl ms.
const EXTEND: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// Compare-and-delete. KEYS[1] key; ARGV[1] expected value. Returns 1 if deleted.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

/// Sliding-window log in a sorted set scored by server time in microseconds.
/// KEYS[1] log; ARGV[1] limit, ARGV[2] window µs, ARGV[3] window ms (key TTL),
/// ARGV[4] unique member. Returns {allowed 0/1, count, retry_after µs}.
///
/// Scores are formatted with `%d` because Lua's default number formatting (`%.14g`)
/// would round 16-digit microsecond timestamps.
const HIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now - window))
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1, count + 1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local retry = window
if oldest[2] then
  retry = tonumber(oldest[2]) + window - now
end
if retry < 1 then
  retry = 1
end
return {0, count, retry}
";

/// Acquire or renew a leader lease. KEYS[1] lease hash {holder, token}, KEYS[2] fencing
/// counter; ARGV[1] holder, ARGV[2] ttl ms, ARGV[3] counter ttl ms.
/// Returns the fencing token, or nil while someone else leads.
///
/// A new token is max(last + 1, server time in µs): strictly increasing while the counter
/// lives, and still larger than every earlier token after Redis restarts (it runs without
/// persistence) or the counter expires, unless the server clock stepped back meanwhile.
const LEAD: &str = r"
local holder = redis.call('HGET', KEYS[1], 'holder')
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('HGET', KEYS[1], 'token'))
end
if holder then
  return false
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local token = math.max(last + 1, now)
local text = string.format('%d', token)
redis.call('SET', KEYS[2], text, 'PX', ARGV[3])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'token', text)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return token
";

/// Resign: delete the lease hash if `holder` has it. KEYS[1] lease; ARGV[1] holder.
const RESIGN: &str = r"
if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

/// The scripts, hashed once. `Script` sends `EVALSHA` and falls back to loading the
/// script when the server does not know it (e.g. after a restart).
struct Scripts {
    reserve: Script,
    extend: Script,
    release: Script,
    hit: Script,
    lead: Script,
    resign: Script,
}

impl Scripts {
    fn new() -> Scripts {
        Scripts {
            reserve: Script::new(RESERVE),
            extend: Script::new(EXTEND),
            release: Script::new(RELEASE),
            hit: Script::new(HIT),
            lead: Script::new(LEAD),
            resign: Script::new(RESIGN),
        }
    }
}

/// [`SharedState`] on Redis. Cheap to share behind an `Arc`; calls run concurrently over
/// one multiplexed connection.
pub struct RedisShared {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    scripts: Scripts,
}

impl std::fmt::Debug for RedisShared {
    // The URL is deliberately not kept or shown: it may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisShared")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisShared {
    /// Connects to the Redis at `url` (`redis://[user:password@]host:port[/db]`), naming
    /// every key `"{prefix}:{kind}:{key}"`. `timeout` bounds the connection attempt and
    /// every later call; an unreachable server gives [`SharedError::Unavailable`] within
    /// about `timeout`.
    pub async fn connect(
        url: &str,
        prefix: &str,
        timeout: Duration,
    ) -> Result<RedisShared, SharedError> {
        // The parse error is not passed on: its detail could echo parts of the URL.
        let client = redis::Client::open(url).map_err(|e| {
            SharedError::Unavailable(format!("invalid Redis URL ({})", e.category()))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(CONNECT_RETRIES)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(timeout.min(Duration::from_secs(1)));
        let conn =
            match tokio::time::timeout(timeout, ConnectionManager::new_with_config(client, config))
                .await
            {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => return Err(connect_error(&e)),
                Err(_) => return Err(timed_out(timeout)),
            };
        Ok(RedisShared {
            conn,
            prefix: prefix.to_owned(),
            timeout,
            scripts: Scripts::new(),
        })
    }

    fn key(&self, kind: &str, key: &str) -> String {
        format!("{}:{kind}:{key}", self.prefix)
    }

    /// Runs one call within the timeout, mapping its errors.
    async fn call<T>(&self, call: impl Future<Output = RedisResult<T>>) -> Result<T, SharedError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(map_error(&e)),
            Err(_) => Err(timed_out(self.timeout)),
        }
    }
}

fn timed_out(timeout: Duration) -> SharedError {
    SharedError::Unavailable(format!("no answer within {timeout:?}"))
}

/// Connection trouble is `Unavailable`; answers that make no sense are `Protocol`.
fn map_error(e: &RedisError) -> SharedError {
    match e.kind() {
        // A reply of the wrong shape, or a script or command error: the server answered,
        // but not as this code expects.
        ErrorKind::Parse
        | ErrorKind::UnexpectedReturnType
        | ErrorKind::Server(ServerErrorKind::ResponseError) => SharedError::Protocol(message(e)),
        _ => SharedError::Unavailable(message(e)),
    }
}

/// Any failure to set up the connection (refused, timed out, authentication, a bad
/// database number) means the store cannot be used: `Unavailable`, whatever its kind.
fn connect_error(e: &RedisError) -> SharedError {
    SharedError::Unavailable(message(e))
}

/// The error's text, which comes from the server or the socket, never from the URL (which
/// may hold a password); for authentication and configuration errors only the category is
/// kept, to be sure.
fn message(e: &RedisError) -> String {
    match e.kind() {
        ErrorKind::AuthenticationFailed | ErrorKind::InvalidClientConfig => e.category().to_owned(),
        _ => e.to_string(),
    }
}

/// Milliseconds for `PX` / `PEXPIRE`: rounded up (so a TTL is never shortened) and at
/// least 1 (Redis rejects 0).
fn millis(d: Duration) -> u64 {
    let rounded_up = d.min(MAX_TTL).as_nanos().div_ceil(1_000_000);
    u64::try_from(rounded_up).unwrap_or(u64::MAX).max(1)
}

/// Microseconds for the rate window, at least 1.
fn micros(d: Duration) -> u64 {
    u64::try_from(d.min(MAX_TTL).as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

fn to_u64(value: i64, what: &str) -> Result<u64, SharedError> {
    u64::try_from(value).map_err(|_| SharedError::Protocol(format!("negative {what}: {value}")))
}

#[async_trait]
impl SharedState for RedisShared {
    async fn reserve(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, SharedError> {
        let mut conn = self.conn.clone();
        let hold = self.key("hold", key);
        let taken: i64 = self
            .call(
                self.scripts
                    .reserve
                    .key(&hold)
                    .arg(holder)
                    .arg(millis(ttl))
                    .invoke_async(&mut conn),
            )
            .await?;
        Ok(taken == 1)
    }

    async fn extend(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, SharedError> {
        let mut conn = self.conn.clone();
        let hold = self.key("hold", key);
        let extended: i64 = self
            .call(
                self.scripts
                    .extend
                    .key(&hold)
                    .arg(holder)
                    .arg(millis(ttl))
                    .invoke_async(&mut conn),
            )
            .await?;
        Ok(extended == 1)
    }

    async fn release(&self, key: &str, holder: &str) -> Result<bool, SharedError> {
        let mut conn = self.conn.clone();
        let hold = self.key("hold", key);
        let released: i64 = self
            .call(
                self.scripts
                    .release
                    .key(&hold)
                    .arg(holder)
                    .invoke_async(&mut conn),
            )
            .await?;
        Ok(released == 1)
    }

    async fn holder(&self, key: &str) -> Result<Option<String>, SharedError> {
        let mut conn = self.conn.clone();
        let hold = self.key("hold", key);
        self.call(redis::cmd("GET").arg(&hold).query_async(&mut conn))
            .await
    }

    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, SharedError> {
        let mut conn = self.conn.clone();
        let log = self.key("rate", key);
        // Members must be unique or two hits in the same microsecond would count once.
        let member = uuid::Uuid::new_v4().simple().to_string();
        let (allowed, count, retry_us): (i64, i64, i64) = self
            .call(
                self.scripts
                    .hit
                    .key(&log)
                    .arg(limit)
                    .arg(micros(window))
                    .arg(millis(window))
                    .arg(&member)
                    .invoke_async(&mut conn),
            )
            .await?;
        let allowed = match allowed {
            0 => false,
            1 => true,
            other => return Err(SharedError::Protocol(format!("rate decision {other}"))),
        };
        Ok(RateDecision {
            allowed,
            count: u32::try_from(to_u64(count, "hit count")?).unwrap_or(u32::MAX),
            retry_after: if allowed {
                Duration::ZERO
            } else {
                Duration::from_micros(to_u64(retry_us, "retry_after")?)
            },
        })
    }

    async fn use_once(&self, id: &str, ttl: Duration) -> Result<bool, SharedError> {
        let mut conn = self.conn.clone();
        let used = self.key("once", id);
        let reply: Value = self
            .call(
                redis::cmd("SET")
                    .arg(&used)
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(ttl))
                    .query_async(&mut conn),
            )
            .await?;
        match reply {
            Value::Okay => Ok(true),
            Value::Nil => Ok(false),
            other => Err(SharedError::Protocol(format!("SET NX answered {other:?}"))),
        }
    }

    async fn lead(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<u64>, SharedError> {
        let mut conn = self.conn.clone();
        let lease = self.key("lease", name);
        let fence = self.key("fence", name);
        let token: Option<i64> = self
            .call(
                self.scripts
                    .lead
                    .key(&lease)
                    .key(&fence)
                    .arg(holder)
                    .arg(millis(ttl))
                    .arg(millis(FENCE_TTL))
                    .invoke_async(&mut conn),
            )
            .await?;
        token.map(|t| to_u64(t, "fencing token")).transpose()
    }

    async fn resign(&self, name: &str, holder: &str) -> Result<(), SharedError> {
        let mut conn = self.conn.clone();
        let lease = self.key("lease", name);
        let _resigned: i64 = self
            .call(
                self.scripts
                    .resign
                    .key(&lease)
                    .arg(holder)
                    .invoke_async(&mut conn),
            )
            .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), SharedError> {
        let mut conn = self.conn.clone();
        let pong: String = self.call(redis::cmd("PING").query_async(&mut conn)).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(SharedError::Protocol(format!("PING answered {pong:?}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_rounds_up_and_is_never_zero() {
        assert_eq!(millis(Duration::ZERO), 1);
        assert_eq!(millis(Duration::from_micros(1)), 1);
        assert_eq!(millis(Duration::from_millis(250)), 250);
        assert_eq!(millis(Duration::from_micros(250_001)), 251);
        assert_eq!(millis(Duration::MAX), millis(MAX_TTL));
    }

    #[test]
    fn micros_is_never_zero() {
        assert_eq!(micros(Duration::ZERO), 1);
        assert_eq!(micros(Duration::from_millis(3)), 3_000);
    }
}
