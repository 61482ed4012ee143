//! The facts layer of a host's variables (the facts themselves come from the `setup` module,
//! which `gather_facts` runs), and whether a play reads facts at all.

use minijinja::Value;
use prov_core::vars::VarMap;

/// `facts` with `new` merged in (a later gathering or a module's `ansible_facts` updates the
/// host's facts key by key, as in Ansible).
pub fn merge(facts: Option<&VarMap>, new: &[(String, Value)]) -> VarMap {
    let mut out = facts.cloned().unwrap_or_default();
    for (k, v) in new {
        out.insert(k.clone(), v.clone());
    }
    out
}

/// The facts of a [`layer`] (its `ansible_facts` mapping).
pub fn unlayer(layered: &VarMap) -> VarMap {
    let mut out = VarMap::new();
    if let Some(m) = layered.get("ansible_facts") {
        if let Ok(keys) = m.try_iter() {
            for k in keys {
                if let (Some(name), Ok(v)) = (k.as_str(), m.get_item(&k)) {
                    // A `cacheable` fact set without the prefix is a variable under its name.
                    let marked = !known_plain(name)
                        && !layered.contains_key(&format!("ansible_{name}"))
                        && layered.contains_key(name);
                    let key = if marked { prov_core::module::plain_fact(name) } else { name.to_string() };
                    out.insert(key, v);
                }
            }
        }
    }
    out
}

/// A fact a module returns without the `ansible_` prefix, a variable under its own name as in
/// Ansible: `setup`'s own two results, `getent`'s `getent_DATABASE`, `package_facts`'
/// `packages` and `service_facts`' `services`.
fn known_plain(name: &str) -> bool {
    ["gather_subset", "module_setup", "packages", "services"].contains(&name) || name.starts_with("getent_")
}

/// The facts layer: `ansible_facts` plus every fact as `ansible_<name>` (or under its own
/// name: [`known_plain`], [`prov_core::module::plain_fact`]).
pub fn layer(facts: &VarMap) -> VarMap {
    let mut out = VarMap::new();
    let mut namespaced = Vec::with_capacity(facts.len());
    for (k, v) in facts {
        let (key, name) = match prov_core::module::plain_fact_name(k) {
            Some(plain) => (plain.to_string(), plain.to_string()),
            None if known_plain(k) => (k.clone(), k.clone()),
            None => (k.clone(), format!("ansible_{k}")),
        };
        namespaced.push((key, v.clone()));
        out.insert(name, v.clone());
    }
    out.insert("ansible_facts".into(), Value::from_pairs(namespaced));
    out
}

/// Facts and variables set on other hosts with `delegate_facts` and not yet taken in by them
/// (a host's worker takes its own before each task; what is left at the end of the play goes
/// into what the host carries to the next play). By nature shared between hosts.
#[derive(Debug, Default)]
pub struct Delegated(std::sync::Mutex<std::collections::HashMap<String, Pending>>);

/// What was set on one host by others.
#[derive(Debug, Default, Clone)]
pub struct Pending {
    /// Facts (names without `ansible_`).
    pub facts: Vec<(String, Value)>,
    /// Variables (`set_fact`).
    pub vars: Vec<(String, Value)>,
}

impl Delegated {
    /// Adds what a task set on `host`.
    pub fn add(&self, host: &str, facts: &[(String, Value)], vars: &[(String, Value)]) {
        if let Ok(mut m) = self.0.lock() {
            let e = m.entry(host.to_string()).or_default();
            e.facts.extend(facts.iter().cloned());
            e.vars.extend(vars.iter().cloned());
        }
    }

    /// Runs `f` with `host`'s pending entry (taken out when `take`), under the lock, so that a
    /// reader never sees an entry both pending and taken in.
    pub fn with<R>(&self, host: &str, take: bool, f: impl FnOnce(Option<Pending>) -> R) -> R {
        match self.0.lock() {
            Ok(mut m) => {
                let p = if take { m.remove(host) } else { m.get(host).cloned() };
                f(p)
            }
            Err(_) => f(None),
        }
    }

    /// Everything still pending.
    pub fn drain(&self) -> Vec<(String, Pending)> {
        self.0.lock().map(|mut m| m.drain().collect()).unwrap_or_default()
    }
}
