//! Objects committed lately, as the committer parsed them, so a read of
//! one does not parse its stored text again while that parse is still in
//! use elsewhere.
//!
//! Reads parse stored text on demand (see the module above), and most of
//! them read what was written a moment before: a controller changing the
//! object whose change it is handling, a ReplicaSet's status written
//! right after its creation, the namespace's ResourceQuota read by the
//! admission of every create in it and written back by its accounting.
//! Parsing was 22 % of the simulator's CPU in a burst of provisions.
//!
//! The entries hold the parsed object weakly: it lives as long as someone
//! else holds it (above all the change on its way to the simulated
//! controllers, so while they are behind there is much to reuse), and
//! nothing stays parsed for the cache's sake (a parsed object takes about
//! ten times its text), but for the last few ResourceQuotas (see
//! [`HELD`]). An entry is used only while the stored text is the very
//! text committed with it (the same allocation), so it can never answer
//! for another version of the object.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use serde_json::Value;

use super::{Key, parse};
use crate::registry::ResId;

/// How many commits are remembered; an entry costs its key twice and two
/// pointers (its text and parse are shared or gone), so about 100 bytes.
const CAPACITY: usize = 4096;

/// How many parses of the last commits asked to be held (ResourceQuotas)
/// are held here too. Weak entries alone missed most reads of quotas:
/// admission reads the namespace's quota on every create in it, and its
/// accounting writes it back, but the change that holds the quota's parse
/// reaches the controllers, which ignore it, well before the store's next
/// create, some hundred commits later in a burst. Holding every kind's
/// last commits instead moved their parses' freeing to when they had gone
/// cold (a tenth of the simulator's samples in a burst went to freeing
/// them); quotas are few and small.
const HELD: usize = 256;

struct Entry {
    seq: u64,
    text: Bytes,
    object: Weak<Value>,
}

/// The last [`CAPACITY`] commits' parsed objects, by resource and key.
pub(super) struct Recent {
    entries: Vec<HashMap<Key, Entry>>,
    order: VecDeque<(u64, ResId, Key)>,
    seq: u64,
    /// The parses of the last [`HELD`] commits asked to be held.
    held: VecDeque<Arc<Value>>,
}

impl Recent {
    /// Remembers nothing yet, for `resources` resources.
    pub(super) fn new(resources: usize) -> Self {
        Self {
            entries: (0..resources).map(|_| HashMap::new()).collect(),
            order: VecDeque::with_capacity(CAPACITY + 1),
            seq: 0,
            held: VecDeque::with_capacity(HELD + 1),
        }
    }

    /// Remembers that `text` is stored for `key` of `res`, parsed as
    /// `object`, holding that parse when `hold` (see [`HELD`]); forgets the
    /// oldest commit past [`CAPACITY`].
    pub(super) fn remember(
        &mut self,
        res: ResId,
        key: &Key,
        text: &Bytes,
        object: &Arc<Value>,
        hold: bool,
    ) {
        self.seq += 1;
        let seq = self.seq;
        self.entries[res].insert(
            key.clone(),
            Entry {
                seq,
                text: text.clone(),
                object: Arc::downgrade(object),
            },
        );
        self.order.push_back((seq, res, key.clone()));
        if hold {
            self.held.push_back(Arc::clone(object));
            if self.held.len() > HELD {
                self.held.pop_front();
            }
        }
        while self.order.len() > CAPACITY {
            let Some((seq, res, key)) = self.order.pop_front() else {
                break;
            };
            // A key committed again since has a newer entry: keep that.
            if self.entries[res].get(&key).is_some_and(|e| e.seq == seq) {
                self.entries[res].remove(&key);
            }
        }
    }

    /// Forgets `key` of `res` (deleted).
    pub(super) fn forget(&mut self, res: ResId, key: &Key) {
        self.entries[res].remove(key);
    }

    /// `text`, stored for `key` of `res`, parsed: the committer's parse
    /// when it is still held and `text` is what was committed with it.
    pub(super) fn parsed(&self, res: ResId, key: &Key, text: &Bytes) -> Arc<Value> {
        self.entries[res]
            .get(key)
            .filter(|e| e.text.as_ptr() == text.as_ptr() && e.text.len() == text.len())
            .and_then(|e| e.object.upgrade())
            .unwrap_or_else(|| Arc::new(parse(text)))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(name: &str) -> Key {
        ("ns".to_owned(), name.to_owned())
    }

    fn text(value: &Value) -> Bytes {
        Bytes::from(serde_json::to_vec(value).expect("serialize"))
    }

    #[test]
    fn a_read_reuses_the_parse_committed_with_the_stored_text_while_it_is_held() {
        let mut recent = Recent::new(1);
        let v1 = json!({"metadata": {"name": "a", "resourceVersion": "1"}});
        let (t1, o1) = (text(&v1), Arc::new(v1.clone()));
        recent.remember(0, &key("a"), &t1, &o1, false);
        assert!(Arc::ptr_eq(&recent.parsed(0, &key("a"), &t1), &o1));

        // The same text in another allocation (stored by another path):
        // parsed from it, never answered from the entry.
        let copy = Bytes::copy_from_slice(&t1);
        let parsed = recent.parsed(0, &key("a"), &copy);
        assert!(!Arc::ptr_eq(&parsed, &o1));
        assert_eq!(*parsed, v1);

        // A newer version committed: the older text no longer matches.
        let v2 = json!({"metadata": {"name": "a", "resourceVersion": "2"}});
        let (t2, o2) = (text(&v2), Arc::new(v2.clone()));
        recent.remember(0, &key("a"), &t2, &o2, true);
        assert_eq!(*recent.parsed(0, &key("a"), &t1), v1);
        assert!(Arc::ptr_eq(&recent.parsed(0, &key("a"), &t2), &o2));

        // A parse not asked to be held is not kept alive here.
        let weak1 = Arc::downgrade(&o1);
        drop(o1);
        assert!(weak1.upgrade().is_none());

        // One asked to be held stays for the next commits after its
        // committer let go...
        let weak = Arc::downgrade(&o2);
        drop(o2);
        let held = weak.upgrade().expect("held by the last commits");
        assert!(Arc::ptr_eq(&recent.parsed(0, &key("a"), &t2), &held));
        drop(held);
        // ...and once as many others were committed, nobody holds it: it is
        // parsed again, from the text.
        for i in 0..HELD {
            let v = json!({"metadata": {"name": format!("o{i}")}});
            recent.remember(0, &key(&format!("o{i}")), &text(&v), &Arc::new(v), true);
        }
        assert!(weak.upgrade().is_none());
        assert_eq!(*recent.parsed(0, &key("a"), &t2), v2);

        recent.forget(0, &key("a"));
        assert_eq!(*recent.parsed(0, &key("a"), &t2), v2);
    }

    #[test]
    fn only_the_last_commits_are_remembered_and_a_key_committed_again_stays() {
        let mut recent = Recent::new(1);
        let first = json!({"metadata": {"name": "first"}});
        let (t, o) = (text(&first), Arc::new(first));
        recent.remember(0, &key("first"), &t, &o, false);
        let held: Vec<_> = (0..CAPACITY)
            .map(|i| {
                let v = json!({"metadata": {"name": format!("o{i}")}});
                let (ti, oi) = (text(&v), Arc::new(v));
                recent.remember(0, &key(&format!("o{i}")), &ti, &oi, false);
                // "first" again halfway: its newer entry outlives the old one.
                if i == CAPACITY / 2 {
                    recent.remember(0, &key("first"), &t, &o, false);
                }
                (ti, oi)
            })
            .collect();
        assert!(Arc::ptr_eq(&recent.parsed(0, &key("first"), &t), &o));
        // The oldest of the others were forgotten; the newest are there.
        let (t0, o0) = &held[0];
        assert!(!Arc::ptr_eq(&recent.parsed(0, &key("o0"), t0), o0));
        let (tn, on) = &held[CAPACITY - 1];
        let last = format!("o{}", CAPACITY - 1);
        assert!(Arc::ptr_eq(&recent.parsed(0, &key(&last), tn), on));
        assert!(recent.order.len() <= CAPACITY);
        assert!(recent.entries[0].len() <= CAPACITY);
    }
}
