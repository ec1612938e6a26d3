//! Shared state of logins, codes and sessions, behind one small trait.
//!
//! Everything a login needs between two requests lives here, never in a handler's
//! memory, so any replica can serve any step. The operations are the few a Redis
//! implementation can do atomically (SET PX, GET, GETDEL, SET NX, a
//! compare-and-swap script and a fixed-window counter script), so flows never
//! depend on which store runs; and a set of members with an expiry each
//! (a sorted set), so an operator can count what is in flight across replicas.
//! Values are opaque bytes; callers own their encoding.

#[cfg(test)]
mod contract;
pub mod keys;
pub mod measured;
pub mod memory;
pub mod redis;

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("the store is full")]
    Full,
}

#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// Writes `value` under `key` for `ttl`, replacing any value.
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError>;
    /// Writes only if no live value exists; true if written (claims, replay caches).
    async fn put_new(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError>;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// [`Store::put_new`] for work that has not earned its place yet (a new
    /// login): a bounded store keeps the last part of its capacity for what
    /// logged-in work needs (codes, sessions, tokens), so new logins find it
    /// full first. Redis leaves memory policy to its operator.
    async fn put_new_pending(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.put_new(key, value, ttl).await
    }
    /// Reads and deletes in one step: a second `take` of the same key gets `None`.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Replaces the value only if it still equals `expected`; true if replaced.
    async fn swap(
        &self,
        key: &str,
        expected: &[u8],
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Counts one event in each fixed window `(key, length)`: a window's
    /// counter starts at the first event and expires `length` later. Returns,
    /// per window, the count including this event and the time left. Atomic
    /// and one round trip; on Redis Cluster the keys must share a hash tag.
    async fn count(
        &self,
        windows: &[(String, Duration)],
    ) -> Result<Vec<(u64, Duration)>, StoreError>;

    /// Takes back one event from each live counter of `keys` (an event that
    /// did not happen after all); expired counters stay gone.
    async fn uncount(&self, keys: &[String]) -> Result<(), StoreError>;

    /// Adds `member` to the set `set` until `until` (Unix seconds), for
    /// counting what is in flight across replicas (pending logins).
    async fn track(&self, set: &str, member: &str, until: u64) -> Result<(), StoreError>;
    /// Removes `member` from `set` (absent: nothing happens).
    async fn untrack(&self, set: &str, member: &str) -> Result<(), StoreError>;
    /// How many members of `set` are live at `now` (Unix seconds); the
    /// expired ones are dropped.
    async fn tracked(&self, set: &str, now: u64) -> Result<u64, StoreError>;

    /// Writes several values (each with its TTL); one round trip where the store
    /// can (a Redis pipeline), not atomic as a whole.
    async fn put_many(&self, items: Vec<(String, Vec<u8>, Duration)>) -> Result<(), StoreError> {
        for (k, v, ttl) in items {
            self.put(&k, v, ttl).await?;
        }
        Ok(())
    }
}
