//! The behaviour every store must have, run against each implementation
//! (memory in-process, Redis against a real `redis-server`).

use super::Store;
use std::time::Duration;

pub async fn exercise(s: &dyn Store) {
    let t = Duration::from_secs(5);
    // Tracked sets: members live until their time; re-tracking moves it.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(s.tracked("c:set", now).await.unwrap(), 0);
    s.track("c:set", "a", now + 60).await.unwrap();
    s.track("c:set", "b", now + 60).await.unwrap();
    s.track("c:set", "b", now + 120).await.unwrap();
    s.track("c:set", "old", now - 1).await.unwrap();
    assert_eq!(s.tracked("c:set", now).await.unwrap(), 2);
    assert_eq!(s.tracked("c:set", now + 61).await.unwrap(), 1, "a expired");
    s.untrack("c:set", "b").await.unwrap();
    s.untrack("c:set", "never").await.unwrap();
    assert_eq!(s.tracked("c:set", now).await.unwrap(), 0);
    // take: once.
    s.put("c:k", b"v".to_vec(), t).await.unwrap();
    assert_eq!(s.take("c:k").await.unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(s.take("c:k").await.unwrap(), None);
    // put_new: first writer wins.
    assert!(s.put_new("c:n", b"a".to_vec(), t).await.unwrap());
    assert!(!s.put_new("c:n", b"b".to_vec(), t).await.unwrap());
    // swap: only from the expected value.
    assert!(!s.swap("c:n", b"x", b"c".to_vec(), t).await.unwrap());
    assert!(s.swap("c:n", b"a", b"c".to_vec(), t).await.unwrap());
    assert!(!s.swap("c:n", b"a", b"d".to_vec(), t).await.unwrap());
    assert_eq!(s.get("c:n").await.unwrap().as_deref(), Some(&b"c"[..]));
    assert!(!s.swap("c:absent", b"a", b"d".to_vec(), t).await.unwrap());
    // delete, and binary values survive.
    s.put("c:bin", vec![0, 255, 10, 13], t).await.unwrap();
    assert_eq!(s.get("c:bin").await.unwrap(), Some(vec![0, 255, 10, 13]));
    s.delete("c:bin").await.unwrap();
    assert_eq!(s.get("c:bin").await.unwrap(), None);
    // Fixed-window counters: every window counts, each expires on its own.
    let w = |k: &str, ms: u64| (k.to_owned(), Duration::from_millis(ms));
    let windows = [w("{c:rl}:short", 80), w("{c:rl}:long", 5_000)];
    for want in 1..=3u64 {
        let got = s.count(&windows).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].0, got[1].0), (want, want));
        assert!(got[0].1 <= Duration::from_millis(80) && got[1].1 > Duration::from_millis(80));
    }
    // An event taken back; a counter that is gone stays gone.
    s.uncount(&["{c:rl}:long".to_owned(), "{c:rl}:never".to_owned()])
        .await
        .unwrap();
    assert_eq!(s.get("{c:rl}:never").await.unwrap(), None);
    tokio::time::sleep(Duration::from_millis(120)).await;
    let got = s.count(&windows).await.unwrap();
    assert_eq!(
        (got[0].0, got[1].0),
        (1, 3),
        "the short window started again"
    );
    assert!(got[0].1 > Duration::ZERO, "{got:?}");
    // expiry.
    s.put("c:e", b"v".to_vec(), Duration::from_millis(20))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(s.get("c:e").await.unwrap(), None);
    assert!(s.put_new("c:e", b"w".to_vec(), t).await.unwrap());
    // Several writes at once.
    s.put_many(vec![
        ("c:m1".into(), b"1".to_vec(), t),
        ("c:m2".into(), b"2".to_vec(), t),
    ])
    .await
    .unwrap();
    assert_eq!(s.get("c:m1").await.unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(s.get("c:m2").await.unwrap().as_deref(), Some(&b"2"[..]));
    // Concurrent takes of one key: exactly one wins.
    s.put("c:race", b"v".to_vec(), t).await.unwrap();
    let (a, b) = tokio::join!(s.take("c:race"), s.take("c:race"));
    assert_eq!(
        usize::from(a.unwrap().is_some()) + usize::from(b.unwrap().is_some()),
        1
    );
}
