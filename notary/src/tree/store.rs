//! Append-only storage for one level of hashes that never moves what it already holds.
//!
//! A plain `Vec` doubles and copies itself when full: at 10 million leaves one unlucky append
//! would copy 320 MB and briefly hold twice that. Here the hashes live in a `head` (the vector
//! handed over at bulk restore, kept as it is) followed by segments of 4 096, 8 192, 16 384, …
//! hashes. A segment is allocated once at its final capacity and never reallocated, so an append
//! costs O(1) worst case (plus, once per segment, one allocation, and a push onto the list of
//! segments, which holds at most a few dozen pointers). Lookup is a few shifts.

use crate::hash::Hash;

/// The first segment holds 2^12 hashes (128 KiB); each next one twice as many.
const FIRST_SEGMENT_LOG2: u32 = 12;

#[derive(Clone, Default)]
pub(crate) struct HashStore {
    /// Hashes adopted whole from a bulk restore; never grown.
    head: Vec<Hash>,
    /// `segments[k]` holds up to `2^(FIRST_SEGMENT_LOG2 + k)` hashes and is full before
    /// `segments[k + 1]` exists.
    segments: Vec<Vec<Hash>>,
    len: u64,
}

impl HashStore {
    /// Adopts `hashes` without copying them.
    pub(crate) fn from_vec(hashes: Vec<Hash>) -> Self {
        HashStore {
            len: hashes.len() as u64,
            head: hashes,
            segments: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn push(&mut self, hash: Hash) {
        let k = self.segments.len();
        match self.segments.last_mut() {
            Some(segment) if segment.len() < segment_capacity(k - 1) => segment.push(hash),
            _ => {
                let mut segment = Vec::with_capacity(segment_capacity(k));
                segment.push(hash);
                self.segments.push(segment);
            }
        }
        self.len += 1;
    }

    pub(crate) fn get(&self, index: u64) -> Option<Hash> {
        (index < self.len).then(|| self.at(index))
    }

    /// The hash at `index`.
    ///
    /// # Panics
    /// If `index >= self.len()`: callers index only nodes their own size bookkeeping says exist,
    /// so a miss is a broken invariant, not an input error.
    pub(crate) fn at(&self, index: u64) -> Hash {
        let head_len = self.head.len() as u64;
        if index < head_len {
            return self.head[index as usize];
        }
        let (k, offset) = locate(index - head_len);
        self.segments[k][offset]
    }

    /// Bytes allocated for hashes (capacity, not only what is filled).
    pub(crate) fn allocated_bytes(&self) -> usize {
        let hashes: usize =
            self.head.capacity() + self.segments.iter().map(Vec::capacity).sum::<usize>();
        hashes * std::mem::size_of::<Hash>()
    }
}

fn segment_capacity(k: usize) -> usize {
    1usize << (FIRST_SEGMENT_LOG2 as usize + k)
}

/// Segment number and offset of the `j`-th hash after the head. Segment `k` starts at
/// `(2^k - 1) · 2^FIRST_SEGMENT_LOG2`.
fn locate(j: u64) -> (usize, usize) {
    let q = (j >> FIRST_SEGMENT_LOG2) + 1;
    let k = 63 - q.leading_zeros();
    let start = ((1u64 << k) - 1) << FIRST_SEGMENT_LOG2;
    (k as usize, (j - start) as usize)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn h(i: u64) -> Hash {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&i.to_be_bytes());
        Hash(bytes)
    }

    #[test]
    fn pushes_across_segment_boundaries_read_back_in_order() {
        let mut store = HashStore::default();
        let n = 4096 + 8192 + 17; // into the third segment
        for i in 0..n {
            store.push(h(i));
        }
        assert_eq!(store.len(), n);
        for i in 0..n {
            assert_eq!(store.at(i), h(i));
        }
        assert_eq!(store.get(n), None);
        assert_eq!(store.segments.len(), 3);
        assert_eq!(store.segments[0].len(), 4096);
        assert_eq!(store.segments[1].len(), 8192);
    }

    #[test]
    fn an_adopted_head_is_followed_by_segments() {
        let head: Vec<Hash> = (0..1000).map(h).collect();
        let mut store = HashStore::from_vec(head);
        for i in 1000..6000 {
            store.push(h(i));
        }
        for i in 0..6000 {
            assert_eq!(store.get(i), Some(h(i)));
        }
        assert!(store.allocated_bytes() >= 6000 * 32);
    }

    #[test]
    fn segments_never_reallocate() {
        let mut store = HashStore::default();
        store.push(h(0));
        let first = store.segments[0].as_ptr();
        for i in 1..10_000 {
            store.push(h(i));
        }
        assert_eq!(store.segments[0].as_ptr(), first);
    }
}
