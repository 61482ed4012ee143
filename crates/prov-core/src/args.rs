//! Argument helpers shared by modules: Ansible-style lenient booleans, file modes, lists.

use serde::de::{self, Deserializer};
use serde::Deserialize;

/// Deserializes a boolean the way Ansible accepts it: `true`, `"yes"`, `"on"`, `1`, `"True"`...
pub fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient {
        Bool(bool),
        Int(i64),
        Text(String),
    }
    match Lenient::deserialize(d)? {
        Lenient::Bool(b) => Ok(b),
        Lenient::Int(i) => Ok(i != 0),
        Lenient::Text(s) => {
            parse_bool(&s).ok_or_else(|| de::Error::custom(format!("`{s}` is not a boolean (use true/false, yes/no)")))
        }
    }
}

/// Same as [`lenient_bool`] for `Option<bool>` fields.
pub fn lenient_opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    lenient_bool(d).map(Some)
}

/// Parses Ansible's boolean spellings.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" | "y" | "t" => Some(true),
        "false" | "no" | "off" | "0" | "n" | "f" | "" => Some(false),
        _ => None,
    }
}

/// A file mode: `0644` (YAML octal int), `'0644'`, `'644'` or `'u=rw,g=r,o=r'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode(pub u32);

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum M {
            I(i64),
            S(String),
        }
        match M::deserialize(d)? {
            // An int in YAML was already read as octal when written `0644`; a bare `644` is decimal
            // in YAML, which Ansible warns about: take its digits as octal like chmod would.
            M::I(i) if (0..=0o7777).contains(&i) && i > 0o777 && i.to_string().bytes().all(|b| b < b'8') => {
                u32::from_str_radix(&i.to_string(), 8).map(Mode).map_err(de::Error::custom)
            }
            M::I(i) if (0..=0o7777).contains(&i) => Ok(Mode(i as u32)),
            M::I(i) => Err(de::Error::custom(format!("mode {i} is out of range"))),
            M::S(s) => parse_mode(&s)
                .map(Mode)
                .ok_or_else(|| de::Error::custom(format!("`{s}` is not a file mode (use '0644' or 'u=rw,g=r,o=r')"))),
        }
    }
}

/// Parses an octal or symbolic (`u=rw,g=r,o=`) mode.
pub fn parse_mode(s: &str) -> Option<u32> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return u32::from_str_radix(s, 8).ok().filter(|m| *m <= 0o7777);
    }
    let mut mode = 0u32;
    for clause in s.split(',') {
        let (who, perms) = clause.split_once('=')?;
        let mut bits = 0;
        for p in perms.chars() {
            bits |= match p {
                'r' => 4,
                'w' => 2,
                'x' => 1,
                _ => return None,
            };
        }
        for w in who.chars() {
            mode |= match w {
                'u' => bits << 6,
                'g' => bits << 3,
                'o' => bits,
                'a' => bits << 6 | bits << 3 | bits,
                _ => return None,
            };
        }
    }
    Some(mode)
}

/// A list that may be written as one string (`name: git` or `name: [git, curl]`, or `"a,b"`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StringList(pub Vec<String>);

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum L {
            One(String),
            Many(Vec<String>),
        }
        Ok(StringList(match L::deserialize(d)? {
            L::One(s) => s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
            L::Many(v) => v,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0644"), Some(0o644));
        assert_eq!(parse_mode("u=rw,g=r,o=r"), Some(0o644));
        assert_eq!(parse_mode("rw"), None);
    }
}
