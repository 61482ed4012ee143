//! Variable scopes: a host's variables as layers in Ansible's precedence order, read lazily.
//!
//! Values that come from files (inventory, play, role, task vars, extra vars) are templated
//! when read, in the scope that reads them, like Ansible; values produced at run time
//! (registered results, facts, `set_fact`) are taken as they are.
//!
//! | precedence (low → high) | layer |
//! |---|---|
//! | 1 | role defaults (the play's roles', then the task's own role's) |
//! | 2 | inventory: `all` group vars, parent groups, child groups, host vars (incl. `group_vars/`, `host_vars/`) |
//! | 3 | facts (`ansible_facts`, `ansible_*`) |
//! | 4 | play `vars`, `vars_files`, the play's roles' `vars` |
//! | 5 | the task's role `vars`, block `vars`, task `vars` (inner wins) |
//! | 6 | `register` results and `set_fact` |
//! | 7 | loop variable (`item`, `ansible_loop`) |
//! | 8 | extra vars (`-e`) |
//!
//! Magic variables (`inventory_hostname`, `groups`, `hostvars`, `group_names`, ...) cannot be
//! overridden.

use crate::template::{has_template, Templar};
use indexmap::IndexMap;
use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::Value;
use std::sync::{Arc, Mutex};

/// A map of variables.
pub type VarMap = IndexMap<String, Value>;

/// Whether a layer's values are templated when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Templating {
    /// From a file: `{{ }}` inside is rendered on read.
    OnRead,
    /// Produced at run time: taken literally.
    Literal,
}

/// One precedence layer.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The variables.
    pub vars: Arc<VarMap>,
    /// Templated on read?
    pub templating: Templating,
}

impl Layer {
    /// A layer of file-defined variables.
    pub fn source(vars: Arc<VarMap>) -> Layer {
        Layer { vars, templating: Templating::OnRead }
    }

    /// A layer of run-time values.
    pub fn literal(vars: Arc<VarMap>) -> Layer {
        Layer { vars, templating: Templating::Literal }
    }
}

/// The variables one task sees on one host. Cheap to build: layers are shared.
#[derive(Debug)]
pub struct Scope {
    templar: Arc<Templar>,
    /// Magic variables, checked first.
    magic: Arc<VarMap>,
    /// Layers, lowest precedence first.
    layers: Vec<Layer>,
    /// Names being resolved right now (to report self-references instead of recursing forever).
    resolving: Mutex<Vec<String>>,
}

impl Scope {
    /// A scope from magic variables and layers (lowest precedence first).
    pub fn new(templar: Arc<Templar>, magic: Arc<VarMap>, layers: Vec<Layer>) -> Scope {
        Scope { templar, magic, layers, resolving: Mutex::new(Vec::new()) }
    }

    /// This scope as a template context.
    pub fn into_value(self) -> Value {
        Value::from_object(self)
    }

    /// Looks a variable up, templating it if it came from a file.
    pub fn lookup(self: &Arc<Self>, name: &str) -> Option<Result<Value, String>> {
        if let Some(v) = self.magic.get(name) {
            return Some(Ok(v.clone()));
        }
        let Some(layer) = self.layers.iter().rev().find(|l| l.vars.contains_key(name)) else {
            // Ansible's `vars`: every variable of the scope, by name (`vars['app_' + item]`).
            return (name == "vars").then(|| Ok(Value::from_dyn_object(self.clone())));
        };
        let raw = layer.vars.get(name)?.clone();
        if layer.templating == Templating::Literal || !has_template(&raw) {
            return Some(Ok(raw));
        }
        {
            let mut r = self.resolving.lock().ok()?;
            if r.iter().any(|n| n == name) {
                let chain = r.join(" → ");
                return Some(Err(format!("variable `{name}` refers to itself ({chain} → {name})")));
            }
            r.push(name.to_string());
        }
        let ctx = Value::from_dyn_object(self.clone());
        let out = self.templar.render_deep(&raw, &ctx).map_err(|e| format!("in variable `{name}`: {e}"));
        if let Ok(mut r) = self.resolving.lock() {
            r.retain(|n| n != name);
        }
        Some(out)
    }

    /// A variable's definition when it is a template rendered when read (`None` for a literal
    /// value or an unknown name): what an undefined message looks into.
    pub fn raw_template(&self, name: &str) -> Option<String> {
        if self.magic.contains_key(name) {
            return None;
        }
        let layer = self.layers.iter().rev().find(|l| l.vars.contains_key(name))?;
        let raw = layer.vars.get(name)?;
        (layer.templating != Templating::Literal && has_template(raw)).then(|| raw.as_str().map(str::to_string))?
    }

    /// Every variable name visible (magic first).
    pub fn names(&self) -> Vec<String> {
        let mut seen = indexmap::IndexSet::new();
        for k in self.magic.keys() {
            seen.insert(k.clone());
        }
        for l in self.layers.iter().rev() {
            for k in l.vars.keys() {
                seen.insert(k.clone());
            }
        }
        seen.into_iter().collect()
    }
}

impl Object for Scope {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        match self.lookup(name)? {
            Ok(v) => Some(v),
            // A failed nested template: surface it as an invalid value so the outer render errors.
            Err(e) => Some(Value::from(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e))),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.names().into_iter().map(Value::from).collect())
    }
}

/// Where `hostvars` reads other hosts' variables from while a run goes on.
pub trait HostVarsSource: Send + Sync + std::fmt::Debug {
    /// All host names, inventory order.
    fn hosts(&self) -> Vec<String>;
    /// The scope of `host` as `hostvars[host]` shows it (inventory vars, facts, registered values).
    fn host_scope(&self, host: &str) -> Option<Arc<Scope>>;
}

/// The `hostvars` magic variable.
#[derive(Debug)]
pub struct HostVars(pub Arc<dyn HostVarsSource>);

impl Object for HostVars {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let host = key.as_str()?;
        self.0.host_scope(host).map(Value::from_dyn_object)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.hosts().into_iter().map(Value::from).collect())
    }
}
