//! Host ranges: `web[01:10]`, `db-[a:c]`, `node[0:20:5]`.

/// The most hosts one name may expand to. A range such as `web[1:27777777777777]` (found by
/// the `inventory` fuzz target) would otherwise allocate without bound before anything else
/// is checked.
pub const MAX_RANGE_HOSTS: u64 = 10_000;

/// Expands every `[start:end(:step)]` range in a host name, left to right. A name without a
/// range comes back as itself. Numeric ranges keep the width of `start` (`01` → `01..10`).
/// More than [`MAX_RANGE_HOSTS`] hosts from one name is an error.
pub fn expand_host_range(name: &str) -> Result<Vec<String>, String> {
    if range_count(name)? > MAX_RANGE_HOSTS {
        return Err(format!("`{name}` expands to more than {MAX_RANGE_HOSTS} hosts"));
    }
    expand(name)
}

/// How many hosts `name` expands to (saturating), checked without expanding it.
fn range_count(name: &str) -> Result<u64, String> {
    let Some(open) = name.find('[') else { return Ok(1) };
    let Some(close) = name[open..].find(']').map(|c| c + open) else { return Ok(1) };
    let parts: Vec<&str> = name[open + 1..close].split(':').collect();
    let step: u64 = parts.get(2).and_then(|s| s.parse().ok()).filter(|s| *s > 0).unwrap_or(1);
    let here = match (parts.first().map(|s| s.parse::<u64>()), parts.get(1).map(|s| s.parse::<u64>())) {
        (Some(Ok(a)), Some(Ok(b))) if b >= a => (b - a) / step + 1,
        _ => 26,
    };
    Ok(here.saturating_mul(range_count(&name[close + 1..])?))
}

fn expand(name: &str) -> Result<Vec<String>, String> {
    let Some(open) = name.find('[') else {
        return Ok(vec![name.to_string()]);
    };
    let close = name[open..].find(']').map(|c| c + open).ok_or_else(|| format!("`{name}`: `[` without `]`"))?;
    let head = &name[..open];
    let body = &name[open + 1..close];
    let tail = &name[close + 1..];
    let parts: Vec<&str> = body.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return Err(format!("`{name}`: a host range is `[start:end]` or `[start:end:step]`"));
    }
    let step: usize = match parts.get(2) {
        None => 1,
        Some(s) => {
            s.parse().ok().filter(|s| *s > 0).ok_or_else(|| format!("`{name}`: step `{s}` is not a positive number"))?
        }
    };
    let (start, end) = (parts[0], parts[1]);
    let items: Vec<String> = if let (Ok(a), Ok(b)) = (start.parse::<u64>(), end.parse::<u64>()) {
        if a > b {
            return Err(format!("`{name}`: range start {a} is after its end {b}"));
        }
        let width = if start.len() > 1 && start.starts_with('0') { start.len() } else { 0 };
        (a..=b).step_by(step).map(|i| format!("{i:0width$}")).collect()
    } else if start.len() == 1
        && end.len() == 1
        && start.chars().all(|c| c.is_ascii_alphabetic())
        && end.chars().all(|c| c.is_ascii_alphabetic())
    {
        let (a, b) = (start.as_bytes()[0], end.as_bytes()[0]);
        if a > b {
            return Err(format!("`{name}`: range start `{start}` is after its end `{end}`"));
        }
        (a..=b).step_by(step).map(|c| (c as char).to_string()).collect()
    } else {
        return Err(format!("`{name}`: range bounds must both be numbers or both single letters"));
    };
    let rests = expand(tail)?;
    let mut out = Vec::with_capacity(items.len() * rests.len());
    for i in &items {
        for rest in &rests {
            out.push(format!("{head}{i}{rest}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_ranges() {
        assert_eq!(expand_host_range("web").expect("plain"), vec!["web"]);
        assert_eq!(expand_host_range("web[01:03]").expect("num"), vec!["web01", "web02", "web03"]);
        assert_eq!(expand_host_range("db-[a:c].lan").expect("alpha"), vec!["db-a.lan", "db-b.lan", "db-c.lan"]);
        assert_eq!(expand_host_range("n[0:10:5]").expect("step"), vec!["n0", "n5", "n10"]);
        assert_eq!(expand_host_range("r[1:2]-[a:b]").expect("two"), vec!["r1-a", "r1-b", "r2-a", "r2-b"]);
        assert!(expand_host_range("web[3:1]").is_err());
        assert!(expand_host_range("web[1:").is_err());
        assert!(expand_host_range("web[a:10]").is_err());
    }

    #[test]
    fn a_range_of_too_many_hosts_is_refused_before_it_expands() {
        let e = expand_host_range("web[1:27777777777777].0.1").expect_err("huge");
        assert!(e.contains("more than 10000 hosts"), "{e}");
        assert!(expand_host_range("r[1:200]-[1:200]").is_err(), "the product counts");
        assert_eq!(expand_host_range("w[1:10000]").expect("at the limit").len(), 10_000);
    }
}
