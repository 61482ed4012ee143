//! `strftime`: Ansible's filter, which formats epoch seconds (default: now) with the C
//! library's `strftime`, in the controller's local time zone or in UTC (`utc=true`).
//!
//! chrono formats the conversions below exactly as glibc does in the C locale; a format with any
//! other conversion (`%Z` in local time, whose name chrono does not know, `%E`/`%O` forms,
//! chrono's own extensions) is refused rather than printed differently.

use super::add_filter;
use super::{a_type, fail, split_args};
use chrono::{DateTime, Local, TimeZone, Utc};
use minijinja::value::{Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error};

pub fn register(env: &mut Environment<'static>) {
    add_filter(env, "strftime", strftime);
    add_filter(env, "ansible.builtin.strftime", strftime);
}

/// Conversions whose output chrono and glibc (C locale) agree on.
const SAME_AS_GLIBC: &str = "aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYz%";

/// `strftime(second=None, utc=False)` on a format string.
fn strftime(format: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    let mut pos = pos.into_iter();
    let second = pos.next().or(kw.get::<Option<Value>>("second")?).filter(|v| !v.is_none());
    let utc = pos.next().or(kw.get::<Option<Value>>("utc")?).is_some_and(|v| v.is_true());
    kw.assert_all_used()?;
    let Some(fmt) = format.as_str().filter(|_| format.kind() == ValueKind::String) else {
        return Err(fail(format!("strftime: the format must be a string, got {}", a_type(format))));
    };
    check_format(fmt, utc)?;
    let when: DateTime<Utc> = match second {
        None => Utc::now(),
        Some(s) => {
            let secs = epoch(&s).ok_or_else(|| fail(format!("strftime: invalid value for epoch value ({s})")))?;
            Utc.timestamp_opt(secs, 0)
                .single()
                .ok_or_else(|| fail(format!("strftime: epoch value {s} is out of range")))?
        }
    };
    let text = if utc { when.format(fmt).to_string() } else { when.with_timezone(&Local).format(fmt).to_string() };
    Ok(Value::from(text))
}

/// Seconds as Python's `float(second)` reads them, truncated down like `time.localtime`.
fn epoch(v: &Value) -> Option<i64> {
    let f = match v.kind() {
        ValueKind::Number | ValueKind::Bool => f64::try_from(v.clone()).ok()?,
        ValueKind::String => v.as_str()?.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    f.is_finite().then(|| f.floor() as i64)
}

fn check_format(fmt: &str, utc: bool) -> Result<(), Error> {
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        let mut conv = chars.next();
        if matches!(conv, Some('-' | '_' | '0')) {
            conv = chars.next();
        }
        match conv {
            // glibc's %s reads the broken-down time as local time, also after gmtime.
            Some('s') if utc => return Err(fail("strftime: %s with utc=true is not supported by prov")),
            Some(c) if SAME_AS_GLIBC.contains(c) => {}
            Some('Z') if utc => {}
            Some(c) => {
                return Err(fail(format!(
                    "strftime: the conversion %{c} is not supported by prov{}",
                    if c == 'Z' { " in local time (use %z, or utc=true)" } else { "" }
                )))
            }
            None => return Err(fail("strftime: the format ends with a lone %")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::template::filters::testenv::{err, ok};

    #[test]
    fn strftime_formats_epoch_seconds_like_ansible_core() {
        // ansible-core 2.19's output (utc=true, or a controller in UTC for the local ones).
        let f = |src: &str| ok(&format!("{{{{ {src} }}}}"));
        assert_eq!(f("'%Y-%m-%d %H:%M:%S' | strftime(0, utc=true)"), "1970-01-01 00:00:00");
        assert_eq!(f("'%Y-%m-%d %H:%M:%S' | strftime(1700000000, utc=true)"), "2023-11-14 22:13:20");
        assert_eq!(f("'%Y-%m-%d' | strftime('1700000000', utc=true)"), "2023-11-14");
        assert_eq!(f("'%Y-%m-%d %H' | strftime(1700000000, utc=true)"), "2023-11-14 22");
        assert_eq!(f("'%a %b %j %p %Z %z %%' | strftime(1700000000, utc=true)"), "Tue Nov 318 PM UTC +0000 %");
        assert_eq!(
            f("'%c|%x|%X|%e|%-d|%u|%U|%V' | strftime(1700000000.9, utc=true)"),
            "Tue Nov 14 22:13:20 2023|11/14/23|22:13:20|14|14|2|46|46"
        );
        assert_eq!(f("'%s' | strftime(1700000000)"), "1700000000");
        let local = chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("valid").with_timezone(&chrono::Local);
        assert_eq!(
            f("'%Y-%m-%d %H:%M:%S %z' | strftime(1700000000)"),
            local.format("%Y-%m-%d %H:%M:%S %z").to_string()
        );
        let year = chrono::Utc::now().format("%Y").to_string();
        assert_eq!(f("'%Y' | strftime(utc=true)"), year);
    }

    #[test]
    fn strftime_refuses_conversions_it_cannot_print_as_glibc() {
        err("{{ '%Z' | strftime(0) }}", "%Z is not supported by prov in local time");
        err("{{ '%f' | strftime(0) }}", "%f is not supported");
        err("{{ '%s' | strftime(0, utc=true) }}", "%s with utc=true");
        err("{{ '%Ey' | strftime(0) }}", "%E is not supported");
        err("{{ '%Y%' | strftime(0) }}", "lone %");
        err("{{ '%Y' | strftime('soon') }}", "invalid value for epoch value (soon)");
    }
}
