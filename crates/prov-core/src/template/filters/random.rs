//! The `random` filter, with Python's generator so that a `seed` gives what Ansible gives.
//!
//! `random(seed=...)` is how roles spread cron minutes over hosts
//! (`60 | random(seed=inventory_hostname)`): the same seed must pick the same number as
//! ansible-core, or a converted playbook moves every job. Ansible seeds Python's
//! `random.Random`, a Mersenne Twister seeded through `init_by_array` with the seed's absolute
//! value in 32-bit words (a string seed first becomes the integer of its UTF-8 bytes followed by
//! their SHA-512); `choice` and `randrange` draw with `_randbelow` (rejection sampling on
//! `getrandbits(bit_length(n))`). Without a seed any uniform draw will do (Ansible uses
//! `SystemRandom`).

use super::add_filter;
use super::{a_type, fail, is_list, list_items, split_args};
use minijinja::value::{Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error};
use num_like::BigUint;
use rand_mt::Mt;
use sha2::{Digest, Sha512};

pub fn register(env: &mut Environment<'static>) {
    add_filter(env, "random", random);
    add_filter(env, "ansible.builtin.random", random);
    add_filter(env, "shuffle", shuffle);
}

/// `shuffle(seed=None)`: the items in a random order (Python's `Random(seed).shuffle` with
/// a true seed, so that a seed gives Ansible's order); a value that is no sequence comes back
/// as it is, as ansible-core returns it.
fn shuffle(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    let mut pos = pos.into_iter();
    let seed = pos.next().or(kw.get::<Option<Value>>("seed")?);
    if pos.next().is_some() {
        return Err(fail("shuffle takes at most one argument: seed"));
    }
    kw.assert_all_used()?;
    let mut items: Vec<Value> = match value.kind() {
        ValueKind::String => value.as_str().unwrap_or_default().chars().map(|c| Value::from(c.to_string())).collect(),
        ValueKind::Map => super::serialize::map_entries(value)?.into_iter().map(|(k, _)| k).collect(),
        _ if is_list(value) => list_items(value, "shuffle expects")?,
        _ => return Ok(value.clone()),
    };
    let mut src = match seed.filter(Value::is_true) {
        None => Source::System,
        Some(s) => Source::Seeded(Box::new(PyRandom::seeded(&s)?)),
    };
    // Python's `shuffle`: for i from the last index down to 1, swap with randbelow(i + 1).
    for i in (1..items.len()).rev() {
        let j = src.below(i as u128 + 1)? as usize;
        items.swap(i, j);
    }
    Ok(Value::from(items))
}

/// Where the draws come from.
enum Source {
    Seeded(Box<PyRandom>),
    System,
}

impl Source {
    /// A uniform integer in `0..n` (`n > 0`).
    fn below(&mut self, n: u128) -> Result<u128, Error> {
        match self {
            Source::Seeded(r) => Ok(r.randbelow(n)),
            Source::System => {
                // Rejection sampling on whole bytes: uniform, and n is small in practice.
                let bits = 128 - n.leading_zeros();
                loop {
                    let mut buf = [0u8; 16];
                    getrandom::fill(&mut buf).map_err(|e| fail(format!("random: no system randomness: {e}")))?;
                    let r = u128::from_le_bytes(buf) >> (128 - bits);
                    if r < n {
                        return Ok(r);
                    }
                }
            }
        }
    }
}

/// `random(start=None, step=None, seed=None)`: an item of a list, or an integer of
/// `range(start, end, step)` for an integer `end`.
fn random(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    let mut pos = pos.into_iter();
    let start = pos.next().or(kw.get::<Option<Value>>("start")?);
    let step = pos.next().or(kw.get::<Option<Value>>("step")?);
    let seed = pos.next().or(kw.get::<Option<Value>>("seed")?);
    if pos.next().is_some() {
        return Err(fail("random takes at most three arguments: start, step and seed"));
    }
    kw.assert_all_used()?;
    let mut src = match seed.filter(|s| !s.is_none()) {
        None => Source::System,
        Some(s) => Source::Seeded(Box::new(PyRandom::seeded(&s)?)),
    };
    // Python's `if not start` / `if not step`: 0, None and False mean the default.
    let int_arg = |v: Option<Value>, default: i128, what: &str| -> Result<i128, Error> {
        match v {
            None => Ok(default),
            Some(v) if !v.is_true() => Ok(default),
            Some(v) if v.is_integer() => i128::try_from(v).map_err(|_| fail(format!("random: {what} is too large"))),
            Some(v) => Err(fail(format!("random: {what} must be an integer, got {}", a_type(&v)))),
        }
    };
    if value.is_integer() && value.kind() == ValueKind::Number {
        let end = i128::try_from(value.clone()).map_err(|_| fail("random: the integer is too large"))?;
        let start = int_arg(start, 0, "start")?;
        let step = int_arg(step, 1, "step")?;
        // Python's randrange(start, stop, step).
        let width = end - start;
        let n = if step == 1 {
            width
        } else if step > 0 {
            (width + step - 1).div_euclid(step)
        } else {
            (width + step + 1).div_euclid(step)
        };
        if n <= 0 {
            return Err(fail(format!("random: empty range for randrange({start}, {end}, {step})")));
        }
        let k = src.below(n as u128)? as i128;
        return Ok(Value::from(start + step * k));
    }
    if is_list(value) || value.kind() == ValueKind::String || value.kind() == ValueKind::Map {
        if start.as_ref().is_some_and(Value::is_true) || step.as_ref().is_some_and(Value::is_true) {
            return Err(fail("random: start and step can only be used with integer values"));
        }
        let items: Vec<Value> = match value.kind() {
            ValueKind::String => {
                value.as_str().unwrap_or_default().chars().map(|c| Value::from(c.to_string())).collect()
            }
            ValueKind::Map => {
                return Err(fail("random: a dictionary is not supported (Python cannot index it by position)"))
            }
            _ => list_items(value, "random expects")?,
        };
        if items.is_empty() {
            return Err(fail("random: cannot choose from an empty sequence"));
        }
        let i = src.below(items.len() as u128)? as usize;
        return Ok(items[i].clone());
    }
    Err(fail(format!("random can only be used on sequences and integers, got {}", a_type(value))))
}

/// Python's `random.Random`: MT19937 with CPython's seeding and `getrandbits`.
pub(crate) struct PyRandom {
    mt: Mt,
}

impl PyRandom {
    /// `random.Random(seed)` for an integer or string seed (Python 3's version-2 seeding).
    pub(crate) fn seeded(seed: &Value) -> Result<PyRandom, Error> {
        let n: BigUint = match seed.kind() {
            ValueKind::String => {
                let bytes = seed.as_str().unwrap_or_default().as_bytes();
                let mut all = bytes.to_vec();
                all.extend_from_slice(&Sha512::digest(bytes));
                BigUint::from_be_bytes(&all)
            }
            ValueKind::Bool => BigUint::from_u128(u128::from(seed.is_true())),
            ValueKind::Number if seed.is_integer() => {
                let i = i128::try_from(seed.clone()).map_err(|_| fail("random: the seed is too large"))?;
                BigUint::from_u128(i.unsigned_abs())
            }
            _ => {
                return Err(fail(format!(
                    "random: a seed must be a string or an integer for prov, got {}",
                    a_type(seed)
                )))
            }
        };
        Ok(PyRandom { mt: Mt::new_with_key(n.words32()) })
    }

    /// `getrandbits(k)` for `k` in 1..=128: 32-bit words, least significant first; the last
    /// word keeps its top bits.
    fn getrandbits(&mut self, k: u32) -> u128 {
        let mut out = 0u128;
        let mut filled = 0;
        let mut left = k;
        while left > 0 {
            let mut w = self.mt.next_u32();
            if left < 32 {
                w >>= 32 - left;
            }
            out |= u128::from(w) << filled;
            let took = left.min(32);
            filled += took;
            left -= took;
        }
        out
    }

    /// `_randbelow(n)` for `n > 0`.
    pub(crate) fn randbelow(&mut self, n: u128) -> u128 {
        let k = 128 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }
}

/// The few operations on unsigned big integers that seeding needs.
mod num_like {
    /// An unsigned integer as 32-bit words, least significant first.
    pub struct BigUint(Vec<u32>);

    impl BigUint {
        pub fn from_u128(v: u128) -> BigUint {
            BigUint((0..4).map(|i| (v >> (32 * i)) as u32).collect()).trimmed()
        }

        /// The integer whose big-endian bytes these are.
        pub fn from_be_bytes(bytes: &[u8]) -> BigUint {
            let mut words = Vec::with_capacity(bytes.len() / 4 + 1);
            for chunk in bytes.rchunks(4) {
                let mut w = 0u32;
                for b in chunk {
                    w = (w << 8) | u32::from(*b);
                }
                words.push(w);
            }
            BigUint(words).trimmed()
        }

        fn trimmed(mut self) -> BigUint {
            while self.0.last() == Some(&0) {
                self.0.pop();
            }
            self
        }

        /// The key CPython passes to `init_by_array`: the words, or `[0]` for zero.
        pub fn words32(&self) -> Vec<u32> {
            if self.0.is_empty() {
                vec![0]
            } else {
                self.0.clone()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::template::filters::testenv::{err, ok};

    #[test]
    fn shuffle_with_a_seed_orders_as_ansible_core_does() {
        // ansible-core 2.19.14 (Python 3.11's Random(seed).shuffle).
        assert_eq!(ok("{{ [1,2,3,4,5,6,7,8,9,10] | shuffle(seed='web1') | join(',') }}"), "3,7,8,9,2,4,1,10,5,6");
        assert_eq!(ok("{{ [1,2,3,4,5,6,7,8,9,10] | shuffle(seed=42) | join(',') }}"), "8,4,3,9,6,7,10,5,1,2");
        assert_eq!(ok("{{ 'abc' | shuffle(seed='x') | join(',') }}"), "a,b,c");
        assert_eq!(ok("{{ {'a': 1} | shuffle(seed='x') | join(',') }}"), "a");
        assert_eq!(ok("{{ 5 | shuffle }}"), "5");
        assert_eq!(ok("{{ [1,2,3] | shuffle | sort | join(',') }}"), "1,2,3");
        err("{{ [1] | shuffle(seed=[1]) }}", "seed");
    }

    #[test]
    fn random_with_a_seed_picks_what_ansible_core_picks() {
        // Each expected value is ansible-core 2.19's output for the same expression.
        assert_eq!(ok("{{ ['a','b','c','d'] | random(seed='web1') }}"), "c");
        assert_eq!(ok("{{ 60 | random(seed='web1') }}"), "52");
        assert_eq!(ok("{{ 60 | random(seed=12) }}"), "30");
        assert_eq!(ok("{{ 100 | random(start=10, step=5, seed='x') }}"), "60");
        assert_eq!(ok("{{ 59 | random(seed='host.example.com') }}"), "15");
        assert_eq!(ok("{{ 1000000000000 | random(seed='big') }}"), "608018280422");
    }

    #[test]
    fn random_without_a_seed_stays_in_range() {
        for _ in 0..50 {
            let n: i64 = ok("{{ 10 | random(start=5) }}").parse().expect("an integer");
            assert!((5..10).contains(&n), "{n}");
            let s = ok("{{ ['x', 'y'] | random }}");
            assert!(s == "x" || s == "y", "{s}");
        }
        err("{{ [] | random }}", "cannot choose from an empty sequence");
        err("{{ [1] | random(start=1) }}", "start and step can only be used with integer values");
        err("{{ 0 | random }}", "empty range");
        err("{{ 1.5 | random }}", "random can only be used on sequences and integers");
        err("{{ 5 | random(seed=1.5) }}", "a seed must be a string or an integer");
    }
}
