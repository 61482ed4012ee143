//! Filters on lists and dictionaries: `combine`, `dict2items`/`items2dict`, set operations,
//! `flatten`, `zip`, `product`, `extract`, `subelements`.

use super::add_filter;
use super::pyset::{number_set_op, SetOp};
use super::serialize::map_entries;
use super::{a_type, fail, is_list, list_items, map_value, split_args};
use minijinja::value::{Kwargs, Rest, Value, ValueKind, ValueOrKwargs};
use minijinja::{Environment, Error, State};

pub(super) fn register(env: &mut Environment<'static>) {
    add_filter(env, "combine", combine);
    add_filter(env, "community.general.dict", general_dict);
    add_filter(env, "community.general.dict_kv", dict_kv);
    add_filter(env, "community.general.counter", counter);
    add_filter(env, "community.general.lists_mergeby", lists_mergeby);
    add_filter(env, "dict2items", dict2items);
    add_filter(env, "items2dict", items2dict);
    add_filter(env, "union", union);
    add_filter(env, "intersect", intersect);
    add_filter(env, "difference", difference);
    add_filter(env, "symmetric_difference", symmetric_difference);
    add_filter(env, "flatten", flatten);
    add_filter(env, "zip", zip);
    add_filter(env, "zip_longest", zip_longest);
    add_filter(env, "product", product);
    add_filter(env, "extract", extract);
    add_filter(env, "subelements", subelements);
    add_filter(env, "community.sops._latest_version", latest_version);
    env.add_function("dict", dict);
}

/// community.sops' `_latest_version` (the install role's): the greatest of a list of versions
/// compared as Python's `LooseVersion`, leaving out those with `-` or `+`; `''` for none.
fn latest_version(value: &Value) -> Result<Value, Error> {
    let mut best: Option<String> = None;
    for v in list_items(value, "community.sops._latest_version expects")? {
        let Some(v) = v.as_str().map(str::to_string) else {
            return Err(fail(format!("community.sops._latest_version: {} is not a version string", a_type(&v))));
        };
        if v.contains('-') || v.contains('+') {
            continue;
        }
        best = match best {
            Some(b) if super::super::tests_lib::cmp_loose(&v, &b)? != std::cmp::Ordering::Greater => Some(b),
            _ => Some(v),
        };
    }
    Ok(Value::from(best.unwrap_or_default()))
}

#[derive(Clone, Copy, PartialEq)]
enum ListMerge {
    Replace,
    Keep,
    Append,
    Prepend,
    AppendRp,
    PrependRp,
}

/// Ansible's `merge_hash`: `y` over `x`.
fn merge(x: &Value, y: &Value, recursive: bool, lm: ListMerge) -> Result<Value, Error> {
    let mut out: indexmap::IndexMap<Value, Value> = map_entries(x)?.into_iter().collect();
    for (k, yv) in map_entries(y)? {
        let merged = match out.get(&k) {
            Some(xv) if xv.kind() == ValueKind::Map && yv.kind() == ValueKind::Map && recursive => {
                merge(xv, &yv, recursive, lm)?
            }
            Some(xv) if is_list(xv) && is_list(&yv) => {
                let xs: Vec<Value> = xv.try_iter()?.checked().collect::<Result<_, _>>()?;
                let ys: Vec<Value> = yv.try_iter()?.checked().collect::<Result<_, _>>()?;
                let rp = || xs.iter().filter(|z| !ys.contains(z)).cloned().collect::<Vec<_>>();
                Value::from(match lm {
                    ListMerge::Replace => ys,
                    ListMerge::Keep => xs,
                    ListMerge::Append => xs.iter().chain(&ys).cloned().collect(),
                    ListMerge::Prepend => ys.iter().chain(&xs).cloned().collect(),
                    ListMerge::AppendRp => rp().into_iter().chain(ys.iter().cloned()).collect(),
                    ListMerge::PrependRp => ys.iter().cloned().chain(rp()).collect::<Vec<_>>(),
                })
            }
            _ => yv,
        };
        out.insert(k, merged);
    }
    Ok(Value::from(out))
}

/// `combine(*dicts, recursive=False, list_merge='replace')`; lists of dicts are flattened.
fn combine(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    let (recursive, lm) = merge_options(&kw, "combine")?;
    let mut dicts = Vec::new();
    for term in std::iter::once(value).chain(pos.iter()) {
        if is_list(term) {
            dicts.extend(term.try_iter()?.checked().collect::<Result<Vec<_>, _>>()?);
        } else {
            dicts.push(term.clone());
        }
    }
    let mut acc = map_value([]);
    for d in &dicts {
        if d.kind() != ValueKind::Map {
            return Err(fail(format!("combine expects dictionaries, got {}", a_type(d))));
        }
        acc = merge(&acc, d, recursive, lm)?;
    }
    Ok(acc)
}

/// `recursive` and `list_merge` of `combine` and `lists_mergeby`.
fn merge_options(kw: &Kwargs, filter: &str) -> Result<(bool, ListMerge), Error> {
    let recursive = kw.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let lm = match kw.get::<Option<&str>>("list_merge")?.unwrap_or("replace") {
        "replace" => ListMerge::Replace,
        "keep" => ListMerge::Keep,
        "append" => ListMerge::Append,
        "prepend" => ListMerge::Prepend,
        "append_rp" => ListMerge::AppendRp,
        "prepend_rp" => ListMerge::PrependRp,
        other => {
            return Err(fail(format!(
                "{filter}: list_merge must be 'replace', 'keep', 'append', 'prepend', 'append_rp' or 'prepend_rp', got '{other}'"
            )))
        }
    };
    if kw.args().any(|a| a != "recursive" && a != "list_merge") {
        return Err(fail(format!("{filter}: 'recursive' and 'list_merge' are the only valid keyword arguments")));
    }
    Ok((recursive, lm))
}

/// `community.general.dict`: Python's `dict()` of a list of pairs.
fn general_dict(value: &Value) -> Result<Value, Error> {
    let mut out = Vec::new();
    for item in list_items(value, "community.general.dict expects")? {
        let pair: Vec<Value> = match item.kind() {
            ValueKind::String => {
                item.as_str().unwrap_or_default().chars().map(|c| Value::from(c.to_string())).collect()
            }
            _ if is_list(&item) => list_items(&item, "community.general.dict: an item must be a pair, not")?,
            _ => return Err(fail(format!("community.general.dict: an item must be a pair, not {}", a_type(&item)))),
        };
        match <[Value; 2]>::try_from(pair) {
            Ok([k, v]) => out.push((k, v)),
            Err(p) => {
                return Err(fail(format!(
                    "community.general.dict: dictionary update sequence element has length {}; 2 is required",
                    p.len()
                )))
            }
        }
    }
    Ok(map_value(out))
}

/// `community.general.dict_kv(key)`: `{key: value}`.
fn dict_kv(value: &Value, key: Value) -> Value {
    map_value([(key, value.clone())])
}

/// A value as a Python dictionary key: numbers and booleans by their numeric value (`1`,
/// `1.0` and `true` are one key), strings and none as they are; lists and mappings cannot be.
fn hash_key(v: &Value, filter: &str) -> Result<String, Error> {
    match v.kind() {
        ValueKind::Bool | ValueKind::Number => {
            let f = f64::try_from(v.clone()).unwrap_or(f64::from(u8::from(v.is_true())));
            Ok(if v.is_integer() || v.kind() == ValueKind::Bool || f.fract() == 0.0 && f.abs() < 1e36 {
                format!("n{}", i128::try_from(v.clone()).unwrap_or(f as i128))
            } else {
                format!("f{}", f.to_bits())
            })
        }
        ValueKind::String => Ok(format!("s{}", v.as_str().unwrap_or_default())),
        ValueKind::None => Ok("none".into()),
        _ => Err(fail(format!("{filter}: {} cannot be a dictionary key (it is not hashable)", a_type(v)))),
    }
}

/// `community.general.counter`: how many times each item occurs, in the order items first occur.
fn counter(value: &Value) -> Result<Value, Error> {
    let items = match value.kind() {
        ValueKind::String => value.as_str().unwrap_or_default().chars().map(|c| Value::from(c.to_string())).collect(),
        _ if is_list(value) => list_items(value, "community.general.counter expects")?,
        _ => {
            return Err(fail(format!(
                "Argument for community.general.counter must be a sequence (string or list), got {}",
                a_type(value)
            )))
        }
    };
    let mut counts: indexmap::IndexMap<String, (Value, i64)> = indexmap::IndexMap::new();
    for item in items {
        let key = hash_key(&item, "community.general.counter")?;
        counts.entry(key).or_insert((item, 0)).1 += 1;
    }
    Ok(map_value(counts.into_values().map(|(k, n)| (k, Value::from(n)))))
}

/// `community.general.lists_mergeby(*lists, index, recursive=False, list_merge='replace')`:
/// the dictionaries of the lists merged by the value of their key `index` (later lists win;
/// dictionaries without that key are left out), sorted by it.
fn lists_mergeby(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    const F: &str = "community.general.lists_mergeby";
    let (pos, kw) = split_args(args)?;
    let (recursive, lm) = merge_options(&kw, F)?;
    let mut terms = vec![value.clone()];
    terms.extend(pos);
    if terms.len() < 2 {
        return Err(fail(format!("{F}: At least one list and index are needed.")));
    }
    let index = terms.pop().unwrap_or_default();
    let mut lists: Vec<Value> = Vec::new();
    for sub in &terms {
        if !is_list(sub) && sub.kind() != ValueKind::String {
            return Err(fail(format!(
                "{F}: All arguments before the argument index must be lists. {sub} is {}",
                a_type(sub)
            )));
        }
        let items: Vec<Value> = if is_list(sub) { list_items(sub, F)? } else { Vec::new() };
        if sub.kind() == ValueKind::String && !sub.as_str().unwrap_or_default().is_empty() {
            return Err(fail(format!("{F}: a string is not a list of dictionaries")));
        }
        if items.is_empty() {
            continue;
        }
        if items.iter().all(|i| is_list(i) || i.kind() == ValueKind::String) {
            lists.extend(items);
        } else {
            lists.push(sub.clone());
        }
    }
    match lists.len() {
        0 => return Ok(Value::from(Vec::<Value>::new())),
        1 => return Ok(lists.swap_remove(0)),
        _ => {}
    }
    if index.kind() != ValueKind::String {
        return Err(fail(format!("{F}: First argument after the lists must be string. {index} is {}", a_type(&index))));
    }
    let mut result = lists.pop().unwrap_or_default();
    while let Some(lower) = lists.pop() {
        result = merge_by(&lower, &result, &index, recursive, lm)?;
    }
    Ok(result)
}

/// One step of `lists_mergeby`: `y`'s dictionaries over `x`'s, by their `index` key.
fn merge_by(x: &Value, y: &Value, index: &Value, recursive: bool, lm: ListMerge) -> Result<Value, Error> {
    const F: &str = "community.general.lists_mergeby";
    let mut merged: indexmap::IndexMap<String, (Value, Value)> = indexmap::IndexMap::new();
    for list in [x, y] {
        for elem in list_items(list, &format!("{F} expects"))? {
            if elem.kind() != ValueKind::Map {
                return Err(fail(format!(
                    "{F}: Elements of list arguments must be dictionaries, got {}",
                    a_type(&elem)
                )));
            }
            let k = elem.get_item(index).unwrap_or_default();
            if k.is_undefined() {
                continue;
            }
            let slot = merged.entry(hash_key(&k, F)?).or_insert_with(|| (k.clone(), map_value([])));
            slot.1 = merge(&slot.1, &elem, recursive, lm)?;
        }
    }
    let mut out: Vec<(Value, Value)> = merged.into_values().collect();
    let numeric = |v: &Value| matches!(v.kind(), ValueKind::Number | ValueKind::Bool);
    if out.iter().all(|(k, _)| numeric(k)) {
        let n = |v: &Value| f64::try_from(v.clone()).unwrap_or(f64::from(u8::from(v.is_true())));
        out.sort_by(|a, b| n(&a.0).partial_cmp(&n(&b.0)).unwrap_or(std::cmp::Ordering::Equal));
    } else if out.iter().all(|(k, _)| k.kind() == ValueKind::String) {
        out.sort_by(|a, b| a.0.as_str().cmp(&b.0.as_str()));
    } else if out.len() > 1 {
        return Err(fail(format!("{F}: the values of '{index}' cannot be ordered ('<' between different types)")));
    }
    Ok(Value::from(out.into_iter().map(|(_, d)| d).collect::<Vec<_>>()))
}

fn key_names(kw: &Kwargs) -> Result<(Value, Value), Error> {
    let k = kw.get::<Option<Value>>("key_name")?.unwrap_or(Value::from("key"));
    let v = kw.get::<Option<Value>>("value_name")?.unwrap_or(Value::from("value"));
    kw.assert_all_used()?;
    Ok((k, v))
}

/// `dict2items(key_name='key', value_name='value')`.
fn dict2items(value: &Value, kw: Kwargs) -> Result<Value, Error> {
    let (kn, vn) = key_names(&kw)?;
    if value.kind() != ValueKind::Map {
        return Err(fail(format!("dict2items requires a dictionary, got {} instead", a_type(value))));
    }
    Ok(Value::from(
        map_entries(value)?.into_iter().map(|(k, v)| map_value([(kn.clone(), k), (vn.clone(), v)])).collect::<Vec<_>>(),
    ))
}

/// `items2dict(key_name='key', value_name='value')`.
fn items2dict(value: &Value, kw: Kwargs) -> Result<Value, Error> {
    let (kn, vn) = key_names(&kw)?;
    let items = list_items(value, "items2dict requires")?;
    let mut out = Vec::new();
    for item in items {
        if item.kind() != ValueKind::Map {
            return Err(fail(format!("items2dict requires a list of dictionaries, got {} in the list", a_type(&item))));
        }
        let k = item.get_item(&kn)?;
        let v = item.get_item(&vn)?;
        if k.is_undefined() || v.is_undefined() {
            return Err(fail(format!(
                "items2dict: each item needs the keys '{kn}' and '{vn}' (set key_name/value_name for other names)"
            )));
        }
        out.push((k, v));
    }
    Ok(map_value(out))
}

fn unique_keep_order(items: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

fn two_lists(a: &Value, b: &Value, filter: &str) -> Result<(Vec<Value>, Vec<Value>), Error> {
    Ok((list_items(a, &format!("{filter} expects"))?, list_items(b, &format!("{filter} expects"))?))
}

/// A set operation as ansible-core's filter does it: `list(set(a) OP set(b))`, whose order
/// is CPython's hash table's, followed for numbers ([`pyset`]); for strings (whose order
/// changes with each Python process's hash seed) and other items, the items' own order.
fn set_op(a: &Value, b: &Value, op: SetOp, filter: &str) -> Result<Value, Error> {
    let (a, b) = two_lists(a, b, filter)?;
    if let Some(r) = number_set_op(&a, &b, op) {
        return Ok(Value::from(r));
    }
    let out = match op {
        SetOp::Union => unique_keep_order(a.into_iter().chain(b)),
        SetOp::Intersect => unique_keep_order(a.into_iter().filter(|x| b.contains(x))),
        SetOp::Difference => unique_keep_order(a.into_iter().filter(|x| !b.contains(x))),
        SetOp::SymmetricDifference => {
            let both: Vec<Value> = a.iter().filter(|x| b.contains(x)).cloned().collect();
            unique_keep_order(a.into_iter().chain(b).filter(|x| !both.contains(x)))
        }
    };
    Ok(Value::from(out))
}

/// `union(b)`: items of both lists, without duplicates.
fn union(a: &Value, b: &Value) -> Result<Value, Error> {
    set_op(a, b, SetOp::Union, "union")
}

/// `intersect(b)`: items of the first list that are in the second.
fn intersect(a: &Value, b: &Value) -> Result<Value, Error> {
    set_op(a, b, SetOp::Intersect, "intersect")
}

/// `difference(b)`: items of the first list that are not in the second.
fn difference(a: &Value, b: &Value) -> Result<Value, Error> {
    set_op(a, b, SetOp::Difference, "difference")
}

/// `symmetric_difference(b)`: items in exactly one of the lists.
fn symmetric_difference(a: &Value, b: &Value) -> Result<Value, Error> {
    set_op(a, b, SetOp::SymmetricDifference, "symmetric_difference")
}

fn flatten_into(items: Vec<Value>, levels: Option<i64>, skip_nulls: bool, out: &mut Vec<Value>) -> Result<(), Error> {
    for item in items {
        if skip_nulls && (item.is_none() || matches!(item.as_str(), Some("None" | "null"))) {
            continue;
        }
        match levels {
            _ if !is_list(&item) => out.push(item),
            Some(l) if l < 1 => out.push(item),
            _ => {
                let inner = item.try_iter()?.checked().collect::<Result<Vec<_>, _>>()?;
                flatten_into(inner, levels.map(|l| l - 1), skip_nulls, out)?;
            }
        }
    }
    Ok(())
}

/// `flatten(levels=None, skip_nulls=True)`.
fn flatten(value: &Value, levels: Option<i64>, kw: Kwargs) -> Result<Value, Error> {
    let levels = match levels {
        Some(l) => Some(l),
        None => kw.get::<Option<i64>>("levels")?,
    };
    let skip_nulls = kw.get::<Option<bool>>("skip_nulls")?.unwrap_or(true);
    kw.assert_all_used()?;
    let mut out = Vec::new();
    flatten_into(list_items(value, "flatten expects")?, levels, skip_nulls, &mut out)?;
    Ok(Value::from(out))
}

fn lists_of(value: &Value, others: &[Value], filter: &str) -> Result<Vec<Vec<Value>>, Error> {
    std::iter::once(value)
        .chain(others)
        .map(|v| {
            if v.kind() == ValueKind::String || v.kind() == ValueKind::Map {
                v.try_iter()?.checked().collect()
            } else {
                list_items(v, &format!("{filter} expects"))
            }
        })
        .collect()
}

/// `zip(*lists)`: a list of lists, as long as the shortest input.
fn zip(value: &Value, others: Rest<Value>) -> Result<Value, Error> {
    let lists = lists_of(value, &others, "zip")?;
    let n = lists.iter().map(Vec::len).min().unwrap_or(0);
    Ok(Value::from(
        (0..n).map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>())).collect::<Vec<_>>(),
    ))
}

/// `zip_longest(*lists, fillvalue=None)`: as long as the longest input.
fn zip_longest(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    let fill = kw.get::<Option<Value>>("fillvalue")?.unwrap_or(Value::from(()));
    kw.assert_all_used()?;
    let lists = lists_of(value, &pos, "zip_longest")?;
    let n = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| Value::from(lists.iter().map(|l| l.get(i).cloned().unwrap_or(fill.clone())).collect::<Vec<_>>()))
            .collect::<Vec<_>>(),
    ))
}

/// `product(*lists, repeat=1)`: the cartesian product, as a list of lists.
fn product(value: &Value, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    let repeat = kw.get::<Option<usize>>("repeat")?.unwrap_or(1);
    kw.assert_all_used()?;
    let lists = lists_of(value, &pos, "product")?;
    let lists: Vec<&Vec<Value>> = (0..repeat).flat_map(|_| lists.iter()).collect();
    let mut acc: Vec<Vec<Value>> = vec![Vec::new()];
    for l in lists {
        acc = acc
            .into_iter()
            .flat_map(|prefix| l.iter().map(move |x| [prefix.clone(), vec![x.clone()]].concat()))
            .collect();
    }
    Ok(Value::from(acc.into_iter().map(Value::from).collect::<Vec<_>>()))
}

/// `extract(container, morekeys=None)`: `container[item]`, then each of `morekeys` in turn.
/// Used as `groups['web'] | map('extract', hostvars, 'ansible_host')`.
/// `extract`: `container[item]`, then each of `morekeys`; a key that is missing gives an
/// undefined value (a later `default` applies), as Jinja's `getitem` in ansible-core.
fn extract(item: &Value, container: &Value, morekeys: Option<Value>) -> Result<Value, Error> {
    let keys = match morekeys {
        None => Vec::new(),
        Some(k) if is_list(&k) => k.try_iter()?.checked().collect::<Result<_, _>>()?,
        Some(k) => vec![k],
    };
    let mut v = container.clone();
    for k in std::iter::once(item).chain(&keys) {
        v = v.get_item(k)?;
        if v.is_undefined() {
            return Ok(Value::UNDEFINED);
        }
    }
    Ok(v)
}

/// `subelements(path, skip_missing=False)`: pairs `[item, sub]` for each element of the list
/// found at `path` (dotted) in each item.
fn subelements(value: &Value, path: &str, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    let skip_missing = match pos.first() {
        Some(v) => v.is_true(),
        None => match kw.get::<Option<Value>>("skip_missing")? {
            Some(v) => v.is_true(),
            None => false,
        },
    };
    kw.assert_all_used()?;
    let items = if value.kind() == ValueKind::Map {
        map_entries(value)?.into_iter().map(|(_, v)| v).collect()
    } else {
        list_items(value, "subelements expects")?
    };
    let mut out = Vec::new();
    for item in items {
        let mut sub = item.clone();
        let mut found = true;
        for part in path.split('.') {
            if sub.kind() != ValueKind::Map {
                return Err(fail(format!("subelements: cannot look up '{part}' in {}", a_type(&sub))));
            }
            sub = sub.get_item(&Value::from(part))?;
            if sub.is_undefined() {
                found = false;
                break;
            }
        }
        if !found {
            if skip_missing {
                continue;
            }
            return Err(fail(format!(
                "subelements: could not find '{path}' in an item (pass skip_missing=True to skip it)"
            )));
        }
        if !is_list(&sub) {
            return Err(fail(format!("subelements: the key '{path}' should point to a list, got {}", a_type(&sub))));
        }
        for s in sub.try_iter()?.checked() {
            out.push(Value::from(vec![item.clone(), s?]));
        }
    }
    Ok(Value::from(out))
}

/// `dict(mapping_or_pairs=None, **kwargs)`: like Python's, also from a list of pairs
/// (`dict(keys | zip(values))`).
fn dict(_state: &State, args: Rest<ValueOrKwargs>) -> Result<Value, Error> {
    let (pos, kw) = split_args(args)?;
    if pos.len() > 1 {
        return Err(fail("dict expects at most one positional argument"));
    }
    let mut out: indexmap::IndexMap<Value, Value> = indexmap::IndexMap::new();
    if let Some(src) = pos.first() {
        match src.kind() {
            ValueKind::Map => out.extend(map_entries(src)?),
            ValueKind::None | ValueKind::Undefined => {}
            _ if is_list(src) => {
                for pair in src.try_iter()?.checked() {
                    let pair = pair?;
                    let kv: Vec<Value> = if is_list(&pair) { pair.try_iter()?.collect() } else { Vec::new() };
                    if kv.len() != 2 {
                        return Err(fail(format!("dict: each item must be a [key, value] pair, got {pair}")));
                    }
                    out.insert(kv[0].clone(), kv[1].clone());
                }
            }
            _ => return Err(fail(format!("dict expects a dictionary or a list of pairs, got {}", a_type(src)))),
        }
    }
    for name in kw.args().map(str::to_string).collect::<Vec<_>>() {
        out.insert(Value::from(name.as_str()), kw.get::<Value>(&name)?);
    }
    Ok(Value::from(out))
}

#[cfg(test)]
mod tests {
    use crate::template::filters::testenv::{err, ok};

    #[test]
    fn community_general_dict_filters_answer_as_the_collection_does() {
        // ansible 12.3.0's community.general under ansible-core 2.19.14.
        assert_eq!(ok("{{ [['a', 1], ['b', 2]] | community.general.dict | to_json }}"), r#"{"a": 1, "b": 2}"#);
        assert_eq!(ok("{{ [['a', 1], 'bc'] | community.general.dict | to_json }}"), r#"{"a": 1, "b": "c"}"#);
        err("{{ [['a']] | community.general.dict }}", "has length 1; 2 is required");
        assert_eq!(ok("{{ 'val' | community.general.dict_kv('key') | to_json }}"), r#"{"key": "val"}"#);
        assert_eq!(
            ok("{{ ['a','b','a','c','a'] | community.general.counter | to_json }}"),
            r#"{"a": 3, "b": 1, "c": 1}"#
        );
        assert_eq!(ok("{{ 'hello' | community.general.counter | to_json }}"), r#"{"h": 1, "e": 1, "l": 2, "o": 1}"#);
        assert_eq!(ok("{{ [1, true, 1.0] | community.general.counter | to_json }}"), r#"{"1": 3}"#);
        assert_eq!(
            ok("{{ [{'name':'b','x':2},{'name':'a','x':1}] | community.general.lists_mergeby([{'name':'a','y':3}], 'name') | to_json }}"),
            r#"[{"name": "a", "x": 1, "y": 3}, {"name": "b", "x": 2}]"#
        );
        assert_eq!(
            ok("{{ [{'n':'b','l':[1]},{'n':'a','l':[2]}] | community.general.lists_mergeby([{'n':'b','l':[3]}], 'n', list_merge='append') | to_json }}"),
            r#"[{"n": "a", "l": [2]}, {"n": "b", "l": [1, 3]}]"#
        );
        assert_eq!(
            ok("{{ [[{'n':1,'x':{'a':1}}],[{'n':1,'x':{'b':2}}]] | community.general.lists_mergeby('n', recursive=true) | to_json }}"),
            r#"[{"n": 1, "x": {"a": 1, "b": 2}}]"#
        );
        assert_eq!(
            ok("{{ [{'n':1},{'m':2}] | community.general.lists_mergeby([{'n':0}], 'n') | to_json }}"),
            r#"[{"n": 0}, {"n": 1}]"#
        );
        assert_eq!(ok("{{ [{'n':1}] | community.general.lists_mergeby('n') | to_json }}"), r#"[{"n": 1}]"#);
        err("{{ [{'n':1}] | community.general.lists_mergeby([{'n':'a'}], 'n') }}", "cannot be ordered");
    }

    #[test]
    fn latest_version_is_the_greatest_loose_version_without_pre_releases() {
        // ansible-core 2.19 with community.sops (the `ansible` 12.3.0 package) rendered these.
        let t = "{{ [['1.0.0','3.9.0','3.10.0','3.10.0-rc1','2.0','3.11.0+x'] | community.sops._latest_version, \
                 [] | community.sops._latest_version, ['1.0', '1.0.0', '1.0'] | community.sops._latest_version, \
                 ['3.8.0', '3.10'] | community.sops._latest_version] | to_json }}";
        assert_eq!(ok(t), r#"["3.10.0", "", "1.0.0", "3.10"]"#);
        err("{{ 'x' | community.sops._latest_version }}", "expects a list");
    }

    #[test]
    fn combine_merges_shallow_by_default() {
        assert_eq!(ok("{{ {'a': 1} | combine({'b': 2}) | to_json }}"), r#"{"a": 1, "b": 2}"#);
        assert_eq!(ok("{{ {'a': {'x': 1}} | combine({'a': {'y': 2}}) | to_json }}"), r#"{"a": {"y": 2}}"#);
        assert_eq!(ok("{{ {'a': 1} | combine({'a': 2}, {'c': 3}) | to_json }}"), r#"{"a": 2, "c": 3}"#);
        assert_eq!(ok("{{ [{'a': 1}, {'b': 2}] | combine | to_json }}"), r#"{"a": 1, "b": 2}"#);
        err("{{ {'a': 1} | combine([1]) }}", "combine expects dictionaries, got an integer");
        err("{{ {'a': 1} | combine('x') }}", "combine expects dictionaries, got a string");
        err("{{ {'a': 1} | combine({}, recursve=true) }}", "'recursive' and 'list_merge' are the only valid");
        err("{{ {'a': 1} | combine({}, list_merge='merge') }}", "list_merge must be");
    }

    #[test]
    fn combine_recursive_and_list_merge() {
        let base = "{'a': {'x': 1, 'l': [1, 2]}, 'k': [1]}";
        let over = "{'a': {'y': 2, 'l': [2, 3]}, 'k': [9]}";
        let r = |opts: &str| ok(&format!("{{{{ {base} | combine({over}{opts}) | to_json }}}}"));
        assert_eq!(r(", recursive=true"), r#"{"a": {"x": 1, "l": [2, 3], "y": 2}, "k": [9]}"#);
        assert_eq!(
            r(", recursive=true, list_merge='append'"),
            r#"{"a": {"x": 1, "l": [1, 2, 2, 3], "y": 2}, "k": [1, 9]}"#
        );
        assert_eq!(
            r(", recursive=true, list_merge='prepend'"),
            r#"{"a": {"x": 1, "l": [2, 3, 1, 2], "y": 2}, "k": [9, 1]}"#
        );
        assert_eq!(
            r(", recursive=true, list_merge='append_rp'"),
            r#"{"a": {"x": 1, "l": [1, 2, 3], "y": 2}, "k": [1, 9]}"#
        );
        assert_eq!(
            r(", recursive=true, list_merge='prepend_rp'"),
            r#"{"a": {"x": 1, "l": [2, 3, 1], "y": 2}, "k": [9, 1]}"#
        );
        assert_eq!(r(", recursive=true, list_merge='keep'"), r#"{"a": {"x": 1, "l": [1, 2], "y": 2}, "k": [1]}"#);
        assert_eq!(r(", list_merge='append'"), r#"{"a": {"y": 2, "l": [2, 3]}, "k": [1, 9]}"#);
    }

    #[test]
    fn dict2items_and_back() {
        assert_eq!(
            ok("{{ {'a': 1, 'b': 2} | dict2items | to_json }}"),
            r#"[{"key": "a", "value": 1}, {"key": "b", "value": 2}]"#
        );
        assert_eq!(
            ok("{{ {'a': 1} | dict2items(key_name='k', value_name='v') | to_json }}"),
            r#"[{"k": "a", "v": 1}]"#
        );
        assert_eq!(ok("{{ {'a': 1, 'b': 2} | dict2items | items2dict | to_json }}"), r#"{"a": 1, "b": 2}"#);
        assert_eq!(
            ok("{{ [{'n': 'x', 'v': 1}] | items2dict(key_name='n', value_name='v') | to_json }}"),
            r#"{"x": 1}"#
        );
        err("{{ [1, 2] | dict2items }}", "dict2items requires a dictionary, got a list instead");
        err("{{ [{'a': 1}] | items2dict }}", "each item needs the keys 'key' and 'value'");
        err("{{ 'x' | items2dict }}", "items2dict requires a list, got a string");
        err("{{ {} | dict2items(name='x') }}", "name");
    }

    #[test]
    fn set_operations_keep_order_and_case() {
        assert_eq!(ok("{{ [1, 2, 'a'] | union([2, 3, 'A']) | to_json }}"), r#"[1, 2, "a", 3, "A"]"#);
        assert_eq!(ok("{{ [1, 2, 2, 3] | intersect([3, 2, 5]) | to_json }}"), "[2, 3]");
        assert_eq!(ok("{{ [1, 2, 3, 1] | difference([2]) | to_json }}"), "[1, 3]");
        assert_eq!(ok("{{ [1, 2, 3] | symmetric_difference([3, 4]) | to_json }}"), "[1, 2, 4]");
        err("{{ [1] | union('ab') }}", "union expects a list, got a string");
        err("{{ 5 | difference([1]) }}", "difference expects a list, got an integer");
    }

    #[test]
    fn flatten_levels_and_nulls() {
        assert_eq!(ok("{{ [1, [2, [3, [4]]], none, 'null'] | flatten | to_json }}"), "[1, 2, 3, 4]");
        assert_eq!(ok("{{ [1, [2, [3, [4]]]] | flatten(1) | to_json }}"), "[1, 2, [3, [4]]]");
        assert_eq!(ok("{{ [1, [2, [3]]] | flatten(levels=2) | to_json }}"), "[1, 2, 3]");
        assert_eq!(ok("{{ [none, [none]] | flatten(skip_nulls=false) | to_json }}"), "[null, null]");
        err("{{ 'abc' | flatten }}", "flatten expects a list, got a string");
    }

    #[test]
    fn zip_and_product_return_lists() {
        assert_eq!(ok("{{ [1, 2, 3] | zip(['a', 'b']) | to_json }}"), r#"[[1, "a"], [2, "b"]]"#);
        assert_eq!(ok("{{ [1, 2] | zip_longest(['a'], fillvalue='-') | to_json }}"), r#"[[1, "a"], [2, "-"]]"#);
        assert_eq!(ok("{{ dict(['a', 'b'] | zip([1, 2])) | to_json }}"), r#"{"a": 1, "b": 2}"#);
        assert_eq!(ok("{{ [1, 2] | product(['a', 'b']) | to_json }}"), r#"[[1, "a"], [1, "b"], [2, "a"], [2, "b"]]"#);
        assert_eq!(ok("{{ [0, 1] | product(repeat=2) | length }}"), "4");
        assert_eq!(ok("{{ [] | product([1]) | to_json }}"), "[]");
        err("{{ [1] | zip(5) }}", "zip expects a list, got an integer");
    }

    #[test]
    fn extract_looks_up_in_a_container() {
        let src =
            "{% set hv = {'h1': {'ansible_host': '10.0.0.1', 'n': {'x': 7}}, 'h2': {'ansible_host': '10.0.0.2'}} %}";
        assert_eq!(
            ok(&format!("{src}{{{{ ['h1', 'h2'] | map('extract', hv, 'ansible_host') | join(',') }}}}")),
            "10.0.0.1,10.0.0.2"
        );
        assert_eq!(ok(&format!("{src}{{{{ 'h1' | extract(hv, ['n', 'x']) }}}}")), "7");
        assert_eq!(ok("{{ [0, 2] | map('extract', ['a', 'b', 'c']) | join }}"), "ac");
        // A missing key gives an undefined value, which `default` replaces (ansible-core
        // 2.19.14 printed ['D'] and D; prov failed the task).
        assert_eq!(ok(&format!("{src}{{{{ ['h3'] | map('extract', hv) | map('default', 'D') | list }}}}")), "['D']");
        assert_eq!(ok(&format!("{src}{{{{ 'h1' | extract(hv, 'nokey') | default('D') }}}}")), "D");
        assert_eq!(ok(&format!("{src}{{{{ 'h3' | extract(hv, ['n', 'x']) | default('D') }}}}")), "D");
    }

    /// Tuples print as lists and floats inside printed lists as Python's repr, as ansible-core
    /// 2.19.14 printed this line; prov printed `('a', 1)` and `[1e-5]`. Tuples stay unequal to
    /// lists, as in Python.
    #[test]
    fn tuples_print_as_lists_and_floats_in_lists_as_python() {
        assert_eq!(
            ok("{{ {'b': 2, 'a': 1} | dictsort }} {{ {'z': 1} | items | list }} {{ {'a': (1, 2)} }} {{ (1,) }}"),
            "[['a', 1], ['b', 2]] [['z', 1]] {'a': [1, 2]} [1]"
        );
        assert_eq!(
            ok("{{ 0.00001 }}|{{ [0.00001, 1.5, 1e20] }}|{{ (1, 2) == [1, 2] }}"),
            "1e-05|[1e-05, 1.5, 1e+20]|False"
        );
    }

    /// `map` passes keyword arguments to the filter it maps (minijinja's dropped them), and
    /// `attr` reads attributes, not a mapping's keys: ansible-core 2.19.14's values.
    #[test]
    fn map_passes_keyword_arguments_and_attr_is_no_item_lookup() {
        assert_eq!(ok("{{ [[3, 1, 2]] | map('sort', reverse=true) | list }}"), "[[3, 2, 1]]");
        assert_eq!(ok("{{ ['A'] | map('regex_replace', 'a', 'b', ignorecase=true) | list }}"), "['b']");
        assert_eq!(
            ok("{{ [{'a': {'x': 1}}] | map('combine', {'a': {'y': 2}}, recursive=true) | list }}"),
            "[{'a': {'x': 1, 'y': 2}}]"
        );
        assert_eq!(ok("{{ [[1, [2, [3]]]] | map('flatten', levels=1) | list }}"), "[[1, 2, [3]]]");
        assert_eq!(ok("{{ [[{'k': 1}]] | map('map', attribute='k') | map('list') | list }}"), "[[1]]");
        assert_eq!(ok("{{ [{'k': 1}, {}] | map(attribute='k', default=0) | list }}"), "[1, 0]");
        assert_eq!(ok("{{ {'name': 'ann'} | attr('name') | default('noattr') }}"), "noattr");
    }

    #[test]
    fn subelements_pairs_items_with_sublists() {
        let users = "[{'name': 'a', 'keys': ['k1', 'k2']}, {'name': 'b', 'keys': []}, {'name': 'c'}]";
        assert_eq!(
            ok(&format!("{{% for u, k in {users} | subelements('keys', skip_missing=true) %}}{{{{ u.name }}}}={{{{ k }}}} {{% endfor %}}")),
            "a=k1 a=k2 "
        );
        err(&format!("{{{{ {users} | subelements('keys') }}}}"), "could not find 'keys'");
        err("{{ [{'k': 1}] | subelements('k') }}", "should point to a list, got an integer");
    }

    #[test]
    fn dict_builds_from_pairs_maps_and_kwargs() {
        assert_eq!(ok("{{ dict(a=1, b=2) | to_json }}"), r#"{"a": 1, "b": 2}"#);
        assert_eq!(ok("{{ dict({'a': 1}, b=2) | to_json }}"), r#"{"a": 1, "b": 2}"#);
        assert_eq!(ok("{{ dict([['a', 1]]) | to_json }}"), r#"{"a": 1}"#);
        err("{{ dict([1, 2]) }}", "each item must be a [key, value] pair");
        err("{{ dict(3) }}", "dict expects a dictionary or a list of pairs, got an integer");
    }
}
