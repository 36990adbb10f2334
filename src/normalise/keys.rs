//! The keys a delivery has seen: 96-bit fingerprint → the first row that had it.
//!
//! At 10M rows the table is ~256 MB and every lookup lands somewhere random in it, far outside
//! the caches: a lookup is a wait for memory. `std`'s `HashMap` (hashbrown) reads a control byte
//! and then the bucket, two misses per key, one key after another. Here each key is one 16-byte
//! slot in an open-addressed table (linear probing, so a probe stays in the slot's cache line
//! or the next), and [`KeyTable::check`] asks the CPU to fetch the slots of the keys
//! [`PREFETCH`] places ahead while it compares the current one, so the misses overlap instead
//! of queueing. No kept crate offers a batched lookup with prefetching (hashbrown has no
//! prefetch hook), hence this small table.

/// A key's fingerprint (see `Normaliser`'s `keys`): three words of a 128-bit keyed SipHash.
pub type Fingerprint = (u32, u32, u32);

/// How many keys ahead the slots are prefetched: enough to cover a memory access (~100 ns) with
/// the work of the keys in between, few enough that the lines are still in L1 when reached.
const PREFETCH: usize = 16;

#[derive(Clone, Copy, Default)]
#[repr(C, align(16))]
struct Slot {
    fp: [u32; 3],
    /// The first row + 1; 0 marks an empty slot.
    first: u32,
}

pub struct KeyTable {
    slots: Vec<Slot>,
    len: usize,
}

impl Default for KeyTable {
    fn default() -> Self {
        KeyTable::new()
    }
}

impl KeyTable {
    const MIN_SLOTS: usize = 1 << 10;

    pub fn new() -> KeyTable {
        KeyTable {
            slots: vec![Slot::default(); Self::MIN_SLOTS],
            len: 0,
        }
    }

    /// At most three quarters full: a miss (most lookups: a new key) probes ~8 slots at worst,
    /// two or three cache lines, and hashbrown's 7/8 would not save memory here (its control
    /// bytes cost what the extra slots do).
    fn too_full(len: usize, slots: usize) -> bool {
        len * 4 > slots * 3
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    /// The fingerprint words are uniformly random already; the low bits pick the slot.
    fn home(&self, fp: Fingerprint) -> usize {
        (fp.0 as usize ^ ((fp.1 as usize) << 16)) & (self.slots.len() - 1)
    }

    /// The first row seen with `fp`, or None after recording `row` as its first.
    pub fn first_or_insert(&mut self, fp: Fingerprint, row: u32) -> Option<u32> {
        if Self::too_full(self.len + 1, self.slots.len()) {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let want = [fp.0, fp.1, fp.2];
        let mut i = self.home(fp);
        loop {
            let s = &mut self.slots[i];
            if s.first == 0 {
                *s = Slot {
                    fp: want,
                    // Rows count from 1 in a file, so row + 1 only overflows for a row number
                    // no file can have (the intake limits stop far below 4 × 10⁹ rows).
                    first: row.saturating_add(1),
                };
                self.len += 1;
                return None;
            }
            if s.fp == want {
                return Some(s.first - 1);
            }
            i = (i + 1) & mask;
        }
    }

    /// [`KeyTable::first_or_insert`] for each of `keys` in order, with the slots of later keys
    /// fetched ahead; `found(i, first)` hears of every key `i` seen before (within `keys` too).
    pub fn check(
        &mut self,
        keys: impl ExactSizeIterator<Item = (Fingerprint, u32)> + Clone,
        mut found: impl FnMut(usize, u32),
    ) {
        // Grow once up front, so the prefetched addresses stay the slots looked at.
        while Self::too_full(self.len + keys.len(), self.slots.len()) {
            self.grow();
        }
        let mut ahead = keys.clone();
        for (fp, _) in ahead.by_ref().take(PREFETCH) {
            self.prefetch(fp);
        }
        for (i, (fp, row)) in keys.enumerate() {
            if let Some((next, _)) = ahead.next() {
                self.prefetch(next);
            }
            if let Some(first) = self.first_or_insert(fp, row) {
                found(i, first);
            }
        }
    }

    #[inline]
    fn prefetch(&self, fp: Fingerprint) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let p = self.slots[self.home(fp)..].as_ptr().cast::<i8>();
            // SAFETY: a prefetch is a hint to the cache: it never faults and never reads into
            // the program, and `p` points into the slots anyway. SSE is part of every x86_64.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = fp;
    }

    /// Room for `n` keys in all without growing: a large delivery's table is made once at its
    /// final size instead of doubling its way there (every doubling moves each key again and
    /// leaves the old table behind; at 10M keys the tables on the way are as large again as
    /// the last one).
    pub fn reserve(&mut self, n: usize) {
        let mut size = self.slots.len();
        while Self::too_full(n, size) {
            size *= 2;
        }
        if size > self.slots.len() {
            self.grow_to(size);
        }
    }

    fn grow(&mut self) {
        self.grow_to((self.slots.len() * 2).max(Self::MIN_SLOTS));
    }

    fn grow_to(&mut self, size: usize) {
        // Written through at once, which faults the pages in one pass. (Zeroed memory from the
        // allocator, left to be faulted in by the random inserts one page at a time, measured
        // slower at 10M rows: 7.5 s against 7.0 s.)
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); size]);
        let mask = self.slots.len() - 1;
        for s in old.into_iter().filter(|s| s.first != 0) {
            let mut i = self.home((s.fp[0], s.fp[1], s.fp[2]));
            while self.slots[i].first != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Fingerprints that crowd the table: many share their home slot (same low bits), so
    /// probing wraps and chains.
    fn crowded(n: u32) -> Vec<Fingerprint> {
        (0..n).map(|i| (i % 7, 0, i / 7)).collect()
    }

    #[test]
    fn first_row_wins_and_repeats_are_found_as_a_map_would() {
        let mut t = KeyTable::new();
        let mut map: HashMap<Fingerprint, u32> = HashMap::new();
        // 5,000 keys each twice, then a third time: growth happens along the way.
        let fps = crowded(5_000);
        let mut row = 1u32;
        for round in 0..3 {
            for &fp in &fps {
                let want = match map.entry(fp) {
                    std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(row);
                        None
                    }
                };
                assert_eq!(t.first_or_insert(fp, row), want, "round {round}, row {row}");
                row += 1;
            }
        }
        assert_eq!(t.len(), 5_000);
        // The first round's rows are the firsts: key k first came at row k + 1.
        assert_eq!(t.first_or_insert(fps[41], 99_999), Some(42));
    }

    #[test]
    fn a_batch_check_finds_what_one_by_one_finds_even_within_the_batch() {
        let mut one = KeyTable::new();
        let mut batch = KeyTable::new();
        // Rows 1..=3000; row r has fingerprint (r % 1000, 1, 2): rows 1001.. repeat earlier ones.
        let keys: Vec<(Fingerprint, u32)> = (1..=3000u32).map(|r| ((r % 1000, 1, 2), r)).collect();
        let mut want = Vec::new();
        for (i, &(fp, row)) in keys.iter().enumerate() {
            if let Some(first) = one.first_or_insert(fp, row) {
                want.push((i, first));
            }
        }
        let mut got = Vec::new();
        // In three chunks, as the merge hands them over.
        for (c, chunk) in keys.chunks(1000).enumerate() {
            batch.check(chunk.iter().copied(), |i, first| {
                got.push((c * 1000 + i, first))
            });
        }
        assert_eq!(got, want);
        assert_eq!(got.len(), 2000);
        // Row 1001 repeats row 1 (1001 % 1000 == 1); row 2000 repeats row 1000 (both 0).
        assert_eq!(got[0], (1000, 1));
        assert_eq!(got[999], (1999, 1000));
        assert_eq!(batch.len(), 1000);
    }

    #[test]
    fn the_table_grows_at_three_quarters() {
        let mut t = KeyTable::new();
        // 3/4 of 2^17 slots = 98,304 keys fit; one more doubles the table.
        for r in 0..98_304u32 {
            t.first_or_insert((r.wrapping_mul(2_654_435_761), r, 0), r + 1);
            assert!(t.len() * 4 <= t.slots.len() * 3);
        }
        assert_eq!((t.len(), t.slots.len()), (98_304, 1 << 17));
        t.first_or_insert((u32::MAX, 7, 7), 98_305);
        assert_eq!((t.len(), t.slots.len()), (98_305, 1 << 18));
        // Reserving room makes the table that size at once (3/4 of 2^19 keys fit in 2^19
        // slots, one more needs 2^20), and keeps what it holds.
        t.reserve(393_216);
        assert_eq!((t.len(), t.slots.len()), (98_305, 1 << 19));
        t.reserve(393_217);
        assert_eq!((t.len(), t.slots.len()), (98_305, 1 << 20));
        t.reserve(10);
        assert_eq!(t.slots.len(), 1 << 20);
        // Every key is still found after the moves, with its own first row.
        for r in (0..98_304u32).step_by(997) {
            assert_eq!(
                t.first_or_insert((r.wrapping_mul(2_654_435_761), r, 0), 0),
                Some(r + 1)
            );
        }
    }
}
