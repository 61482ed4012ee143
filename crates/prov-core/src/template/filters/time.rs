//! `strftime`: Ansible's filter, which formats epoch seconds (default: now) with the C
//! library's `strftime`, in the controller's local time zone or in UTC (`utc=true`).
//! `now(utc=false, fmt=None)` and the `to_datetime(format='%Y-%m-%d %H:%M:%S')` filter give
//! Python's naive `datetime` objects: their fields (`year` ... `microsecond`), `strftime`,
//! `isoformat`, `timestamp`, `weekday`, `isoweekday`, comparisons, and `-`/`+` with each other
//! and with the `timedelta` a subtraction gives (`days`, `seconds`, `microseconds`,
//! `total_seconds()`), printed as Python prints them.
//!
//! chrono formats the conversions below exactly as glibc does in the C locale; a format with any
//! other conversion (`%Z` in local time, whose name chrono does not know, `%E`/`%O` forms,
//! chrono's own extensions) is refused rather than printed differently.

use super::add_filter;
use super::{a_type, fail, split_args};
use chrono::{DateTime, Datelike, Local, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc};
use minijinja::value::{DynObject, Object, ObjectRepr, Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, State};
use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::sync::Arc;

pub fn register(env: &mut Environment<'static>) {
    add_filter(env, "strftime", strftime);
    add_filter(env, "ansible.builtin.strftime", strftime);
    add_filter(env, "to_datetime", to_datetime);
    add_filter(env, "ansible.builtin.to_datetime", to_datetime);
    env.add_function("now", now);
}

/// Python's naive `datetime.datetime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PyDateTime(pub NaiveDateTime);

/// Python's `datetime.timedelta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PyTimeDelta(pub TimeDelta);

impl PyDateTime {
    fn value(t: NaiveDateTime) -> Value {
        Value::from_object(PyDateTime(t))
    }
}

/// `str(datetime)`: `YYYY-MM-DD HH:MM:SS`, with `.ffffff` when there are microseconds.
fn py_datetime_text(t: &NaiveDateTime, sep: char) -> String {
    let micros = t.nanosecond() / 1000;
    let base = format!("{}{sep}{}", t.format("%Y-%m-%d"), t.format("%H:%M:%S"));
    if micros == 0 {
        base
    } else {
        format!("{base}.{micros:06}")
    }
}

impl Object for PyDateTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let t = &self.0;
        Some(Value::from(match key.as_str()? {
            "year" => t.year() as i64,
            "month" => t.month() as i64,
            "day" => t.day() as i64,
            "hour" => t.hour() as i64,
            "minute" => t.minute() as i64,
            "second" => t.second() as i64,
            "microsecond" => (t.nanosecond() / 1000) as i64,
            "tzinfo" => return Some(Value::from(())),
            _ => return None,
        }))
    }

    fn call_method(self: &Arc<Self>, _: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        let t = &self.0;
        match (method, args) {
            ("strftime", [fmt]) => {
                let fmt = fmt.as_str().ok_or_else(|| fail("strftime() argument 1 must be str"))?;
                naive_strftime(t, fmt).map(Value::from)
            }
            ("isoformat", []) => Ok(Value::from(py_datetime_text(t, 'T'))),
            ("isoformat", [sep]) => {
                let sep = sep.as_str().and_then(|s| s.chars().next()).unwrap_or('T');
                Ok(Value::from(py_datetime_text(t, sep)))
            }
            ("timestamp", []) => {
                let local =
                    Local.from_local_datetime(t).earliest().ok_or_else(|| fail("timestamp: no such local time"))?;
                Ok(Value::from(local.timestamp_micros() as f64 / 1e6))
            }
            ("weekday", []) => Ok(Value::from(t.weekday().num_days_from_monday() as i64)),
            ("isoweekday", []) => Ok(Value::from(t.weekday().number_from_monday() as i64)),
            _ => Err(Error::from(minijinja::ErrorKind::UnknownMethod)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        Some(self.0.cmp(&other.downcast_ref::<Self>()?.0))
    }

    fn custom_op(self: &Arc<Self>, op: &str, other: &Value, swapped: bool) -> Option<Result<Value, Error>> {
        let t = self.0;
        if let Some(o) = other.downcast_object_ref::<PyDateTime>() {
            // datetime - datetime (datetime + datetime is an error, as in Python).
            return (op == "-").then(|| {
                let d = if swapped { o.0 - t } else { t - o.0 };
                Ok(Value::from_object(PyTimeDelta(d)))
            });
        }
        let d = other.downcast_object_ref::<PyTimeDelta>()?.0;
        Some(match (op, swapped) {
            ("+", _) => t.checked_add_signed(d).map(PyDateTime::value).ok_or_else(|| fail("date value out of range")),
            ("-", false) => {
                t.checked_sub_signed(d).map(PyDateTime::value).ok_or_else(|| fail("date value out of range"))
            }
            _ => return None,
        })
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&py_datetime_text(&self.0, ' '))
    }

    fn custom_serialize(self: &Arc<Self>) -> Option<Value> {
        Some(Value::from(py_datetime_text(&self.0, 'T')))
    }
}

impl Object for PyTimeDelta {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let (days, seconds, micros) = timedelta_parts(&self.0);
        Some(Value::from(match key.as_str()? {
            "days" => days,
            "seconds" => seconds,
            "microseconds" => micros,
            _ => return None,
        }))
    }

    fn call_method(self: &Arc<Self>, _: &mut State<'_, '_>, method: &str, args: &[Value]) -> Result<Value, Error> {
        match (method, args) {
            ("total_seconds", []) => Ok(Value::from(self.0.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6)),
            _ => Err(Error::from(minijinja::ErrorKind::UnknownMethod)),
        }
    }

    fn custom_cmp(self: &Arc<Self>, other: &DynObject) -> Option<Ordering> {
        Some(self.0.cmp(&other.downcast_ref::<Self>()?.0))
    }

    fn custom_op(self: &Arc<Self>, op: &str, other: &Value, swapped: bool) -> Option<Result<Value, Error>> {
        let d = self.0;
        if other.downcast_object_ref::<PyDateTime>().is_some() {
            // timedelta + datetime: the datetime's own (swapped) operation.
            return None;
        }
        let o = other.downcast_object_ref::<PyTimeDelta>()?.0;
        let r = match (op, swapped) {
            ("+", _) => d.checked_add(&o),
            ("-", false) => d.checked_sub(&o),
            ("-", true) => o.checked_sub(&d),
            _ => return None,
        };
        Some(r.map(|r| Value::from_object(PyTimeDelta(r))).ok_or_else(|| fail("timedelta out of range")))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (days, seconds, micros) = timedelta_parts(&self.0);
        if days != 0 {
            write!(f, "{days} day{}, ", if days.abs() == 1 { "" } else { "s" })?;
        }
        write!(f, "{}:{:02}:{:02}", seconds / 3600, seconds % 3600 / 60, seconds % 60)?;
        if micros != 0 {
            write!(f, ".{micros:06}")?;
        }
        Ok(())
    }
}

/// Python's `strftime` of a naive datetime: glibc's conversions (those chrono prints alike),
/// `%f` (the microseconds, six digits), and `%z`/`%Z` empty (a naive datetime has no zone).
fn naive_strftime(t: &NaiveDateTime, fmt: &str) -> Result<String, Error> {
    let mut spec = String::with_capacity(fmt.len());
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            spec.push(c);
            continue;
        }
        let mut conv = chars.next();
        let mut flag = None;
        if let Some(f @ ('-' | '_' | '0')) = conv {
            flag = Some(f);
            conv = chars.next();
        }
        match conv {
            Some('f') => spec.push_str("%6f"),
            Some('z' | 'Z') => {}
            Some(c) if SAME_AS_GLIBC.contains(c) => {
                spec.push('%');
                spec.extend(flag);
                spec.push(c);
            }
            Some(c) => return Err(fail(format!("strftime: the conversion %{c} is not supported by prov"))),
            None => return Err(fail("strftime: the format ends with a lone %")),
        }
    }
    let mut out = String::new();
    write!(out, "{}", t.format(&spec)).map_err(|_| fail(format!("strftime: cannot format with {fmt:?}")))?;
    Ok(out)
}

/// Python's normalized timedelta: days (any sign), then 0 <= seconds < 86400 and
/// 0 <= microseconds < 1000000.
fn timedelta_parts(d: &TimeDelta) -> (i64, i64, i64) {
    let total = d.num_microseconds().unwrap_or(i64::MAX);
    let days = total.div_euclid(86_400_000_000);
    let rest = total.rem_euclid(86_400_000_000);
    (days, rest / 1_000_000, rest % 1_000_000)
}

/// `now(utc=False, fmt=None)`: the controller's local time (or UTC), naive, or formatted.
fn now(args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    let mut pos = pos.into_iter();
    let utc = pos.next().or(kw.get::<Option<Value>>("utc")?).is_some_and(|v| v.is_true());
    let fmt = pos.next().or(kw.get::<Option<Value>>("fmt")?).filter(|v| v.is_true());
    kw.assert_all_used()?;
    let t = if utc { Utc::now().naive_utc() } else { Local::now().naive_local() };
    match fmt {
        None => Ok(PyDateTime::value(t)),
        Some(f) => {
            let f = f.as_str().ok_or_else(|| fail("now: fmt must be a string"))?;
            naive_strftime(&t, f).map(Value::from)
        }
    }
}

/// `to_datetime(format='%Y-%m-%d %H:%M:%S')`: Python's `datetime.strptime` (fields the format
/// lacks are those of 1900-01-01 00:00:00).
fn to_datetime(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    let format = pos.into_iter().next().or(kw.get::<Option<Value>>("format")?);
    kw.assert_all_used()?;
    let format = match &format {
        Some(f) => f.as_str().ok_or_else(|| fail("to_datetime: the format must be a string"))?.to_string(),
        None => "%Y-%m-%d %H:%M:%S".to_string(),
    };
    let Some(text) = value.as_str().filter(|_| value.kind() == ValueKind::String) else {
        return Err(fail(format!("to_datetime: strptime() argument 1 must be str, not {}", a_type(value))));
    };
    if format.contains("%z") || format.contains("%Z") {
        return Err(fail("to_datetime: a format with a time zone (%z, %Z) is not supported by prov yet"));
    }
    // Python's `.%f` (1 to 6 digits after a dot) is chrono's `%.f`.
    let fmt = format.replace(".%f", "%.f");
    if fmt.replace("%.f", "").contains("%f") {
        return Err(fail("to_datetime: %f without a dot before it is not supported by prov yet"));
    }
    let no_match = || fail(format!("time data '{text}' does not match format '{format}'"));
    let mut p = chrono::format::Parsed::new();
    chrono::format::parse(&mut p, text, chrono::format::StrftimeItems::new(&fmt)).map_err(|_| no_match())?;
    // Python's defaults for what the format does not give: 1900-01-01 00:00:00.
    let unset = |r: chrono::format::ParseResult<()>| r.map_err(|_| no_match());
    if p.year().is_none() && p.year_mod_100().is_none() && p.isoyear().is_none() {
        unset(p.set_year(1900))?;
    }
    if p.month().is_none() && p.ordinal().is_none() && p.week_from_mon().is_none() && p.isoyear().is_none() {
        unset(p.set_month(1))?;
    }
    if p.day().is_none() && p.ordinal().is_none() && p.week_from_mon().is_none() && p.isoyear().is_none() {
        unset(p.set_day(1))?;
    }
    if p.hour_div_12().is_none() && p.hour_mod_12().is_none() {
        unset(p.set_hour(0))?;
    }
    if p.minute().is_none() {
        unset(p.set_minute(0))?;
    }
    let parsed = p.to_naive_datetime_with_offset(0).map_err(|_| no_match())?;
    Ok(PyDateTime::value(parsed))
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
    let text = if utc {
        when.format(&gmt_zone_name(fmt)).to_string()
    } else {
        when.with_timezone(&Local).format(fmt).to_string()
    };
    Ok(Value::from(text))
}

/// The format with each `%Z` written as `GMT`: the zone name glibc gives a `time.gmtime()`
/// result, where chrono's UTC says `UTC`.
fn gmt_zone_name(fmt: &str) -> String {
    let mut out = String::with_capacity(fmt.len());
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('%', Some('Z')) => {
                chars.next();
                out.push_str("GMT");
            }
            ('%', Some(&n)) => {
                chars.next();
                out.push('%');
                out.push(n);
            }
            (c, _) => out.push(c),
        }
    }
    out
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
        // ansible-core 2.19.14's output (utc=true, or a controller in UTC for the local ones);
        // glibc names gmtime's zone GMT.
        let f = |src: &str| ok(&format!("{{{{ {src} }}}}"));
        assert_eq!(f("'%Y-%m-%d %H:%M:%S' | strftime(0, utc=true)"), "1970-01-01 00:00:00");
        assert_eq!(f("'%Y-%m-%d %H:%M:%S' | strftime(1700000000, utc=true)"), "2023-11-14 22:13:20");
        assert_eq!(f("'%Y-%m-%d' | strftime('1700000000', utc=true)"), "2023-11-14");
        assert_eq!(f("'%Y-%m-%d %H' | strftime(1700000000, utc=true)"), "2023-11-14 22");
        assert_eq!(f("'%a %b %j %p %Z %z %%' | strftime(1700000000, utc=true)"), "Tue Nov 318 PM GMT +0000 %");
        assert_eq!(f("'%%Z %Z' | strftime(0, utc=true)"), "%Z GMT");
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

    /// ansible-core 2.19.14 printed these for the same expressions (`msg` of a debug; booleans
    /// are in text here, so Python's spelling).
    #[test]
    fn to_datetime_and_now_give_python_datetimes() {
        let f = |src: &str| ok(&format!("{{{{ {src} }}}}"));
        let a = "('2024-01-02 03:04:05' | to_datetime)";
        let b = "('2023-12-31 23:00:00' | to_datetime)";
        assert_eq!(f(a), "2024-01-02 03:04:05");
        assert_eq!(f(&format!("{a}.year")), "2024");
        assert_eq!(f("'2024-03-09' | to_datetime('%Y-%m-%d')"), "2024-03-09 00:00:00");
        assert_eq!(f("'12:30' | to_datetime('%H:%M')"), "1900-01-01 12:30:00");
        assert_eq!(f("'2024-03' | to_datetime('%Y-%m')"), "2024-03-01 00:00:00");
        let frac = "('2024-01-02T03:04:05.25Z' | to_datetime('%Y-%m-%dT%H:%M:%S.%fZ'))";
        assert_eq!(f(frac), "2024-01-02 03:04:05.250000");
        assert_eq!(f(&format!("{frac}.microsecond")), "250000");
        assert_eq!(f(&format!("'d=' ~ ({a} - {b})")), "d=1 day, 4:04:05");
        assert_eq!(f(&format!("({a} - {b}).days")), "1");
        assert_eq!(f(&format!("({a} - {b}).seconds")), "14645");
        assert_eq!(f(&format!("({a} - {b}).total_seconds()")), "101045.0");
        assert_eq!(f(&format!("'d=' ~ ({b} - {a})")), "d=-2 days, 19:55:55");
        assert_eq!(f(&format!("({b} - {a}).days")), "-2");
        assert_eq!(f(&format!("{a} > {b}")), "True");
        assert_eq!(f(&format!("{a} == {a}")), "True");
        assert_eq!(f(&format!("{a}.strftime('%d/%m/%Y %H:%M %A')")), "02/01/2024 03:04 Tuesday");
        assert_eq!(f(&format!("{a}.isoformat()")), "2024-01-02T03:04:05");
        assert_eq!(f(&format!("{a}.weekday()")), "1");
        assert_eq!(f(&format!("{a} - ({a} - {b})")), "2023-12-31 23:00:00");
        assert_eq!(f(&format!("[{a}] | to_json")), "[\"2024-01-02T03:04:05\"]");
        assert_eq!(f("'1/2/24' | to_datetime('%m/%d/%y')"), "2024-01-02 00:00:00");
        assert_eq!(f("now().year > 2020"), "True");
        assert_eq!(f("now(utc=true, fmt='%Y') | int > 2020"), "True");
        assert_eq!(f("now(fmt='%Y-%m-%d') | length"), "10");
        assert_eq!(f("(now() - now()).days"), "-1");
        err("{{ 'x' | to_datetime }}", "time data 'x' does not match format '%Y-%m-%d %H:%M:%S'");
        err(&format!("{{{{ {a} | to_datetime }}}}"), "strptime() argument 1 must be str, not a datetime");
        // Python: microseconds for %f, nothing for a naive datetime's %z and %Z.
        assert_eq!(f(&format!("{frac}.strftime('%S.%f|%z|%Z|%-d')")), "05.250000|||2");
        assert_eq!(f("now(fmt='%z%Z') | length"), "0");
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
