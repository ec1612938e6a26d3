//! The behaviour every store must have, run against each implementation
//! (memory in-process, Redis against a real `redis-server`).

use super::Store;
use std::time::Duration;

pub async fn exercise(s: &dyn Store) {
    let t = Duration::from_secs(5);
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
