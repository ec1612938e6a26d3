//! The store as the operator sees it: every operation timed and every error
//! counted, by operation, whichever store runs.
//!
//! A decorator rather than timing inside each store, so memory, Redis and
//! Redis Cluster report alike and a new operation cannot be forgotten (the
//! trait has no default for what this wraps). The labels are the trait's
//! operation names: a closed list.

use super::{Store, StoreError};
use crate::metrics::StoreMetrics;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Measured {
    inner: Arc<dyn Store>,
    metrics: StoreMetrics,
}

impl Measured {
    pub fn new(inner: Arc<dyn Store>, metrics: StoreMetrics) -> Self {
        Self { inner, metrics }
    }

    async fn time<T>(
        &self,
        op: &'static str,
        f: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let r = f.await;
        self.metrics.observe(op, started.elapsed(), r.is_err());
        r
    }
}

#[async_trait::async_trait]
impl Store for Measured {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        self.time("put", self.inner.put(key, value, ttl)).await
    }
    async fn put_new(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        self.time("put_new", self.inner.put_new(key, value, ttl))
            .await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.time("get", self.inner.get(key)).await
    }
    async fn put_new_pending(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.time("put_new", self.inner.put_new_pending(key, value, ttl))
            .await
    }
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.time("take", self.inner.take(key)).await
    }
    async fn swap(
        &self,
        key: &str,
        expected: &[u8],
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.time("swap", self.inner.swap(key, expected, value, ttl))
            .await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.time("delete", self.inner.delete(key)).await
    }
    async fn count(
        &self,
        windows: &[(String, Duration)],
    ) -> Result<Vec<(u64, Duration)>, StoreError> {
        self.time("count", self.inner.count(windows)).await
    }
    async fn uncount(&self, keys: &[String]) -> Result<(), StoreError> {
        self.time("uncount", self.inner.uncount(keys)).await
    }
    async fn track(&self, set: &str, member: &str, until: u64) -> Result<(), StoreError> {
        self.time("track", self.inner.track(set, member, until))
            .await
    }
    async fn untrack(&self, set: &str, member: &str) -> Result<(), StoreError> {
        self.time("untrack", self.inner.untrack(set, member)).await
    }
    async fn tracked(&self, set: &str, now: u64) -> Result<u64, StoreError> {
        self.time("tracked", self.inner.tracked(set, now)).await
    }
    async fn put_many(&self, items: Vec<(String, Vec<u8>, Duration)>) -> Result<(), StoreError> {
        self.time("put_many", self.inner.put_many(items)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_measured_store_keeps_the_store_contract_and_counts_each_operation() {
        let metrics = crate::metrics::Metrics::new();
        let store = Measured::new(crate::store::memory::MemoryStore::new(100), metrics.store());
        super::super::contract::exercise(&store).await;
        let text = metrics.render().unwrap();
        for op in [
            "put", "put_new", "get", "take", "swap", "delete", "count", "track", "tracked",
        ] {
            let series = format!("munjigi_store_operation_duration_seconds_count{{op=\"{op}\"}} ");
            let n: f64 = text
                .lines()
                .find_map(|l| l.strip_prefix(&series))
                .unwrap_or_else(|| panic!("{series} in {text}"))
                .parse()
                .unwrap();
            assert!(n >= 1.0, "{op}");
        }
        assert!(
            !text.contains("munjigi_store_errors_total{"),
            "no errors: {text}"
        );
    }
}
