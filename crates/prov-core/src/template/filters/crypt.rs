//! `password_hash`: SHA-crypt (`$6$` / `$5$`) on the `sha-crypt` crate, as ansible-core 2.19
//! makes it through passlib.
//!
//! Ansible's defaults: `sha512` (`sha512_crypt`), 656,000 rounds for SHA-512 and 535,000 for
//! SHA-256 when `rounds` is absent or 0 (written as `rounds=N$` in the hash); exactly 5,000
//! rounds is SHA-crypt's implicit count and is not written. A salt holds at most 16 characters
//! of `./0-9A-Za-z`; without one (or with `''`) a random salt of `salt_size` characters
//! (default 16) is drawn. Other hash types (`md5`, `blowfish`/`bcrypt`, ...) are refused.

use super::add_filter;
use super::{a_type, fail, split_args};
use base64ct::{Base64ShaCrypt, Encoding};
use minijinja::value::{Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error};
use sha_crypt::Params;

pub fn register(env: &mut Environment<'static>) {
    add_filter(env, "password_hash", password_hash);
    add_filter(env, "ansible.builtin.password_hash", password_hash);
}

const SALT_CHARS: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

#[derive(Clone, Copy)]
enum Algo {
    Sha256,
    Sha512,
}

/// `password_hash(hashtype='sha512', salt=None, salt_size=None, rounds=None, ident=None)`.
fn password_hash(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    let mut pos = pos.into_iter();
    let mut arg = |name: &str| -> Result<Option<Value>, Error> {
        Ok(pos.next().or(kw.get::<Option<Value>>(name)?).filter(|v| !v.is_none() && !v.is_undefined()))
    };
    let hashtype = arg("hashtype")?;
    let salt = arg("salt")?;
    let salt_size = arg("salt_size")?;
    let rounds = arg("rounds")?;
    let _ident = arg("ident")?;
    if pos.next().is_some() {
        return Err(fail("password_hash takes at most five arguments: hashtype, salt, salt_size, rounds, ident"));
    }
    kw.assert_all_used()?;
    let Some(secret) = value.as_str().filter(|_| value.kind() == ValueKind::String) else {
        return Err(fail(format!("password_hash: the secret must be a string, got {}", a_type(value))));
    };
    let algo = match hashtype.as_ref().map(|h| h.to_string()).as_deref() {
        None | Some("sha512") | Some("sha512_crypt") => Algo::Sha512,
        Some("sha256") | Some("sha256_crypt") => Algo::Sha256,
        Some(other) => {
            return Err(fail(format!(
                "password_hash: hash type {other:?} is not supported by prov (supported: sha512, sha256)"
            )))
        }
    };
    let rounds = match rounds {
        None => 0,
        Some(r) => py_int(&r, "rounds")?,
    };
    let rounds = match (rounds, algo) {
        (0, Algo::Sha512) => 656_000,
        (0, Algo::Sha256) => 535_000,
        (r, _) => u32::try_from(r).map_err(|_| fail(format!("password_hash: rounds must be positive, got {r}")))?,
    };
    let params = Params::new(rounds)
        .map_err(|_| fail(format!("password_hash: rounds must be between 1000 and 999999999, got {rounds}")))?;
    let salt = match salt.map(|s| s.to_string()).filter(|s| !s.is_empty()) {
        Some(s) => {
            if s.len() > 16 {
                return Err(fail(format!("password_hash: the salt {s:?} is longer than 16 characters")));
            }
            if let Some(bad) = s.bytes().find(|b| !SALT_CHARS.contains(b)) {
                return Err(fail(format!(
                    "password_hash: the salt may only hold ./0-9A-Za-z, found {:?}",
                    bad as char
                )));
            }
            s
        }
        None => {
            let size = match salt_size {
                None => 16,
                Some(v) => py_int(&v, "salt_size")?,
            };
            if !(1..=16).contains(&size) {
                return Err(fail(format!("password_hash: salt_size must be between 1 and 16, got {size}")));
            }
            random_salt(size as usize)?
        }
    };
    Ok(Value::from(crypt(algo, secret.as_bytes(), &salt, params, rounds)))
}

/// An integer argument, or a string of one (Ansible passes `rounds='6000'` on as 6000).
fn py_int(v: &Value, what: &str) -> Result<i64, Error> {
    if v.is_integer() {
        return i64::try_from(v.clone()).map_err(|_| fail(format!("password_hash: {what} is too large")));
    }
    v.as_str()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .ok_or_else(|| fail(format!("password_hash: {what} must be an integer, got {}", a_type(v))))
}

fn random_salt(len: usize) -> Result<String, Error> {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut b = [0u8; 1];
        getrandom::fill(&mut b).map_err(|e| fail(format!("password_hash: no system randomness: {e}")))?;
        // 256 = 4 * 64: every byte maps to a character with the same probability.
        out.push(SALT_CHARS[usize::from(b[0]) % 64] as char);
    }
    Ok(out)
}

/// The `$id$[rounds=N$]salt$hash` string.
fn crypt(algo: Algo, secret: &[u8], salt: &str, params: Params, rounds: u32) -> String {
    // The byte order SHA-crypt encodes its digest in (part of the algorithm's definition).
    const ORDER_256: [usize; 32] = [
        20, 10, 0, 11, 1, 21, 2, 22, 12, 23, 13, 3, 14, 4, 24, 5, 25, 15, 26, 16, 6, 17, 7, 27, 8, 28, 18, 29, 19, 9,
        30, 31,
    ];
    const ORDER_512: [usize; 64] = [
        42, 21, 0, 1, 43, 22, 23, 2, 44, 45, 24, 3, 4, 46, 25, 26, 5, 47, 48, 27, 6, 7, 49, 28, 29, 8, 50, 51, 30, 9,
        10, 52, 31, 32, 11, 53, 54, 33, 12, 13, 55, 34, 35, 14, 56, 57, 36, 15, 16, 58, 37, 38, 17, 59, 60, 39, 18, 19,
        61, 40, 41, 20, 62, 63,
    ];
    let (id, digest): (&str, Vec<u8>) = match algo {
        Algo::Sha256 => {
            let d = sha_crypt::sha256_crypt(secret, salt.as_bytes(), params);
            ("5", ORDER_256.iter().map(|&i| d[i]).collect())
        }
        Algo::Sha512 => {
            let d = sha_crypt::sha512_crypt(secret, salt.as_bytes(), params);
            ("6", ORDER_512.iter().map(|&i| d[i]).collect())
        }
    };
    let rounds = if rounds == 5000 { String::new() } else { format!("rounds={rounds}$") };
    format!("${id}${rounds}{salt}${}", Base64ShaCrypt::encode_string(&digest))
}

#[cfg(test)]
mod tests {
    use crate::template::filters::testenv::{err, ok};

    #[test]
    fn password_hash_matches_ansible_core_for_a_given_salt() {
        // Expected strings: ansible-core 2.19 (passlib 1.7.4) for the same expressions.
        let cases = [
            ("'secret' | password_hash('sha512', 'mysalt', rounds=5000)", "$6$mysalt$UX6P1VKOf6dr0s2pg4pLNvIUB6hLXvP6M5f/Yj9hJgMPdAJ4oArvk5YUD9/XWtk1JOpVwt/JTsczMJr8sFVML1"),
            ("'secret' | password_hash('sha256', salt='mysalt', rounds=10000)", "$5$rounds=10000$mysalt$RK8oV3aZ0mdR6FVKOsrBjdx9qLpoXF151qNsu.uoLzD"),
            ("'secret' | password_hash('sha512_crypt', 'mysalt', rounds=6000)", "$6$rounds=6000$mysalt$1NjcReFU2TKNJt0FMPqUIcLSXQAGAiXPgbVC7u0RZzht4fHi9xJ4iKWiMk4LEwcIc7CNYZF42JZGvLvADMuEv."),
            ("'secret' | password_hash('sha512', 'abc', rounds='6000')", "$6$rounds=6000$abc$ABnCa.EgL5AcbReFsLcHM7MVAC6hLhuHwHpn5ivc06FeOmmuNjH4JfZOmz2714BqJA4NMMLkJXdqHatoiCsic/"),
            ("'sëcret' | password_hash('sha256', 'abc', rounds=5000)", "$5$abc$lxelme13mN1ObjYStKtghoBXj83dqoEfE3OLjP.1p9D"),
            ("'secret' | password_hash(hashtype='sha256', salt='abc', rounds=5000)", "$5$abc$qsg6EHbUzHQzF1POlD7zUwBINSELQxypPaeDcZe6vH0"),
            // Default rounds (656,000 for SHA-512), also with rounds=0; ident is ignored.
            ("'secret' | password_hash('sha512', 'abc', rounds=0, ident='x')", "$6$rounds=656000$abc$.beQ97nf1P5y5S31LjwdL3n2yPxhA4SoUE5TA9iqjZn7dlGlQ5vBASA3Zn7tCPjc58Gx5rPc3HO3vKyWt5OTA0"),
        ];
        for (src, want) in cases {
            assert_eq!(ok(&format!("{{{{ {src} }}}}")), want, "{src}");
        }
    }

    #[test]
    fn password_hash_without_a_salt_draws_one() {
        let a = ok("{{ 'secret' | password_hash('sha512', rounds=5000) }}");
        let b = ok("{{ 'secret' | password_hash('sha512', '', rounds=5000) }}");
        assert_ne!(a, b);
        assert!(a.starts_with("$6$") && a.len() == 3 + 16 + 1 + 86, "{a}");
        let c = ok("{{ 'secret' | password_hash('sha256', salt_size=4, rounds=1000) }}");
        assert!(c.starts_with("$5$rounds=1000$") && c.len() == 15 + 4 + 1 + 43, "{c}");
    }

    #[test]
    fn password_hash_refuses_what_ansible_core_refuses_or_prov_does_not_make() {
        err("{{ 'secret' | password_hash('sha512', 'abcdefghijklmnopq', rounds=5000) }}", "longer than 16");
        err("{{ 'secret' | password_hash('sha512', 'ab$c', rounds=5000) }}", "may only hold");
        err("{{ 'secret' | password_hash('sha512', 'abc', rounds=999) }}", "between 1000 and 999999999");
        err("{{ 5 | password_hash('sha256', 'abc') }}", "the secret must be a string");
        err("{{ 'secret' | password_hash('md5', 'abc') }}", "hash type \"md5\" is not supported by prov");
        err("{{ 'secret' | password_hash('blowfish') }}", "not supported by prov");
    }
}
