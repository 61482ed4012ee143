//! Static reading of templates: which other hosts' variables a task reads through `hostvars`.

use super::model::HostvarsRead;

/// Finds `hostvars[...]` reads in a template string. `hostvars['m1'].token` gives
/// `{host: m1, var: token}`; a computed host or variable gives `None` for that part.
pub fn hostvars_reads(s: &str, out: &mut Vec<HostvarsRead>) {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(pos) = s[from..].find("hostvars") {
        let start = from + pos;
        let mut i = start + "hostvars".len();
        from = i;
        if start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_') {
            continue;
        }
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        if i >= b.len() || b[i] != b'[' {
            // `map('extract', hostvars, 'x')`: the variable is the next quoted argument.
            let args = s[i..].split(')').next().unwrap_or_default();
            let var = args.split(',').nth(1).and_then(quoted).filter(|v| !v.is_empty());
            push(out, HostvarsRead { host: None, var, group_index: None });
            continue;
        }
        let Some(close) = matching(b, i) else { continue };
        let host = quoted(&s[i + 1..close]);
        let group_index = if host.is_none() { group_index(&s[i + 1..close]) } else { None };
        let mut j = close + 1;
        let var = if j < b.len() && b[j] == b'.' {
            j += 1;
            let end = s[j..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map(|e| j + e).unwrap_or(s.len());
            Some(s[j..end].to_string()).filter(|v| !v.is_empty())
        } else if j < b.len() && b[j] == b'[' {
            matching(b, j).and_then(|c2| quoted(&s[j + 1..c2]))
        } else {
            None
        };
        push(out, HostvarsRead { host, var, group_index });
        from = close;
    }
}

/// `groups['G'][N]`, `groups["G"][N]` or `groups.G[N]` → (G, N).
fn group_index(expr: &str) -> Option<(String, i64)> {
    let e = expr.trim().strip_prefix("groups")?;
    let (group, rest) = if let Some(r) = e.strip_prefix('.') {
        let end = r.find('[')?;
        (r[..end].trim().to_string(), &r[end..])
    } else {
        let r = e.strip_prefix('[')?;
        let end = r.find(']')?;
        (quoted(&r[..end])?, &r[end + 1..])
    };
    let idx = rest.trim().strip_prefix('[')?.strip_suffix(']')?.trim().parse().ok()?;
    Some((group, idx))
}

fn push(out: &mut Vec<HostvarsRead>, r: HostvarsRead) {
    if !out.contains(&r) {
        out.push(r);
    }
}

fn matching(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0;
    for (k, c) in b.iter().enumerate().skip(open) {
        match c {
            b'[' => depth += 1,
            b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

fn quoted(s: &str) -> Option<String> {
    let t = s.trim().trim_end_matches(')').trim();
    let q = t.chars().next()?;
    if (q == '\'' || q == '"') && t.len() >= 2 && t.ends_with(q) {
        let inner = &t[1..t.len() - 1];
        if !inner.contains(q) {
            return Some(inner.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(s: &str) -> Vec<HostvarsRead> {
        let mut v = Vec::new();
        hostvars_reads(s, &mut v);
        v
    }

    #[test]
    fn literal_host_and_attribute() {
        assert_eq!(
            reads("{{ hostvars['a'].x }}"),
            vec![HostvarsRead { host: Some("a".into()), var: Some("x".into()), group_index: None }]
        );
        assert_eq!(
            reads("{{ hostvars[\"a\"][\"tok\"] }}"),
            vec![HostvarsRead { host: Some("a".into()), var: Some("tok".into()), group_index: None }]
        );
    }

    #[test]
    fn computed_host() {
        assert_eq!(
            reads("{{ hostvars[groups['managers'][0]].join_token }}"),
            vec![HostvarsRead {
                host: None,
                var: Some("join_token".into()),
                group_index: Some(("managers".into(), 0))
            }]
        );
    }

    #[test]
    fn group_index_forms() {
        assert_eq!(group_index("groups.workers[-1]"), Some(("workers".into(), -1)));
        assert_eq!(group_index("groups[\"m\"][2]"), Some(("m".into(), 2)));
        assert_eq!(group_index("groups['m'][i]"), None);
    }

    #[test]
    fn extract() {
        assert_eq!(
            reads("{{ groups.m | map('extract', hostvars, 'ip') | list }}"),
            vec![HostvarsRead { host: None, var: Some("ip".into()), group_index: None }]
        );
    }

    #[test]
    fn no_hostvars() {
        assert!(reads("{{ myhostvars }}").is_empty());
    }
}
