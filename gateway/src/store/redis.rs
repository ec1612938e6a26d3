//! The Redis store: shared state for many gateway replicas.
//!
//! Each trait operation is one atomic Redis command or script, so two replicas
//! can never both take one code or both win one compare-and-swap: `SET PX`,
//! `SET NX PX`, `GET`, `GETDEL`, a Lua compare-and-set, `DEL`. The connection
//! manager reconnects by itself; while Redis is down every call fails fast with
//! `StoreError::Unavailable`, which the gateway shows as "try again shortly".
//! Keys of one login share a hash tag (`mj:{id}:…`), ready for Redis Cluster.

use super::{Store, StoreError};
use redis::aio::ConnectionManager;
use std::time::Duration;

/// `SET` only if the stored value is still `ARGV[1]`.
/// Fixed-window counters: for each key, INCR, and on a new counter (or one
/// that lost its expiry) PEXPIRE to the window; returns count and PTTL pairs.
/// One script, so the counts of one subject are atomic and one round trip.
const COUNT: &str = r"
local out = {}
for i, k in ipairs(KEYS) do
  local n = redis.call('INCR', k)
  local left = redis.call('PTTL', k)
  if n == 1 or left < 0 then
    redis.call('PEXPIRE', k, ARGV[i])
    left = tonumber(ARGV[i])
  end
  out[#out + 1] = n
  out[#out + 1] = left
end
return out
";

/// Takes one event back from each counter that still exists (never below
/// zero, never bringing an expired one back).
const UNCOUNT: &str = r"
for _, k in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', k) or '0')
  if n and n > 0 then redis.call('DECR', k) end
end
return 0
";

const SWAP: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
";

/// One Redis (reconnecting manager) or a Redis Cluster (slot-aware connection).
#[derive(Clone)]
enum Conn {
    Single(ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl redis::aio::ConnectionLike for Conn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

pub struct RedisStore {
    conn: Conn,
    swap: redis::Script,
    count: redis::Script,
    uncount: redis::Script,
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// A tracked set outlives its last member's arrival by this much.
const TRACKED_SET_TTL_SECS: u64 = 3600;

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisStore {
    /// Connects (and checks the server answers) within `timeout`.
    pub async fn connect(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2);
        let conn =
            tokio::time::timeout(timeout, ConnectionManager::new_with_config(client, config))
                .await
                .map_err(|_| {
                    StoreError::Unavailable(format!("no answer from Redis within {timeout:?}"))
                })?
                .map_err(unavailable)?;
        Ok(Self {
            conn: Conn::Single(conn),
            swap: redis::Script::new(SWAP),
            count: redis::Script::new(COUNT),
            uncount: redis::Script::new(UNCOUNT),
        })
    }

    /// Connects to a Redis Cluster through any of its nodes.
    pub async fn connect_cluster(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        let client = redis::cluster::ClusterClient::builder(vec![url])
            .connection_timeout(timeout)
            .response_timeout(timeout)
            .retries(2)
            .build()
            .map_err(unavailable)?;
        let conn = tokio::time::timeout(timeout * 3, client.get_async_connection())
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "no answer from the Redis Cluster within {timeout:?}"
                ))
            })?
            .map_err(unavailable)?;
        Ok(Self {
            conn: Conn::Cluster(conn),
            swap: redis::Script::new(SWAP),
            count: redis::Script::new(COUNT),
            uncount: redis::Script::new(UNCOUNT),
        })
    }
}

#[async_trait::async_trait]
impl Store for RedisStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("PX")
            .arg(millis(ttl))
            .query_async::<()>(&mut c)
            .await
            .map_err(unavailable)
    }

    async fn put_new(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let r: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(r.is_some())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("GET")
            .arg(key)
            .query_async(&mut c)
            .await
            .map_err(unavailable)
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("GETDEL")
            .arg(key)
            .query_async(&mut c)
            .await
            .map_err(unavailable)
    }

    async fn swap(
        &self,
        key: &str,
        expected: &[u8],
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let n: i64 = self
            .swap
            .key(key)
            .arg(expected)
            .arg(value)
            .arg(millis(ttl))
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(n == 1)
    }

    async fn put_many(&self, items: Vec<(String, Vec<u8>, Duration)>) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        if matches!(c, Conn::Cluster(_)) {
            // Keys may live in different slots: one command each.
            for (k, v, ttl) in items {
                self.put(&k, v, ttl).await?;
            }
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (k, v, ttl) in items {
            pipe.cmd("SET")
                .arg(k)
                .arg(v)
                .arg("PX")
                .arg(millis(ttl))
                .ignore();
        }
        pipe.query_async::<()>(&mut c).await.map_err(unavailable)
    }

    async fn count(
        &self,
        windows: &[(String, Duration)],
    ) -> Result<Vec<(u64, Duration)>, StoreError> {
        let mut c = self.conn.clone();
        let mut inv = self.count.prepare_invoke();
        for (k, length) in windows {
            inv.key(k).arg(millis(*length));
        }
        let flat: Vec<i64> = inv.invoke_async(&mut c).await.map_err(unavailable)?;
        Ok(flat
            .chunks(2)
            .map(|p| match p {
                [n, left] => (
                    u64::try_from(*n).unwrap_or(0),
                    Duration::from_millis(u64::try_from(*left).unwrap_or(0)),
                ),
                _ => (0, Duration::ZERO),
            })
            .collect())
    }

    async fn uncount(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let mut inv = self.uncount.prepare_invoke();
        for k in keys {
            inv.key(k);
        }
        inv.invoke_async::<()>(&mut c).await.map_err(unavailable)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("DEL")
            .arg(key)
            .query_async::<()>(&mut c)
            .await
            .map_err(unavailable)
    }

    async fn track(&self, set: &str, member: &str, until: u64) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        // Expired members go as new ones come, so the set never outgrows
        // what is live whether or not anyone reads it, and the whole set
        // goes an hour after the last member came (none lives that long).
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut pipe = redis::pipe();
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(set)
            .arg("-inf")
            .arg(now)
            .ignore()
            .cmd("ZADD")
            .arg(set)
            .arg(until)
            .arg(member)
            .ignore()
            .cmd("EXPIRE")
            .arg(set)
            .arg(TRACKED_SET_TTL_SECS)
            .ignore();
        pipe.query_async::<()>(&mut c).await.map_err(unavailable)
    }

    async fn untrack(&self, set: &str, member: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        redis::cmd("ZREM")
            .arg(set)
            .arg(member)
            .query_async::<()>(&mut c)
            .await
            .map_err(unavailable)
    }

    async fn tracked(&self, set: &str, now: u64) -> Result<u64, StoreError> {
        let mut c = self.conn.clone();
        // One key: one slot, so the pipeline suits a cluster too.
        let mut pipe = redis::pipe();
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(set)
            .arg("-inf")
            .arg(now)
            .ignore()
            .cmd("ZCARD")
            .arg(set);
        let (n,): (u64,) = pipe.query_async(&mut c).await.map_err(unavailable)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use munjigi_e2e::{no_persistence, start_cluster, start_redis, start_redis_on};

    async fn connect(port: u16) -> RedisStore {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match RedisStore::connect(
                &format!("redis://127.0.0.1:{port}"),
                Duration::from_millis(500),
            )
            .await
            {
                Ok(s) => return s,
                Err(e) if std::time::Instant::now() > deadline => {
                    panic!("redis did not start: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    #[tokio::test]
    async fn redis_store_keeps_the_store_contract() {
        let server = start_redis();
        let store = connect(server.port).await;
        super::super::contract::exercise(&store).await;
    }

    #[tokio::test]
    async fn redis_cluster_store_keeps_the_store_contract_and_login_keys_share_a_slot() {
        let cluster = start_cluster();
        let url = format!("redis://127.0.0.1:{}", cluster.seed);
        let store = RedisStore::connect_cluster(&url, Duration::from_secs(2))
            .await
            .unwrap();
        super::super::contract::exercise(&store).await;
        // Every key of one login carries its id as the hash tag: one slot.
        let mut c = store.conn.clone();
        let mut slots = std::collections::HashSet::new();
        for what in ["txn", "poll", "verify:1"] {
            let key = crate::txn::key_of("AbC-123_x", what);
            let slot: i64 = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(&key)
                .query_async(&mut c)
                .await
                .unwrap();
            slots.insert(slot);
        }
        assert_eq!(slots.len(), 1, "{slots:?}");
        // A compare-and-swap on a login key works across the cluster.
        let key = crate::txn::key_of("AbC-123_x", "txn");
        store
            .put(&key, b"a".to_vec(), Duration::from_secs(5))
            .await
            .unwrap();
        assert!(store
            .swap(&key, b"a", b"b".to_vec(), Duration::from_secs(5))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn an_outage_is_an_error_and_recovery_needs_no_restart() {
        let server = start_redis();
        let port = server.port;
        let store = connect(port).await;
        store
            .put("k", b"v".to_vec(), Duration::from_secs(5))
            .await
            .unwrap();
        drop(server);
        let err = store.get("k").await;
        assert!(matches!(err, Err(StoreError::Unavailable(_))), "{err:?}");
        let _again = start_redis_on(port, &no_persistence());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match store.put("k2", b"v".to_vec(), Duration::from_secs(5)).await {
                Ok(()) => break,
                Err(e) => {
                    assert!(std::time::Instant::now() < deadline, "no recovery: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        assert_eq!(store.get("k2").await.unwrap().as_deref(), Some(&b"v"[..]));
    }
}
