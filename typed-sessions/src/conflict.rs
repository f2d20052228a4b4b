//! What a server-side save does when another request changed a key it changed too: the
//! per-key policies ([`Resolve`]) and the three-way merges the factory runs between what the
//! request loaded (`base`), what it wrote (`ours`) and what the store holds now (`theirs`).
//!
//! Which keys are checked:
//!
//! - a field of a `#[derive(SessionSchema)]` struct with `#[session(merge = f)]` or
//!   `#[session(on_conflict = "reject")]` (or whose struct sets one of them as its default),
//!   when the request writes or removes it through its accessors;
//! - every flash queue ([`FLASH_PREFIX`]): queues merge by appending, so a message queued
//!   by one tab is not lost to another's;
//! - the CSRF token ([`CSRF_KEY`]): the one the store holds wins, so a token that a page
//!   already carries keeps working.
//!
//! Every other key, untyped keys included, is last-writer-wins, as in Pyramid and every
//! peer: an untyped value has no type to merge, and failing those saves would turn an app's
//! working requests into 409s on upgrade. Only keys whose text changed are checked.

use serde_json::Value;

use crate::error::SessionError;
use crate::reserved::{CSRF_KEY, FLASH_PREFIX};

/// How many times a save that merged is retried when the store changed again meanwhile,
/// before it fails as a conflict (409, nothing written): each retry means another request
/// saved the same key within one round trip. Measured on the shop, 16 clients adding to
/// one session at once (`examples/tests/shop_concurrent_adds.rs`, debug build): with 8
/// rounds 143 of 193 adds on Redis were answered 409 and retried by the client, with 16
/// rounds 51; none was lost either way.
pub(crate) const MAX_MERGE_ROUNDS: usize = 16;

/// A field's merge, type-erased: `(base, ours, theirs)` as JSON texts (`None`: absent) to
/// the text to write (`None`: remove the key). The generated code wraps the schema's
/// `fn(T, T, T) -> T` in one.
pub type MergeFn =
    fn(Option<&str>, Option<&str>, Option<&str>) -> Result<Option<String>, SessionError>;

/// What a save does with a key another request changed meanwhile.
#[derive(Clone, Copy)]
pub enum Resolve {
    /// Fail the save: `409 Conflict`, nothing written (`on_conflict = "reject"`).
    Reject,
    /// Write the merge of the three versions (`merge = f`).
    Merge(MergeFn),
    /// Append this request's new messages to the store's queue (flash queues).
    Queue,
    /// Keep what the store holds if it holds anything (the CSRF token).
    KeepTheirs,
}

impl std::fmt::Debug for Resolve {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Reject => "Reject",
            Self::Merge(_) => "Merge",
            Self::Queue => "Queue",
            Self::KeepTheirs => "KeepTheirs",
        })
    }
}

/// A key a save checks, with what the request loaded under it.
#[derive(Debug, Clone)]
pub(crate) struct Watched {
    pub key: Box<str>,
    pub resolve: Resolve,
    /// The key's text at the load; `None`: absent.
    pub base: Option<String>,
}

/// The built-in policy of a key by its name, for keys the crate itself writes.
pub(crate) fn builtin(key: &str) -> Option<Resolve> {
    if key == CSRF_KEY {
        Some(Resolve::KeepTheirs)
    } else if key.starts_with(FLASH_PREFIX) {
        Some(Resolve::Queue)
    } else {
        None
    }
}

/// What a conflicting key becomes: a text to write, `Write(None)` to remove it, or the
/// save fails.
pub(crate) enum Resolved {
    Write(Option<String>),
    Reject,
}

impl Resolve {
    /// Resolves one key; `cap` is the factory's flash queue cap.
    pub(crate) fn resolve(
        self,
        key: &str,
        base: Option<&str>,
        ours: Option<&str>,
        theirs: Option<&str>,
        cap: Option<usize>,
    ) -> Result<Resolved, SessionError> {
        Ok(match self {
            Self::Reject => Resolved::Reject,
            Self::Merge(merge) => match merge(base, ours, theirs) {
                Ok(text) => Resolved::Write(text),
                // A required field that one side removed has no value to merge.
                Err(SessionError::Missing { .. }) => Resolved::Reject,
                Err(err) => return Err(err),
            },
            Self::KeepTheirs => Resolved::Write(theirs.or(ours).map(str::to_owned)),
            Self::Queue => Resolved::Write(merge_queue(key, base, ours, theirs, cap)),
        })
    }
}

/// A flash queue's three-way merge: the messages this request popped leave the front of the
/// store's queue (if they are still there), the messages it queued go at the end; an empty
/// result removes the key, as a pop does. A queue that is not a JSON array on some side
/// cannot be merged message by message: this request's queue is written, as without a
/// check, with a warning naming the key.
fn merge_queue(
    key: &str,
    base: Option<&str>,
    ours: Option<&str>,
    theirs: Option<&str>,
    cap: Option<usize>,
) -> Option<String> {
    let parse = |text: Option<&str>| -> Option<Vec<Value>> {
        match text {
            None => Some(Vec::new()),
            Some(text) => serde_json::from_str(text).ok(),
        }
    };
    let (Some(base), Some(ours), Some(mut theirs)) = (parse(base), parse(ours), parse(theirs))
    else {
        tracing::warn!(
            key,
            "a flash queue changed by two requests is not a JSON array; kept this request's"
        );
        return ours.map(str::to_owned);
    };
    // Ours is what was left of base after popping its first `popped` messages, then what
    // this request queued.
    let popped = (0..=base.len())
        .find(|&p| ours.starts_with(&base[p..]))
        .unwrap_or(base.len());
    let added = &ours[base.len() - popped..];
    // The popped messages still at the front of the store's queue: all of them, or the
    // newest of them when another request's push dropped the oldest past the cap.
    let popped_messages = &base[..popped];
    let gone = (0..=popped)
        .find(|&k| theirs.starts_with(&popped_messages[k..]))
        .map_or(0, |k| popped - k);
    theirs.drain(..gone);
    theirs.extend_from_slice(added);
    if let Some(cap) = cap
        && theirs.len() > cap
    {
        let dropped = theirs.len() - cap;
        tracing::warn!(
            key,
            dropped,
            cap,
            "a merged flash queue is over its cap; dropped its oldest messages"
        );
        theirs.drain(..dropped);
    }
    if theirs.is_empty() {
        None
    } else {
        serde_json::to_string(&theirs).ok()
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;
    use crate::store::{MemoryStore, StoreError};
    use crate::typed::private::{Field, field, merge};
    use crate::{ServerSessionFactory, Session};

    fn factory() -> ServerSessionFactory<MemoryStore> {
        ServerSessionFactory::builder("a secret of at least thirty-two bytes", MemoryStore::new())
            .reissue_time(None)
            .build()
            .unwrap()
    }

    /// A stored session, and a request's cookie for it.
    async fn stored(factory: &ServerSessionFactory<MemoryStore>, count: u32) -> HeaderMap {
        let mut session = factory.load(&HeaderMap::new()).await.unwrap();
        session.insert("count", count);
        session.insert("note", "loaded");
        let mut response = HeaderMap::new();
        factory.save(&session, &mut response).await.unwrap();
        let cookie = response["set-cookie"].to_str().unwrap();
        let mut request = HeaderMap::new();
        request.insert("cookie", cookie.split(';').next().unwrap().parse().unwrap());
        request
    }

    const COUNT: Field<u32> = field::<u32>("count").merge_conflicts(merge_count);
    const STRICT: Field<u32> = field::<u32>("count").reject_conflicts();

    fn add(base: u32, ours: u32, theirs: u32) -> u32 {
        theirs + ours - base
    }

    fn merge_count(
        base: Option<&str>,
        ours: Option<&str>,
        theirs: Option<&str>,
    ) -> Result<Option<String>, SessionError> {
        merge(&COUNT, add, base, ours, theirs)
    }

    async fn save(
        factory: &ServerSessionFactory<MemoryStore>,
        session: &Session,
    ) -> Result<(), StoreError> {
        factory.save(session, &mut HeaderMap::new()).await.map(drop)
    }

    #[tokio::test]
    async fn two_requests_adding_to_one_field_both_count() {
        let factory = factory();
        let cookie = stored(&factory, 10).await;
        let mut first = factory.load(&cookie).await.unwrap();
        let mut second = factory.load(&cookie).await.unwrap();
        let n = COUNT.read(&first).unwrap();
        COUNT.write(&mut first, &(n + 1)).unwrap();
        let n = COUNT.read(&second).unwrap();
        COUNT.write(&mut second, &(n + 5)).unwrap();
        second.insert("note", "second");
        save(&factory, &first).await.unwrap();
        save(&factory, &second).await.unwrap();
        let after = factory.load(&cookie).await.unwrap();
        assert_eq!(COUNT.read(&after).unwrap(), 16);
        assert_eq!(
            after.get_as::<String>("note").unwrap().as_deref(),
            Some("second")
        );
    }

    #[tokio::test]
    async fn a_rejecting_field_fails_the_losing_save_and_writes_nothing() {
        let factory = factory();
        let cookie = stored(&factory, 10).await;
        let mut first = factory.load(&cookie).await.unwrap();
        let mut second = factory.load(&cookie).await.unwrap();
        STRICT.write(&mut first, &11).unwrap();
        STRICT.write(&mut second, &12).unwrap();
        second.insert("note", "second");
        save(&factory, &first).await.unwrap();
        let err = save(&factory, &second).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Conflict { keys } if keys[0].key == "count"),
            "{err}"
        );
        assert_eq!(err.status(), http::StatusCode::CONFLICT);
        let after = factory.load(&cookie).await.unwrap();
        assert_eq!(STRICT.read(&after).unwrap(), 11);
        assert_eq!(
            after.get_as::<String>("note").unwrap().as_deref(),
            Some("loaded")
        );
    }

    #[tokio::test]
    async fn untyped_keys_are_last_writer_wins() {
        let factory = factory();
        let cookie = stored(&factory, 10).await;
        let mut first = factory.load(&cookie).await.unwrap();
        let mut second = factory.load(&cookie).await.unwrap();
        first.insert("count", 11);
        second.insert("count", 15);
        save(&factory, &first).await.unwrap();
        save(&factory, &second).await.unwrap();
        let after = factory.load(&cookie).await.unwrap();
        assert_eq!(after.get_as::<u32>("count").unwrap(), Some(15));
    }

    #[tokio::test]
    async fn writing_back_the_loaded_value_does_not_undo_another_write() {
        let factory = factory();
        let cookie = stored(&factory, 10).await;
        let mut first = factory.load(&cookie).await.unwrap();
        let mut second = factory.load(&cookie).await.unwrap();
        COUNT.write(&mut first, &11).unwrap();
        COUNT.write(&mut second, &10).unwrap();
        second.insert("note", "second");
        save(&factory, &first).await.unwrap();
        save(&factory, &second).await.unwrap();
        let after = factory.load(&cookie).await.unwrap();
        assert_eq!(COUNT.read(&after).unwrap(), 11);
        assert_eq!(
            after.get_as::<String>("note").unwrap().as_deref(),
            Some("second")
        );
    }

    #[tokio::test]
    async fn flash_messages_of_concurrent_requests_are_all_kept() {
        let factory = factory();
        let cookie = stored(&factory, 0).await;
        let mut first = factory.load(&cookie).await.unwrap();
        let mut second = factory.load(&cookie).await.unwrap();
        first.flash_to("", "added sencha").unwrap();
        second.flash_to("", "added matcha").unwrap();
        save(&factory, &first).await.unwrap();
        save(&factory, &second).await.unwrap();
        let mut after = factory.load(&cookie).await.unwrap();
        assert_eq!(
            after.pop_flash("").unwrap(),
            ["added sencha", "added matcha"]
        );
    }

    #[tokio::test]
    async fn a_merge_that_keeps_losing_the_race_fails_as_a_conflict() {
        /// A store that answers every checked save with a conflict, as under endless
        /// contention.
        struct Contended(MemoryStore);
        impl crate::store::SessionStore for Contended {
            async fn load(&self, id: &str) -> Result<Option<crate::store::Record>, StoreError> {
                self.0.load(id).await
            }
            async fn save(&self, commit: &crate::store::Commit) -> Result<bool, StoreError> {
                match commit.expect.first() {
                    Some(e) => Err(StoreError::Conflict {
                        keys: vec![crate::store::ConcurrentWrite::new(&e.key, Some("1".into()))],
                    }),
                    None => self.0.save(commit).await,
                }
            }
            async fn delete(&self, id: &str) -> Result<(), StoreError> {
                self.0.delete(id).await
            }
        }
        let memory = MemoryStore::new();
        let cookie = stored(
            &ServerSessionFactory::builder("a secret of at least thirty-two bytes", memory.clone())
                .reissue_time(None)
                .build()
                .unwrap(),
            0,
        )
        .await;
        let factory = ServerSessionFactory::builder(
            "a secret of at least thirty-two bytes",
            Contended(memory),
        )
        .reissue_time(None)
        .build()
        .unwrap();
        let mut session = factory.load(&cookie).await.unwrap();
        COUNT.write(&mut session, &3).unwrap();
        let err = factory
            .save(&session, &mut HeaderMap::new())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    }

    fn queue(base: &str, ours: &str, theirs: &str) -> Option<String> {
        fn some(s: &str) -> Option<&str> {
            (!s.is_empty()).then_some(s)
        }
        merge_queue("_f_", some(base), some(ours), some(theirs), None)
    }

    #[test]
    fn queues_keep_both_requests_messages() {
        // Both queued one message onto the same queue.
        assert_eq!(
            queue(r#"["a"]"#, r#"["a","b"]"#, r#"["a","c"]"#).as_deref(),
            Some(r#"["a","c","b"]"#)
        );
        // We popped the queue while the other queued one more: only the popped go.
        assert_eq!(
            queue(r#"["a"]"#, "", r#"["a","c"]"#).as_deref(),
            Some(r#"["c"]"#)
        );
        // We popped and queued a new one; the other popped too.
        assert_eq!(
            queue(r#"["a"]"#, r#"["x"]"#, "").as_deref(),
            Some(r#"["x"]"#)
        );
        // Both popped: the key goes.
        assert_eq!(queue(r#"["a"]"#, "", ""), None);
        // A new queue on both sides.
        assert_eq!(
            queue("", r#"["b"]"#, r#"["c"]"#).as_deref(),
            Some(r#"["c","b"]"#)
        );
    }

    #[test]
    fn messages_popped_here_go_even_when_another_push_dropped_the_oldest() {
        // The queue was full at 3; we popped it, another request pushed "d" and dropped "a".
        assert_eq!(
            queue(r#"["a","b","c"]"#, "", r#"["b","c","d"]"#).as_deref(),
            Some(r#"["d"]"#)
        );
    }

    #[test]
    fn a_merged_queue_keeps_its_cap() {
        let merged = merge_queue(
            "_f_",
            Some("[1,2]"),
            Some("[1,2,3]"),
            Some("[1,2,4]"),
            Some(2),
        );
        assert_eq!(merged.as_deref(), Some("[4,3]"));
    }

    #[test]
    fn a_queue_that_is_not_an_array_keeps_ours() {
        assert_eq!(queue("7", r#"["b"]"#, "8").as_deref(), Some(r#"["b"]"#));
    }

    #[test]
    fn the_stored_csrf_token_wins() {
        let resolved = Resolve::KeepTheirs
            .resolve(CSRF_KEY, None, Some("\"ours\""), Some("\"theirs\""), None)
            .unwrap();
        assert!(matches!(resolved, Resolved::Write(Some(t)) if t == "\"theirs\""));
        let resolved = Resolve::KeepTheirs
            .resolve(CSRF_KEY, None, Some("\"ours\""), None, None)
            .unwrap();
        assert!(matches!(resolved, Resolved::Write(Some(t)) if t == "\"ours\""));
    }
}
