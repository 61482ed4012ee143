//! `prov inventory --graph` and `--list`, in ansible-inventory's formats.

use prov_core::inventory::Inventory;
use serde_json::{json, Map, Value as Json};

/// The group tree, like `ansible-inventory --graph`.
pub fn graph(inv: &Inventory) -> String {
    let mut out = String::from("@all:\n");
    let mut stack = vec!["all".to_string()];
    for child in top_children(inv) {
        walk(inv, &child, 1, &mut out, &mut stack);
    }
    out
}

/// Groups shown under `all`: its explicit children, then every group nobody else holds.
fn top_children(inv: &Inventory) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let is_child = |g: &str| inv.groups().any(|p| p.name != "all" && p.children.contains(g));
    for g in inv.groups() {
        if g.name == "all" {
            continue;
        }
        if !is_child(&g.name) {
            out.push(g.name.clone());
        }
    }
    out.sort_by_key(|g| (g != "ungrouped", g.clone()));
    out
}

fn walk(inv: &Inventory, group: &str, depth: usize, out: &mut String, stack: &mut Vec<String>) {
    let indent = "  |".repeat(depth);
    out.push_str(&format!("{indent}--@{group}:\n"));
    if stack.iter().any(|s| s == group) {
        return;
    }
    stack.push(group.to_string());
    let Some(g) = inv.group(group) else {
        stack.pop();
        return;
    };
    let mut children: Vec<&String> = g.children.iter().collect();
    children.sort();
    for c in children {
        walk(inv, c, depth + 1, out, stack);
    }
    let hosts = if group == "ungrouped" { inv.group_hosts("ungrouped") } else { g.hosts.iter().cloned().collect() };
    let mut hosts = hosts;
    hosts.sort();
    let inner = "  |".repeat(depth + 1);
    for h in hosts {
        out.push_str(&format!("{inner}--{h}\n"));
    }
    stack.pop();
}

/// Everything as JSON, like `ansible-inventory --list`: `_meta.hostvars` plus one entry per group.
pub fn list_json(inv: &Inventory) -> Json {
    let mut root = Map::new();
    let mut hostvars = Map::new();
    for h in inv.hosts() {
        let vars: Map<String, Json> = inv
            .host_vars(&h.name)
            .into_iter()
            .map(|(k, v)| (k, serde_json::to_value(&v).unwrap_or(Json::Null)))
            .collect();
        hostvars.insert(h.name.clone(), Json::Object(vars));
    }
    root.insert("_meta".into(), json!({ "hostvars": hostvars }));
    for g in inv.groups() {
        let mut entry = Map::new();
        let children: Vec<String> =
            if g.name == "all" { top_children(inv) } else { g.children.iter().cloned().collect() };
        if !children.is_empty() {
            entry.insert("children".into(), json!(children));
        }
        let hosts: Vec<String> = match g.name.as_str() {
            "all" => Vec::new(),
            "ungrouped" => inv.group_hosts("ungrouped"),
            _ => g.hosts.iter().cloned().collect(),
        };
        if !hosts.is_empty() {
            entry.insert("hosts".into(), json!(hosts));
        }
        if !g.vars.is_empty() {
            let vars: Map<String, Json> =
                g.vars.iter().map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or(Json::Null))).collect();
            entry.insert("vars".into(), Json::Object(vars));
        }
        if g.name == "ungrouped" && entry.is_empty() {
            // Listed under `all` even when empty, as ansible-inventory lists it; no entry.
            continue;
        }
        root.insert(g.name.clone(), Json::Object(entry));
    }
    Json::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_and_list() {
        let mut inv = Inventory::new();
        inv.add_host("lone");
        inv.add_to_group("web", "w1");
        inv.add_to_group("db", "d1");
        inv.add_child("prod", "web");
        inv.add_child("prod", "db");
        inv.set_group_var("prod", "env", minijinja::Value::from("prod"));
        assert_eq!(
            graph(&inv),
            "@all:\n  |--@ungrouped:\n  |  |--lone\n  |--@prod:\n  |  |--@db:\n  |  |  |--d1\n  |  |--@web:\n  |  |  |--w1\n"
        );
        let j = list_json(&inv);
        assert_eq!(j["all"]["children"], json!(["ungrouped", "prod"]));
        assert_eq!(j["prod"]["children"], json!(["web", "db"]));
        assert_eq!(j["_meta"]["hostvars"]["w1"]["env"], json!("prod"));
        assert_eq!(j["ungrouped"]["hosts"], json!(["lone"]));
    }
}
