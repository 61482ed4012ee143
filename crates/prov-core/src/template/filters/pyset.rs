//! The order of `list(set(a) | set(b))` and the other set operations ansible-core's
//! `union`, `intersect`, `difference` and `symmetric_difference` filters return: the order
//! of CPython 3's hash table, followed here step by step for numbers (booleans, integers,
//! floats), whose hashes are fixed. Strings hash differently in each Python process (hash
//! randomization), so their order cannot be known; for them, and for lists with other kinds
//! of items, the caller keeps the items' own order.
//!
//! The table: 8 slots to start with, a slot per hash modulo the size, nine neighbouring
//! slots tried in turn and then a jump driven by the higher bits of the hash (`perturb`),
//! grown to the next power of two above four times the count once it is three fifths full,
//! deleted entries left as dummies until the next growth.

use minijinja::value::{Value, ValueKind};

const MIN_SIZE: usize = 8;
const LINEAR_PROBES: usize = 9;
const PERTURB_SHIFT: u32 = 5;
const HASH_BITS: u32 = 61;
const HASH_MODULUS: u64 = (1 << HASH_BITS) - 1;

/// A number as Python compares and hashes it.
#[derive(Clone, Copy, Debug)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn of(v: &Value) -> Option<Num> {
        match v.kind() {
            ValueKind::Bool => Some(Num::Int(i128::from(v.is_true()))),
            ValueKind::Number if v.is_integer() => i128::try_from(v.clone()).ok().map(Num::Int),
            // NaN hashes by identity in Python: its place cannot be known.
            ValueKind::Number => f64::try_from(v.clone()).ok().filter(|f| !f.is_nan()).map(Num::Float),
            _ => None,
        }
    }

    fn eq(self, other: Num) -> bool {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a == b,
            (Num::Float(a), Num::Float(b)) => a == b,
            (Num::Int(i), Num::Float(f)) | (Num::Float(f), Num::Int(i)) => {
                f.is_finite() && f.fract() == 0.0 && (f as i128) == i && f.abs() < 1.7e38
            }
        }
    }

    /// Python's `hash()` of the number.
    fn hash(self) -> i64 {
        let h = match self {
            Num::Int(i) => {
                let m = (i.unsigned_abs() % u128::from(HASH_MODULUS)) as i64;
                if i < 0 {
                    -m
                } else {
                    m
                }
            }
            Num::Float(f) => float_hash(f),
        };
        if h == -1 {
            -2
        } else {
            h
        }
    }
}

/// CPython's `_Py_HashDouble` for a number that is not NaN.
fn float_hash(v: f64) -> i64 {
    if v.is_infinite() {
        return if v > 0.0 { 314_159 } else { -314_159 };
    }
    let (mut m, mut e) = frexp(v);
    let sign: i64 = if m < 0.0 {
        m = -m;
        -1
    } else {
        1
    };
    let mut x: u64 = 0;
    while m != 0.0 {
        x = ((x << 28) & HASH_MODULUS) | (x >> (HASH_BITS - 28));
        m *= 268_435_456.0;
        e -= 28;
        let y = m as u64;
        m -= y as f64;
        x += y;
        if x >= HASH_MODULUS {
            x -= HASH_MODULUS;
        }
    }
    let bits = HASH_BITS as i32;
    let e = if e >= 0 { e % bits } else { bits - 1 - ((-1 - e) % bits) } as u32;
    x = ((x << e) & HASH_MODULUS) | (x >> (HASH_BITS - e));
    (x as i64).wrapping_mul(sign)
}

/// C's `frexp`: `v = m * 2^e` with `0.5 <= |m| < 1` (`(0, 0)` for zero).
fn frexp(v: f64) -> (f64, i32) {
    if v == 0.0 {
        return (v, 0);
    }
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: scale into the normal range first.
        let (m, e) = frexp(v * 2f64.powi(54));
        return (m, e - 54);
    }
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (m, exp - 1022)
}

#[derive(Clone)]
enum Slot {
    Unused,
    Dummy,
    Active(i64, Num, Value),
}

/// A CPython set of numbers.
#[derive(Clone)]
struct PySet {
    table: Vec<Slot>,
    fill: usize,
    used: usize,
}

impl PySet {
    fn new() -> PySet {
        PySet { table: vec![Slot::Unused; MIN_SIZE], fill: 0, used: 0 }
    }

    fn mask(&self) -> usize {
        self.table.len() - 1
    }

    /// The probe sequence's slot indices, from a hash, until `stop` says where to stop.
    fn probe(mask: usize, hash: i64, mut stop: impl FnMut(usize) -> bool) -> usize {
        let mut perturb = hash as u64;
        let mut i = (hash as u64 as usize) & mask;
        loop {
            let probes = if i + LINEAR_PROBES <= mask { LINEAR_PROBES } else { 0 };
            for j in i..=i + probes {
                if stop(j) {
                    return j;
                }
            }
            perturb >>= PERTURB_SHIFT;
            i = ((i.wrapping_mul(5)).wrapping_add(1).wrapping_add(perturb as usize)) & mask;
        }
    }

    /// The slot holding an equal number, or the first unused slot of its probe sequence.
    fn lookup(&self, hash: i64, n: Num) -> usize {
        PySet::probe(self.mask(), hash, |j| match &self.table[j] {
            Slot::Unused => true,
            Slot::Active(h, k, _) => *h == hash && k.eq(n),
            Slot::Dummy => false,
        })
    }

    fn contains(&self, hash: i64, n: Num) -> bool {
        matches!(self.table[self.lookup(hash, n)], Slot::Active(..))
    }

    fn add(&mut self, hash: i64, n: Num, v: Value) {
        // A dummy on the way (the last one seen, as CPython's loop keeps it) is reused when
        // the number is not there.
        let mut free = None;
        let j = PySet::probe(self.mask(), hash, |j| match &self.table[j] {
            Slot::Unused => true,
            Slot::Active(h, k, _) => *h == hash && k.eq(n),
            Slot::Dummy => {
                free = Some(j);
                false
            }
        });
        if matches!(self.table[j], Slot::Active(..)) {
            return;
        }
        if let Some(f) = free {
            self.table[f] = Slot::Active(hash, n, v);
            self.used += 1;
            return;
        }
        self.table[j] = Slot::Active(hash, n, v);
        self.fill += 1;
        self.used += 1;
        if self.fill * 5 >= self.mask() * 3 {
            self.resize(if self.used > 50_000 { self.used * 2 } else { self.used * 4 });
        }
    }

    /// Whether it was there.
    fn discard(&mut self, hash: i64, n: Num) -> bool {
        let j = self.lookup(hash, n);
        if !matches!(self.table[j], Slot::Active(..)) {
            return false;
        }
        self.table[j] = Slot::Dummy;
        self.used -= 1;
        true
    }

    fn insert_clean(table: &mut [Slot], hash: i64, n: Num, v: Value) {
        let mask = table.len() - 1;
        let j = PySet::probe(mask, hash, |j| matches!(table[j], Slot::Unused));
        table[j] = Slot::Active(hash, n, v);
    }

    fn resize(&mut self, minused: usize) {
        let mut size = MIN_SIZE;
        while size <= minused {
            size <<= 1;
        }
        let old = std::mem::replace(&mut self.table, vec![Slot::Unused; size]);
        self.fill = self.used;
        for s in old {
            if let Slot::Active(h, n, v) = s {
                PySet::insert_clean(&mut self.table, h, n, v);
            }
        }
    }

    fn entries(&self) -> impl Iterator<Item = (i64, Num, &Value)> {
        self.table.iter().filter_map(|s| match s {
            Slot::Active(h, n, v) => Some((*h, *n, v)),
            _ => None,
        })
    }

    /// `set(items)`.
    fn from_items(items: &[(Num, Value)]) -> PySet {
        let mut s = PySet::new();
        for (n, v) in items {
            s.add(n.hash(), *n, v.clone());
        }
        s
    }

    /// `set_merge`: adds the entries of `other`, growing the table once beforehand.
    fn merge(&mut self, other: &PySet) {
        if other.used == 0 {
            return;
        }
        if (self.fill + other.used) * 5 >= self.mask() * 3 {
            self.resize((self.used + other.used) * 2);
        }
        if self.fill == 0 && self.mask() == other.mask() && other.fill == other.used {
            self.table = other.table.clone();
            self.fill = other.fill;
            self.used = other.used;
            return;
        }
        if self.fill == 0 {
            self.fill = other.used;
            self.used = other.used;
            for (h, n, v) in other.entries() {
                PySet::insert_clean(&mut self.table, h, n, v.clone());
            }
            return;
        }
        let entries: Vec<(i64, Num, Value)> = other.entries().map(|(h, n, v)| (h, n, v.clone())).collect();
        for (h, n, v) in entries {
            self.add(h, n, v);
        }
    }

    /// `set(other_set)`, a copy.
    fn copy(&self) -> PySet {
        let mut s = PySet::new();
        s.merge(self);
        s
    }

    fn list(&self) -> Vec<Value> {
        self.entries().map(|(_, _, v)| v.clone()).collect()
    }

    fn union(&self, other: &PySet) -> PySet {
        let mut r = self.copy();
        r.merge(other);
        r
    }

    fn intersection(&self, other: &PySet) -> PySet {
        // CPython walks the smaller set (the second one when they are as large).
        let (big, small) = if other.used > self.used { (other, self) } else { (self, other) };
        let mut r = PySet::new();
        for (h, n, v) in small.entries() {
            if big.contains(h, n) {
                r.add(h, n, v.clone());
            }
        }
        r
    }

    fn difference(&self, other: &PySet) -> PySet {
        if (self.used >> 2) > other.used {
            let mut r = self.copy();
            let other = if (other.used >> 3) > r.used { r.intersection(other) } else { other.clone() };
            for (h, n, _) in other.entries() {
                r.discard(h, n);
            }
            if r.fill - r.used > r.mask() / 4 {
                r.resize(if r.used > 50_000 { r.used * 2 } else { r.used * 4 });
            }
            return r;
        }
        let mut r = PySet::new();
        for (h, n, v) in self.entries() {
            if !other.contains(h, n) {
                r.add(h, n, v.clone());
            }
        }
        r
    }

    fn symmetric_difference(&self, other: &PySet) -> PySet {
        let mut r = other.copy();
        for (h, n, v) in self.entries() {
            if !r.discard(h, n) {
                r.add(h, n, v.clone());
            }
        }
        r
    }
}

/// Set operations of ansible-core's filters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum SetOp {
    Union,
    Intersect,
    Difference,
    SymmetricDifference,
}

/// `list(set(a) OP set(b))` in CPython's order, when every item of both lists is a number
/// (a boolean, an integer or a float other than NaN); `None` otherwise.
pub(crate) fn number_set_op(a: &[Value], b: &[Value], op: SetOp) -> Option<Vec<Value>> {
    let nums = |l: &[Value]| l.iter().map(|v| Num::of(v).map(|n| (n, v.clone()))).collect::<Option<Vec<_>>>();
    let (sa, sb) = (PySet::from_items(&nums(a)?), PySet::from_items(&nums(b)?));
    let r = match op {
        SetOp::Union => sa.union(&sb),
        SetOp::Intersect => sa.intersection(&sb),
        SetOp::Difference => sa.difference(&sb),
        SetOp::SymmetricDifference => sa.symmetric_difference(&sb),
    };
    Some(r.list())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(l: &[i64]) -> Vec<Value> {
        l.iter().map(|&i| Value::from(i)).collect()
    }

    fn run(a: &[i64], b: &[i64], op: SetOp) -> Vec<i64> {
        number_set_op(&ints(a), &ints(b), op).unwrap().iter().map(|v| i64::try_from(v.clone()).unwrap()).collect()
    }

    #[test]
    fn hashes_are_python_s() {
        // Python 3.11: hash(-1), hash(2**61), hash(1.5), hash(-2.25), hash(1e300), hash(0.1)
        assert_eq!(Num::Int(-1).hash(), -2);
        assert_eq!(Num::Int(1 << 61).hash(), 1);
        assert_eq!(Num::Float(1.5).hash(), 1_152_921_504_606_846_977);
        assert_eq!(Num::Float(-2.25).hash(), -576_460_752_303_423_490);
        assert_eq!(Num::Float(1e300).hash(), 1_224_995_262_755_759_164);
        assert_eq!(Num::Float(0.1).hash(), 230_584_300_921_369_408);
        assert_eq!(Num::Float(3.0).hash(), 3);
    }

    #[test]
    fn set_operations_follow_cpython_s_table_order() {
        // Python 3.11's list(set(a) OP set(b)).
        assert_eq!(run(&[3, 1, 2], &[2, 5, 1], SetOp::Union), [1, 2, 3, 5]);
        assert_eq!(run(&[80, 443], &[8080, 22], SetOp::Union), [80, 443, 8080, 22]);
        assert_eq!(run(&[3, 1, 2, 3], &[3, 2, 9], SetOp::Intersect), [2, 3]);
        assert_eq!(run(&[5, 1, 2, 3], &[2], SetOp::Difference), [1, 3, 5]);
        assert_eq!(run(&[5, 1, 2, 2], &[2, 9, 8], SetOp::SymmetricDifference), [1, 5, 8, 9]);
        // Deleted slots reused, floats and booleans equal to integers, numbers beyond 2**61.
        let json = |s: &str| -> Vec<Value> {
            let v: Vec<serde_json::Value> = serde_json::from_str(s).unwrap();
            v.into_iter().map(|j| Value::from(minijinja::value::Serde(j))).collect()
        };
        let a = json("[-4611686018427387904, true, 2, -12, 362781, -214267, 9223372036854775807, 0.5, 0, -6, -3.0, 144879, -1, true]");
        let b = json("[true, -87250, -12, 2305843009213693952, 119802, 18, -499251, 14, 9223372036854775807, 1.0, 2, 82547, -18, -6, 20, -4, 443, 2305843009213693952, 774000, 29, 10, -3.0, 3.0, 17, -400283, 18, 21, 23, 443]");
        let got = serde_json::to_string(&number_set_op(&a, &b, SetOp::SymmetricDifference).unwrap()).unwrap();
        let want = "[0.5,2305843009213693952,0,3.0,-214267,10,-499251,14,17,18,20,21,23,29,362781,-400283,-87250,-18,774000,144879,82547,-4611686018427387904,119802,443,-4,-1]";
        assert_eq!(got, want);
        let got =
            serde_json::to_string(&number_set_op(&json("[1, 2]"), &json("[1.0]"), SetOp::Intersect).unwrap()).unwrap();
        assert_eq!(got, "[1.0]");
    }
}
