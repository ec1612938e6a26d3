//! Shared state of logins, codes and sessions, behind one small trait.
//!
//! Everything a login needs between two requests lives here, never in a handler's
//! memory, so any replica can serve any step. The operations are the few a Redis
//! implementation can do atomically (SET PX, GET, GETDEL, SET NX, and a
//! compare-and-swap script), so flows never depend on which store runs.
//! Values are opaque bytes; callers own their encoding.

#[cfg(test)]
mod contract;
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

    /// Writes several values (each with its TTL); one round trip where the store
    /// can (a Redis pipeline), not atomic as a whole.
    async fn put_many(&self, items: Vec<(String, Vec<u8>, Duration)>) -> Result<(), StoreError> {
        for (k, v, ttl) in items {
            self.put(&k, v, ttl).await?;
        }
        Ok(())
    }
}
