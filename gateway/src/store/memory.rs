//! The in-process store: the default, for the demo and single-node sites.
//!
//! Sharded mutexes over hash maps, expiry checked on read and swept by one
//! background task for the whole store (never a task per entry). Bounded in
//! entries so a flood of abandoned logins cannot exhaust memory.

use super::{Store, StoreError};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

const SHARDS: usize = 64;

struct Entry {
    value: Vec<u8>,
    expires: Instant,
}

type Shard = Mutex<HashMap<String, Entry>>;

pub struct MemoryStore {
    shards: Vec<Shard>,
    hasher: RandomState,
    len: AtomicUsize,
    max_entries: usize,
    /// Tracked sets: set → member → until (Unix seconds). Pruned as they are
    /// read and by the sweeper; at most `max_entries` members in all.
    sets: Mutex<HashMap<String, HashMap<String, u64>>>,
}

impl MemoryStore {
    pub fn new(max_entries: usize) -> Arc<Self> {
        Arc::new(Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            len: AtomicUsize::new(0),
            max_entries,
            sets: Mutex::new(HashMap::new()),
        })
    }

    /// Starts the sweeper; it stops when the store is dropped.
    pub fn spawn_sweeper(self: &Arc<Self>, every: Duration) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(store) => store.sweep(),
                    None => return,
                }
            }
        });
    }

    pub fn sweep(&self) {
        let unix = unix_now();
        for members in lock(&self.sets).values_mut() {
            members.retain(|_, u| *u > unix);
        }
        let now = Instant::now();
        for shard in &self.shards {
            let mut map = lock(shard);
            let before = map.len();
            map.retain(|_, e| e.expires > now);
            self.len.fetch_sub(before - map.len(), Ordering::Relaxed);
        }
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, HashMap<String, Entry>> {
        let i = (self.hasher.hash_one(key) as usize) % SHARDS;
        #[allow(clippy::indexing_slicing)] // i < SHARDS == shards.len(), fixed at construction
        lock(&self.shards[i])
    }

    /// The share of capacity new work (logins, counters) may use; the rest
    /// is kept for what logged-in work needs.
    fn pending_cap(&self) -> usize {
        self.max_entries - self.max_entries / 10
    }

    fn insert(
        &self,
        map: &mut HashMap<String, Entry>,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.insert_within(map, key, value, ttl, self.max_entries)
    }

    fn insert_within(
        &self,
        map: &mut HashMap<String, Entry>,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
        cap: usize,
    ) -> Result<(), StoreError> {
        let entry = Entry {
            value,
            expires: Instant::now() + ttl,
        };
        if map.insert(key.to_owned(), entry).is_none()
            && self.len.fetch_add(1, Ordering::Relaxed) >= cap
        {
            map.remove(key);
            self.len.fetch_sub(1, Ordering::Relaxed);
            return Err(StoreError::Full);
        }
        Ok(())
    }

    fn live<'m>(
        map: &'m mut HashMap<String, Entry>,
        key: &str,
        len: &AtomicUsize,
    ) -> Option<&'m mut Entry> {
        let now = Instant::now();
        if map.get(key).is_some_and(|e| e.expires <= now) {
            map.remove(key);
            len.fetch_sub(1, Ordering::Relaxed);
        }
        map.get_mut(key)
    }
}

/// A poisoned shard only means another request panicked mid-update of plain data;
/// the map itself is still consistent, so keep serving.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn put(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        let mut map = self.shard(key);
        Self::live(&mut map, key, &self.len);
        self.insert(&mut map, key, value, ttl)
    }

    async fn put_new(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        let mut map = self.shard(key);
        if Self::live(&mut map, key, &self.len).is_some() {
            return Ok(false);
        }
        self.insert(&mut map, key, value, ttl).map(|()| true)
    }

    async fn put_new_pending(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut map = self.shard(key);
        if Self::live(&mut map, key, &self.len).is_some() {
            return Ok(false);
        }
        let cap = self.pending_cap();
        self.insert_within(&mut map, key, value, ttl, cap)
            .map(|()| true)
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut map = self.shard(key);
        Ok(Self::live(&mut map, key, &self.len).map(|e| e.value.clone()))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut map = self.shard(key);
        if Self::live(&mut map, key, &self.len).is_none() {
            return Ok(None);
        }
        let e = map.remove(key);
        if e.is_some() {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(e.map(|e| e.value))
    }

    async fn swap(
        &self,
        key: &str,
        expected: &[u8],
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut map = self.shard(key);
        match Self::live(&mut map, key, &self.len) {
            Some(e) if e.value == expected => {
                e.value = value;
                e.expires = Instant::now() + ttl;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn count(
        &self,
        windows: &[(String, Duration)],
    ) -> Result<Vec<(u64, Duration)>, StoreError> {
        let now = Instant::now();
        let mut out = Vec::with_capacity(windows.len());
        for (key, length) in windows {
            let mut map = self.shard(key);
            let (n, expires) = match Self::live(&mut map, key, &self.len) {
                Some(e) => {
                    let n = <[u8; 8]>::try_from(e.value.as_slice())
                        .map_or(0, u64::from_be_bytes)
                        .saturating_add(1);
                    e.value = n.to_be_bytes().to_vec();
                    (n, e.expires)
                }
                None => {
                    let cap = self.pending_cap();
                    self.insert_within(&mut map, key, 1u64.to_be_bytes().to_vec(), *length, cap)?;
                    (1, now + *length)
                }
            };
            out.push((n, expires.saturating_duration_since(now)));
        }
        Ok(out)
    }

    async fn uncount(&self, keys: &[String]) -> Result<(), StoreError> {
        for key in keys {
            let mut map = self.shard(key);
            if let Some(e) = Self::live(&mut map, key, &self.len) {
                let n = <[u8; 8]>::try_from(e.value.as_slice()).map_or(0, u64::from_be_bytes);
                e.value = n.saturating_sub(1).to_be_bytes().to_vec();
            }
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut map = self.shard(key);
        if map.remove(key).is_some() {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn track(&self, set: &str, member: &str, until: u64) -> Result<(), StoreError> {
        let mut sets = lock(&self.sets);
        let total: usize = sets.values().map(HashMap::len).sum();
        if total >= self.max_entries {
            let now = unix_now();
            for members in sets.values_mut() {
                members.retain(|_, u| *u > now);
            }
            if sets.values().map(HashMap::len).sum::<usize>() >= self.max_entries {
                return Err(StoreError::Full);
            }
        }
        sets.entry(set.to_owned())
            .or_default()
            .insert(member.to_owned(), until);
        Ok(())
    }

    async fn untrack(&self, set: &str, member: &str) -> Result<(), StoreError> {
        if let Some(members) = lock(&self.sets).get_mut(set) {
            members.remove(member);
        }
        Ok(())
    }

    async fn tracked(&self, set: &str, now: u64) -> Result<u64, StoreError> {
        Ok(lock(&self.sets).get_mut(set).map_or(0, |members| {
            members.retain(|_, u| *u > now);
            u64::try_from(members.len()).unwrap_or(u64::MAX)
        }))
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_keeps_the_store_contract() {
        super::super::contract::exercise(MemoryStore::new(100).as_ref()).await;
    }

    #[tokio::test]
    async fn new_logins_leave_a_tenth_for_logged_in_work() {
        let s = MemoryStore::new(20);
        let t = Duration::from_secs(5);
        let mut pending = 0;
        while s
            .put_new_pending(&format!("p{pending}"), vec![1], t)
            .await
            .is_ok()
        {
            pending += 1;
        }
        assert_eq!(pending, 18, "new work stops at 90 %");
        assert!(matches!(
            s.count(&[("c".into(), t)]).await,
            Err(StoreError::Full)
        ));
        // What logged-in work writes still fits, up to the last entry.
        s.put("code", vec![1], t).await.unwrap();
        assert!(s.put_new("token", vec![1], t).await.unwrap());
        assert!(matches!(
            s.put("one-too-many", vec![1], t).await,
            Err(StoreError::Full)
        ));
    }

    #[tokio::test]
    async fn expired_entries_are_swept() {
        let s = MemoryStore::new(10);
        s.put("k", b"v".to_vec(), Duration::from_secs(5))
            .await
            .unwrap();
        s.put("j", b"v".to_vec(), Duration::from_millis(1))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        s.sweep();
        assert_eq!(s.len(), 1);
    }

    #[tokio::test]
    async fn bounded() {
        let s = MemoryStore::new(2);
        let t = Duration::from_secs(5);
        s.put("a", vec![], t).await.unwrap();
        s.put("b", vec![], t).await.unwrap();
        assert!(matches!(s.put("c", vec![], t).await, Err(StoreError::Full)));
        s.put("a", vec![1], t).await.unwrap();
        assert_eq!(s.len(), 2);
    }
}
