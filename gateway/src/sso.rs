//! Everything one single sign-on session handed out, so that one logout ends
//! all of it: the gateway session (`mj_sid`), the proxy sessions (`mj_px`)
//! started from it on route hosts, and the access tokens issued from it.
//! Without this, a logout ended only the gateway cookie while a proxied site
//! and every site's `/userinfo` token went on working.
//!
//! The store keeps one index per session, `sso:<sid>`: the store key of each
//! thing handed out, what it is, and when it ends. It lives exactly as long as
//! the longest-lived thing in it (a proxy session may outlive the gateway
//! session; nothing outlives its own entry). It is one key, read and rewritten
//! by compare-and-swap, and every listed key is deleted by its own single-key
//! command: nothing needs two keys in one slot, so it works the same on one
//! Redis and on a Redis Cluster without a hash tag, and on every replica.
//!
//! Things are listed after they are written, and [`end_everything`] turns the
//! index into a tombstone before it deletes what was listed. So a proxy
//! hand-over or a code redeemed just after the logout finds the tombstone when
//! it registers and is undone at once ([`Attached::Ended`]): nothing made from
//! an ended session survives, whichever replica made it.
//!
//! [`end_everything`] is the one place a single sign-on ends (RP-initiated
//! logout, the proxy's logout, SAML Single Logout through
//! [`crate::login::session::end`]). The index also lists the sites that took
//! part (an OIDC client given an ID token, a SAML SP given an assertion, with
//! the subject each was given), so the [`Ended`] summary says whom
//! [`crate::logout`] must tell, and a SAML LogoutRequest can be checked
//! against the NameID that very SP received. Parties are kept in a field of
//! their own: a replica of the previous version reads and rewrites the index
//! without them (it drops them, never the things to end).
//!
//! Not here: who may ask for a logout and how it is confirmed
//! ([`crate::oidc::logout`]), cookies, pages.

use crate::app::App;
use crate::store::keys::Family;
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// What a session handed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Held {
    /// The gateway's own session (`mj_sid`).
    Session,
    /// A proxy session on a route's host (`mj_px`).
    ProxySession,
    /// An access token given to an OIDC client.
    AccessToken { client_id: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Item {
    #[serde(flatten)]
    held: Held,
    /// The store key (a digest, never the secret itself).
    key: String,
    /// Unix time after which the thing is gone by itself.
    until: u64,
}

/// A site that took part in a session: told when it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Party {
    /// An OIDC client given an ID token; `sub` is the one it was given.
    Oidc { client_id: String, sub: String },
    /// A SAML SP given an assertion with this NameID (persistent: the
    /// pairwise `sub`; transient: the one-off value).
    Saml {
        entity_id: String,
        name_id: String,
        transient: bool,
        /// NameIDs this SP was given earlier in the same session (transient
        /// ones differ per login), newest first, a few at most: its logout
        /// may name any of them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        earlier: Vec<String>,
    },
}

/// NameIDs kept per SP besides the latest.
const EARLIER_NAME_IDS: usize = 3;

impl Party {
    /// Whether `name_id` is one this SP was given in the session.
    pub fn gave(&self, name_id: &str) -> bool {
        match self {
            Party::Saml {
                name_id: latest,
                earlier,
                ..
            } => latest == name_id || earlier.iter().any(|n| n == name_id),
            Party::Oidc { .. } => false,
        }
    }

    /// The site's identifier at its front (a client id or an entityID): one
    /// entry per site, the latest login's.
    pub fn id(&self) -> &str {
        match self {
            Party::Oidc { client_id, .. } => client_id,
            Party::Saml { entity_id, .. } => entity_id,
        }
    }

    /// Which front the site took part through.
    pub fn kind(&self) -> &'static str {
        match self {
            Party::Oidc { .. } => "oidc",
            Party::Saml { .. } => "saml",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PartyItem {
    #[serde(flatten)]
    party: Party,
    until: u64,
}

/// The index format that lists parties: an index without it was written (or
/// last rewritten) by a replica that does not know them, so its party list
/// says nothing.
const WITH_PARTIES: u32 = 2;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    /// [`WITH_PARTIES`] when this version wrote it (absent before).
    #[serde(default)]
    v: u32,
    /// The session was ended: nothing may be added any more.
    #[serde(default)]
    ended: bool,
    #[serde(default)]
    items: Vec<Item>,
    #[serde(default)]
    parties: Vec<PartyItem>,
}

/// Whether [`attach`] registered the thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Attached {
    Yes,
    /// The session had already ended: the thing was deleted and must not be
    /// handed to anyone.
    Ended,
}

/// What [`end_everything`] ended.
#[derive(Debug, Default)]
pub struct Ended {
    pub sessions: usize,
    pub proxy_sessions: usize,
    pub access_tokens: usize,
    /// Clients that were given tokens from this session, each once.
    pub clients: Vec<String>,
    /// The sites that took part, to be told ([`crate::logout`]).
    pub parties: Vec<Party>,
}

/// Bounds the index: beyond this, the item ending soonest is ended early, so
/// everything alive stays listed (a browser that starts thousands of proxy
/// sessions loses its oldest, never its logout).
const MAX_ITEMS: usize = 256;
/// Bounds the parties (sites of one session): beyond this, the one whose
/// entry ends soonest is forgotten (it is then not told of the logout).
const MAX_PARTIES: usize = 64;
/// Compare-and-swap attempts before giving up (each one lost means another
/// request of the same session wrote in between).
const ATTEMPTS: usize = 16;
/// How long an ended session's tombstone stays: longer than anything made
/// from the session can still be in flight (codes and proxy hand-overs live
/// 60 s, a replica's copy of a session 1 s).
pub const TOMBSTONE: Duration = Duration::from_secs(300);

fn index_key(sid: &str) -> String {
    Family::SsoIndex.key(sid)
}

fn decode(raw: &[u8]) -> Index {
    // An unreadable index (a newer version's, say) is replaced, not trusted.
    serde_json::from_slice(raw).unwrap_or_default()
}

fn encode(i: &Index) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(i).map_err(|e| StoreError::Unavailable(format!("sso index: {e}")))
}

/// Registers `key` (already written to the store, living `ttl`) as handed out
/// by session `sid`. If the session has ended, deletes `key` and answers
/// [`Attached::Ended`].
pub async fn attach(
    app: &App,
    sid: &str,
    held: Held,
    key: &str,
    ttl: Duration,
) -> Result<Attached, StoreError> {
    let thing = Some((held, key, ttl));
    let (attached, evicted) =
        attach_in(app.store.as_ref(), sid, thing, None, app.clock.now()).await?;
    for e in &evicted {
        end_item(app, e).await?;
    }
    Ok(attached)
}

/// As [`attach`], and lists `party` as a site of the session (for `ttl`,
/// replacing that site's earlier entry), in the same write. `thing` may be
/// absent (a SAML SP is given nothing the store holds).
pub async fn attach_party(
    app: &App,
    sid: &str,
    thing: Option<(Held, &str, Duration)>,
    party: Party,
    ttl: Duration,
) -> Result<Attached, StoreError> {
    let (attached, evicted) = attach_in(
        app.store.as_ref(),
        sid,
        thing,
        Some((party, ttl)),
        app.clock.now(),
    )
    .await?;
    for e in &evicted {
        end_item(app, e).await?;
    }
    Ok(attached)
}

/// The sites that took part in session `sid` so far (none once it ended);
/// None when the index was last written by a replica that does not list
/// parties (during a rolling upgrade), so nobody can say.
pub async fn parties(app: &App, sid: &str) -> Result<Option<Vec<Party>>, StoreError> {
    let now = app.clock.now();
    let index = app
        .store
        .get(&index_key(sid))
        .await?
        .as_deref()
        .map(decode)
        .unwrap_or_default();
    if index.v < WITH_PARTIES && !index.ended {
        return Ok(None);
    }
    Ok(Some(
        index
            .parties
            .into_iter()
            .filter(|p| p.until > now)
            .map(|p| p.party)
            .collect(),
    ))
}

/// [`attach`] on the store alone; also returns what was evicted (to be ended).
async fn attach_in(
    store: &dyn Store,
    sid: &str,
    thing: Option<(Held, &str, Duration)>,
    party: Option<(Party, Duration)>,
    now: u64,
) -> Result<(Attached, Vec<Item>), StoreError> {
    let ik = index_key(sid);
    for _ in 0..ATTEMPTS {
        let current = store.get(&ik).await?;
        let mut index = current.as_deref().map(decode).unwrap_or_default();
        if index.ended {
            if let Some((_, key, _)) = &thing {
                store.delete(key).await?;
            }
            return Ok((Attached::Ended, Vec::new()));
        }
        index.items.retain(|i| i.until > now);
        index.parties.retain(|p| p.until > now);
        if let Some((held, key, ttl)) = &thing {
            index.items.retain(|i| i.key != *key);
            index.items.push(Item {
                held: held.clone(),
                key: (*key).to_owned(),
                until: now + ttl.as_secs().max(1),
            });
        }
        if let Some((p, ttl)) = &party {
            let mut p = p.clone();
            let before = index
                .parties
                .iter()
                .position(|q| q.party.id() == p.id() && q.party.kind() == p.kind())
                .map(|at| index.parties.remove(at).party);
            if let (
                Some(Party::Saml {
                    name_id: old,
                    earlier: older,
                    ..
                }),
                Party::Saml {
                    name_id, earlier, ..
                },
            ) = (before, &mut p)
            {
                if old != *name_id {
                    earlier.push(old);
                }
                earlier.extend(older.into_iter().filter(|n| n != name_id));
                earlier.dedup();
                earlier.truncate(EARLIER_NAME_IDS);
            }
            index.parties.push(PartyItem {
                party: p,
                until: now + ttl.as_secs().max(1),
            });
            while index.parties.len() > MAX_PARTIES {
                let Some((at, _)) = index
                    .parties
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, i)| i.until)
                else {
                    break;
                };
                index.parties.remove(at);
            }
        }
        let mut evicted = Vec::new();
        while index.items.len() > MAX_ITEMS {
            let Some((at, _)) = index.items.iter().enumerate().min_by_key(|(_, i)| i.until) else {
                break;
            };
            evicted.push(index.items.remove(at));
        }
        let last = index
            .items
            .iter()
            .map(|i| i.until)
            .chain(index.parties.iter().map(|p| p.until))
            .max()
            .unwrap_or(now);
        let life = Duration::from_secs(last.saturating_sub(now).max(1));
        index.v = WITH_PARTIES;
        let bytes = encode(&index)?;
        let written = match &current {
            None => store.put_new(&ik, bytes, life).await?,
            Some(old) => store.swap(&ik, old, bytes, life).await?,
        };
        if written {
            return Ok((Attached::Yes, evicted));
        }
    }
    Err(StoreError::Unavailable(
        "single sign-on index kept changing; try again".into(),
    ))
}

/// Turns session `sid`'s index into a tombstone; returns what it listed.
async fn close_in(store: &dyn Store, sid: &str) -> Result<Index, StoreError> {
    let ik = index_key(sid);
    let tomb = encode(&Index {
        ended: true,
        ..Index::default()
    })?;
    let mut listed = Index::default();
    for _ in 0..ATTEMPTS {
        let current = store.get(&ik).await?;
        listed = current.as_deref().map(decode).unwrap_or_default();
        let written = match &current {
            None => store.put_new(&ik, tomb.clone(), TOMBSTONE).await?,
            Some(old) => store.swap(&ik, old, tomb.clone(), TOMBSTONE).await?,
        };
        if written {
            return Ok(listed);
        }
    }
    // Outpaced by writers: close the index regardless; what they add from
    // now on meets the tombstone.
    store.put(&ik, tomb, TOMBSTONE).await?;
    Ok(listed)
}

/// Ends session `sid` and everything it handed out, on every replica (within
/// the one-second in-process copies of other replicas). Idempotent. The one
/// place a single sign-on ends; later logout propagation starts here.
pub async fn end_everything(app: &App, sid: &str) -> Result<Ended, StoreError> {
    let listed = close_in(app.store.as_ref(), sid).await?;
    let now = app.clock.now();
    let mut ended = Ended {
        parties: listed
            .parties
            .into_iter()
            .filter(|p| p.until > now)
            .map(|p| p.party)
            .collect(),
        ..Ended::default()
    };
    for item in &listed.items {
        end_item(app, item).await?;
        match &item.held {
            Held::Session => ended.sessions += 1,
            Held::ProxySession => ended.proxy_sessions += 1,
            Held::AccessToken { client_id } => {
                ended.access_tokens += 1;
                if !ended.clients.contains(client_id) {
                    ended.clients.push(client_id.clone());
                }
            }
        }
    }
    tracing::info!(
        sid,
        sessions = ended.sessions,
        proxy_sessions = ended.proxy_sessions,
        access_tokens = ended.access_tokens,
        parties = ended.parties.len(),
        "single sign-on ended"
    );
    Ok(ended)
}

/// Deletes one thing and drops this replica's in-process copy of it.
async fn end_item(app: &App, item: &Item) -> Result<(), StoreError> {
    app.store.delete(&item.key).await?;
    match item.held {
        Held::Session => app.sessions.invalidate(&item.key),
        Held::ProxySession => {
            // The proxy's copy is keyed by ticket; find it by store key.
            let key: Arc<str> = item.key.as_str().into();
            let _ = app
                .proxy
                .sessions
                .invalidate_entries_if(move |_, l| l.key == key);
        }
        Held::AccessToken { .. } => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_reads_back_what_it_wrote() {
        let i = Index {
            v: WITH_PARTIES,
            ended: false,
            items: vec![
                Item {
                    held: Held::AccessToken {
                        client_id: "town".into(),
                    },
                    key: "at:x".into(),
                    until: 5,
                },
                Item {
                    held: Held::ProxySession,
                    key: "pxs:y".into(),
                    until: 6,
                },
            ],
            parties: vec![PartyItem {
                party: Party::Saml {
                    entity_id: "https://sp.example".into(),
                    name_id: "n".into(),
                    transient: false,
                    earlier: Vec::new(),
                },
                until: 7,
            }],
        };
        let raw = encode(&i).unwrap();
        let back = decode(&raw);
        assert!(!back.ended);
        assert_eq!(back.items.len(), 2);
        assert_eq!(
            back.items[0].held,
            Held::AccessToken {
                client_id: "town".into()
            }
        );
        assert_eq!(back.items[1].key, "pxs:y");
        assert_eq!(back.parties.len(), 1);
        assert_eq!(back.parties[0].party.id(), "https://sp.example");
        // An index written by the previous version (no parties) still reads.
        let old = br#"{"ended":false,"items":[{"kind":"session","key":"sess:a","until":9}]}"#;
        assert_eq!(decode(old).items.len(), 1);
        assert!(decode(b"not json").items.is_empty());
        assert!(decode(br#"{"ended":true}"#).ended);
    }

    const T: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn ending_lists_everything_and_what_comes_later_is_undone() {
        let store = crate::store::memory::MemoryStore::new(1000);
        let s: &dyn Store = store.as_ref();
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        for k in ["sess:a", "pxs:b", "at:c"] {
            s.put(k, b"v".to_vec(), T).await.unwrap();
        }
        let at = Held::AccessToken {
            client_id: "town".into(),
        };
        for (held, k) in [
            (Held::Session, "sess:a"),
            (Held::ProxySession, "pxs:b"),
            (at.clone(), "at:c"),
        ] {
            let (a, evicted) = attach_in(s, "sid1", Some((held, k, T)), None, now)
                .await
                .unwrap();
            assert_eq!(a, Attached::Yes);
            assert!(evicted.is_empty());
        }
        // Another session's index is its own.
        s.put("at:other", b"v".to_vec(), T).await.unwrap();
        let other = attach_in(s, "sid2", Some((at.clone(), "at:other", T)), None, now);
        assert_eq!(other.await.unwrap().0, Attached::Yes);

        let listed = close_in(s, "sid1").await.unwrap().items;
        let keys: Vec<&str> = listed.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["sess:a", "pxs:b", "at:c"]);
        // Closing again finds the tombstone: nothing twice.
        assert!(close_in(s, "sid1").await.unwrap().items.is_empty());

        // A token minted from a code redeemed after the logout: undone at once.
        s.put("at:late", b"v".to_vec(), T).await.unwrap();
        let (a, _) = attach_in(s, "sid1", Some((at.clone(), "at:late", T)), None, now)
            .await
            .unwrap();
        assert_eq!(a, Attached::Ended);
        assert_eq!(s.get("at:late").await.unwrap(), None);
        // The other session is untouched and still takes more.
        let more = attach_in(s, "sid2", Some((at, "at:more", T)), None, now)
            .await
            .unwrap();
        assert_eq!(more.0, Attached::Yes);
        let listed = close_in(s, "sid2").await.unwrap().items;
        assert_eq!(listed.len(), 2);
    }

    #[tokio::test]
    async fn the_index_stays_bounded_and_forgets_what_expired() {
        let store = crate::store::memory::MemoryStore::new(10_000);
        let s: &dyn Store = store.as_ref();
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        // One already past its end (as if written an hour ago): pruned.
        let old = attach_in(
            s,
            "sid",
            Some((Held::ProxySession, "pxs:old", T)),
            None,
            now - 3600,
        );
        assert_eq!(old.await.unwrap().0, Attached::Yes);
        let mut evicted = Vec::new();
        for n in 0..MAX_ITEMS + 3 {
            let ttl = Duration::from_secs(100 + n as u64);
            let (a, e) = attach_in(
                s,
                "sid",
                Some((Held::ProxySession, &format!("pxs:{n}"), ttl)),
                None,
                now,
            )
            .await
            .unwrap();
            assert_eq!(a, Attached::Yes);
            evicted.extend(e);
        }
        // The soonest to end were evicted (to be ended by the caller).
        let gone: Vec<&str> = evicted.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(gone, ["pxs:0", "pxs:1", "pxs:2"]);
        let listed = close_in(s, "sid").await.unwrap().items;
        assert_eq!(listed.len(), MAX_ITEMS);
        assert!(listed.iter().all(|i| i.key != "pxs:old"));
    }

    #[tokio::test]
    async fn parties_are_one_per_site_the_latest_and_listed_when_the_session_ends() {
        let store = crate::store::memory::MemoryStore::new(1000);
        let s: &dyn Store = store.as_ref();
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        let oidc = |sub: &str| Party::Oidc {
            client_id: "town".into(),
            sub: sub.into(),
        };
        let saml = Party::Saml {
            entity_id: "https://sp.example".into(),
            name_id: "_t1".into(),
            transient: true,
            earlier: Vec::new(),
        };
        s.put("at:1", b"v".to_vec(), T).await.unwrap();
        let held = Held::AccessToken {
            client_id: "town".into(),
        };
        let (a, _) = attach_in(s, "sid", Some((held, "at:1", T)), Some((oidc("a"), T)), now)
            .await
            .unwrap();
        assert_eq!(a, Attached::Yes);
        let (a, _) = attach_in(s, "sid", None, Some((saml.clone(), T)), now)
            .await
            .unwrap();
        assert_eq!(a, Attached::Yes);
        // The same client again: replaced, not added.
        let (a, _) = attach_in(s, "sid", None, Some((oidc("b"), T)), now)
            .await
            .unwrap();
        assert_eq!(a, Attached::Yes);
        let closed = close_in(s, "sid").await.unwrap();
        let parties: Vec<Party> = closed.parties.into_iter().map(|p| p.party).collect();
        assert_eq!(parties, vec![saml.clone(), oidc("b")]);
        assert_eq!(closed.items.len(), 1);
        // After the end, a party joining is refused like anything else.
        let late = attach_in(s, "sid", None, Some((saml, T)), now)
            .await
            .unwrap();
        assert_eq!(late.0, Attached::Ended);
        assert!(close_in(s, "sid").await.unwrap().parties.is_empty());
    }

    #[tokio::test]
    async fn parties_are_bounded() {
        let store = crate::store::memory::MemoryStore::new(10_000);
        let s: &dyn Store = store.as_ref();
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        for n in 0..MAX_PARTIES + 5 {
            let p = Party::Oidc {
                client_id: format!("c{n}"),
                sub: "s".into(),
            };
            let ttl = Duration::from_secs(100 + n as u64);
            let (a, _) = attach_in(s, "sid", None, Some((p, ttl)), now)
                .await
                .unwrap();
            assert_eq!(a, Attached::Yes);
        }
        let closed = close_in(s, "sid").await.unwrap();
        assert_eq!(closed.parties.len(), MAX_PARTIES);
        assert!(closed.parties.iter().all(|p| p.party.id() != "c0"));
    }

    #[tokio::test]
    async fn an_sp_keeps_the_last_few_name_ids_it_was_given() {
        let store = crate::store::memory::MemoryStore::new(1000);
        let s: &dyn Store = store.as_ref();
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        let given = |n: &str| Party::Saml {
            entity_id: "https://sp.example".into(),
            name_id: n.into(),
            transient: true,
            earlier: Vec::new(),
        };
        for n in ["_1", "_2", "_2", "_3", "_4", "_5"] {
            let (a, _) = attach_in(s, "sid", None, Some((given(n), T)), now)
                .await
                .unwrap();
            assert_eq!(a, Attached::Yes);
        }
        // An OIDC client with the SP's entityID as its id is another site.
        let oidc = Party::Oidc {
            client_id: "https://sp.example".into(),
            sub: "s".into(),
        };
        let (a, _) = attach_in(s, "sid", None, Some((oidc, T)), now)
            .await
            .unwrap();
        assert_eq!(a, Attached::Yes);
        let closed = close_in(s, "sid").await.unwrap();
        assert_eq!(closed.parties.len(), 2);
        let sp = &closed.parties[0].party;
        for n in ["_5", "_4", "_3", "_2"] {
            assert!(sp.gave(n), "{n}");
        }
        assert!(!sp.gave("_1"), "only a few are kept");
        let Party::Saml { name_id, .. } = sp else {
            panic!("{sp:?}")
        };
        assert_eq!(
            name_id, "_5",
            "the latest is the one named in our LogoutRequest"
        );
    }
}
