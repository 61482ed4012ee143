//! The inventory model: hosts, groups with children, variables per host and group, and
//! Ansible's host patterns (`web:&prod:!web3`, `web[0:2]`, `~regex`, `db*`).
//!
//! Loading inventory files and cloud listings lives in `prov-inventory`; this module only
//! holds the result, so the compiler can bind plays to hosts without any I/O.

use crate::vars::VarMap;
use indexmap::{IndexMap, IndexSet};

/// One host.
#[derive(Debug, Clone, Default)]
pub struct Host {
    /// The inventory hostname.
    pub name: String,
    /// Variables set on the host itself (host vars, `host_vars/`).
    pub vars: VarMap,
    /// The inventory source that listed the host first (`inventory_file`): a file's path, or
    /// the `-i 'a,b,'` text.
    pub source: Option<String>,
}

/// One group.
#[derive(Debug, Clone, Default)]
pub struct Group {
    /// The group name.
    pub name: String,
    /// Hosts listed directly in the group, in file order.
    pub hosts: IndexSet<String>,
    /// Child groups.
    pub children: IndexSet<String>,
    /// Group variables (incl. `group_vars/`).
    pub vars: VarMap,
}

/// A change to the inventory a run holds in memory, made by `add_host` or `group_by`: the
/// plays after the task see it.
#[derive(Debug, Clone, PartialEq)]
pub enum InventoryEdit {
    /// Adds a host, or updates one: the groups it joins and its variables.
    AddHost {
        /// Inventory hostname.
        name: String,
        /// Groups it joins (created when missing).
        groups: Vec<String>,
        /// Variables set on the host (over the ones it has).
        vars: Vec<(String, minijinja::Value)>,
    },
    /// Puts a host into a group (created when missing), that group under parent groups.
    GroupBy {
        /// The host.
        host: String,
        /// The group.
        group: String,
        /// Its parent groups.
        parents: Vec<String>,
    },
}

/// The `group_vars/` and `host_vars/` directories a variable can come from. Ansible ranks
/// them above the inventory sources' own variables and the playbook's above the inventory's
/// (its `VARIABLE_PRECEDENCE`; see [`Inventory::host_vars`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarsDir {
    /// Beside an inventory source.
    Inventory = 0,
    /// Beside the playbook.
    Playbook = 1,
}

/// Variables of one group or host from the two kinds of [`VarsDir`], indexed by it.
type DirVars = [VarMap; 2];

/// (name, variable) for every variable of the `group_vars/` or `host_vars/` files in `dirs`.
fn dir_var_names(dirs: &IndexMap<String, DirVars>) -> impl Iterator<Item = (&str, &str)> {
    dirs.iter().flat_map(|(n, d)| d.iter().flat_map(move |m| m.keys().map(move |k| (n.as_str(), k.as_str()))))
}

/// Hosts and groups. `all` and `ungrouped` always exist.
#[derive(Debug, Clone)]
pub struct Inventory {
    hosts: IndexMap<String, Host>,
    groups: IndexMap<String, Group>,
    /// Variables of `group_vars/<name>`, by group name: also for a group the inventory does
    /// not have, which gets them when `group_by` or `add_host` makes it (as in Ansible, where
    /// such a file makes no group).
    group_dirs: IndexMap<String, DirVars>,
    /// Variables of `host_vars/<name>`, likewise (a host `add_host` adds gets them).
    host_dirs: IndexMap<String, DirVars>,
}

impl Default for Inventory {
    fn default() -> Self {
        Self::new()
    }
}

impl Inventory {
    /// An inventory with only the groups `all` and `ungrouped`.
    pub fn new() -> Inventory {
        let mut inv = Inventory {
            hosts: IndexMap::new(),
            groups: IndexMap::new(),
            group_dirs: IndexMap::new(),
            host_dirs: IndexMap::new(),
        };
        inv.add_child("all", "ungrouped");
        inv
    }

    /// Adds a host (no-op if present) and returns it.
    pub fn add_host(&mut self, name: &str) -> &mut Host {
        self.hosts.entry(name.to_string()).or_insert_with(|| Host { name: name.to_string(), ..Default::default() })
    }

    /// Adds a group (no-op if present) and returns it.
    pub fn add_group(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_string()).or_insert_with(|| Group { name: name.to_string(), ..Group::default() })
    }

    /// Puts `host` (created if missing) into `group` (created if missing).
    pub fn add_to_group(&mut self, group: &str, host: &str) {
        self.add_host(host);
        self.add_group(group).hosts.insert(host.to_string());
    }

    /// Makes `child` a child group of `parent` (both created if missing).
    pub fn add_child(&mut self, parent: &str, child: &str) {
        self.add_group(child);
        self.add_group(parent).children.insert(child.to_string());
    }

    /// Makes an `add_host` or `group_by` edit, and says whether it changed the inventory, as
    /// ansible-core's inventory manager decides it: a new host, a new or different variable, a
    /// new group or group membership; for `group_by` a new parent group or parent link, or the
    /// host new in the group (creating the group itself does not count).
    pub fn apply(&mut self, edit: &InventoryEdit) -> bool {
        let mut changed = false;
        match edit {
            InventoryEdit::AddHost { name, groups, vars } => {
                if !self.hosts.contains_key(name) {
                    // ansible-core makes a new host in `all` itself: first among its hosts.
                    self.add_to_group("all", name);
                    changed = true;
                }
                let host = self.add_host(name);
                for (k, v) in vars {
                    if host.vars.get(k) != Some(v) {
                        host.vars.insert(k.clone(), v.clone());
                        changed = true;
                    }
                }
                for g in groups {
                    changed |= !self.groups.contains_key(g);
                    changed |= self.add_group(g).hosts.insert(name.clone());
                }
            }
            InventoryEdit::GroupBy { host, group, parents } => {
                let existed = self.groups.contains_key(group);
                // A group no other group holds is under `all` already (ansible-core's
                // reconciled inventory lists it there).
                let top_level = existed && !self.groups.values().any(|g| g.name != "all" && g.children.contains(group));
                self.add_group(group);
                for p in parents {
                    changed |= !self.groups.contains_key(p);
                    let linked = self.add_group(p).children.insert(group.clone());
                    changed |= linked && !(p == "all" && top_level);
                }
                self.add_host(host);
                changed |= self.add_group(group).hosts.insert(host.clone());
            }
        }
        if changed {
            self.reconcile();
        }
        changed
    }

    /// Sets one host variable.
    pub fn set_host_var(&mut self, host: &str, key: &str, value: minijinja::Value) {
        self.add_host(host).vars.insert(key.to_string(), value);
    }

    /// Sets one group variable.
    pub fn set_group_var(&mut self, group: &str, key: &str, value: minijinja::Value) {
        self.add_group(group).vars.insert(key.to_string(), value);
    }

    /// Sets one variable of `group_vars/<group>` from `dir`.
    pub fn set_group_dir_var(&mut self, dir: VarsDir, group: &str, key: &str, value: minijinja::Value) {
        self.group_dirs.entry(group.to_string()).or_default()[dir as usize].insert(key.to_string(), value);
    }

    /// Sets one variable of `host_vars/<host>` from `dir`.
    pub fn set_host_dir_var(&mut self, dir: VarsDir, host: &str, key: &str, value: minijinja::Value) {
        self.host_dirs.entry(host.to_string()).or_default()[dir as usize].insert(key.to_string(), value);
    }

    /// Every group variable, as (group, name): the inventory sources' and the `group_vars/`
    /// directories' (these also for groups the inventory does not have yet).
    pub fn group_var_names(&self) -> impl Iterator<Item = (&str, &str)> {
        let own = self.groups.values().flat_map(|g| g.vars.keys().map(move |k| (g.name.as_str(), k.as_str())));
        own.chain(dir_var_names(&self.group_dirs))
    }

    /// Every host variable, as (host, name), likewise (`host_vars/` files of hosts the
    /// inventory does not have yet included).
    pub fn host_var_names(&self) -> impl Iterator<Item = (&str, &str)> {
        let own = self.hosts.values().flat_map(|h| h.vars.keys().map(move |k| (h.name.as_str(), k.as_str())));
        own.chain(dir_var_names(&self.host_dirs))
    }

    /// All hosts, in the order they were first seen.
    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.values()
    }

    /// One host.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.get(name)
    }

    /// All groups, `all` and `ungrouped` first.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// One group.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.get(name)
    }

    /// The hosts of a group and of all its descendants in ansible-core's order: the group's
    /// own hosts in the order they joined it, then those of its child groups in order, then
    /// of their children, level by level (ansible-core orders the groups of one level below
    /// the first by a hash that changes from run to run; here they keep the order of the
    /// levels above). `all` holds first the hosts made in it (`add_host`, a YAML
    /// inventory's `all: hosts:`), then those of `ungrouped` (every host in no group but
    /// `all`) and of the other groups; `ungrouped` lists its hosts in the order they were
    /// first seen.
    pub fn group_hosts(&self, name: &str) -> Vec<String> {
        let mut out: IndexSet<&str> = IndexSet::new();
        for g in self.walk(name) {
            if g == "ungrouped" {
                out.extend(self.hosts.keys().map(String::as_str).filter(|h| self.group_names(h).is_empty()));
            } else if let Some(grp) = self.groups.get(g) {
                out.extend(grp.hosts.iter().map(String::as_str));
            }
        }
        out.into_iter().map(str::to_string).collect()
    }

    /// `group` and its descendants, breadth first, each once.
    fn walk<'a>(&'a self, group: &'a str) -> Vec<&'a str> {
        let mut seen: IndexSet<&str> = IndexSet::from([group]);
        let mut level = vec![group];
        while !level.is_empty() {
            let mut next = Vec::new();
            for g in level {
                for c in self.children_of(g) {
                    if seen.insert(c) {
                        next.push(c);
                    }
                }
            }
            level = next;
        }
        seen.into_iter().collect()
    }

    /// A group's children in order. For `all`: the groups it was given (`ungrouped` first,
    /// then, as ansible-core's reconciliation adds them after each change, every group that
    /// had no parent then, in the order the groups were made), then any group without a
    /// parent that came after the last reconciliation.
    fn children_of<'a>(&'a self, group: &'a str) -> Vec<&'a str> {
        let Some(g) = self.groups.get(group) else { return Vec::new() };
        let mut out: Vec<&str> = g.children.iter().map(String::as_str).collect();
        if group == "all" {
            out.extend(self.orphans().filter(|o| !g.children.contains(*o)));
        }
        out
    }

    /// Groups no group (but `all`) holds, in the order they were made, `all` itself aside.
    fn orphans(&self) -> impl Iterator<Item = &str> {
        let held = |name: &str| self.groups.values().any(|p| p.name != "all" && p.children.contains(name));
        self.groups.keys().map(String::as_str).filter(move |n| *n != "all" && !held(n))
    }

    /// Makes every group without a parent a child of `all`, as ansible-core's
    /// `reconcile_inventory` does after the inventory is read and after each change to it: a
    /// group stays where that put it when it gets a parent later, which decides the order of
    /// `all`'s hosts.
    pub fn reconcile(&mut self) {
        let add: Vec<String> = self
            .orphans()
            .filter(|o| !self.groups.get("all").is_some_and(|a| a.children.contains(*o)))
            .map(str::to_string)
            .collect();
        for o in add {
            self.add_child("all", &o);
        }
    }

    /// `group_names` as ansible-core gives it: [`Self::group_names`], or `['ungrouped']` for an
    /// inventory host in no other group (ansible-core leaves out `all` only; the implicit
    /// localhost is in no group).
    pub fn group_names_var(&self, host: &str) -> Vec<String> {
        let names = self.group_names(host);
        if names.is_empty() && self.hosts.contains_key(host) {
            return vec!["ungrouped".to_string()];
        }
        names
    }

    /// The groups a host belongs to (directly or through a child group), sorted, without
    /// `all` and `ungrouped` (the order of its group variables; see [`Self::group_names_var`]
    /// for the magic variable).
    pub fn group_names(&self, host: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .groups
            .values()
            .filter(|g| g.name != "all" && g.name != "ungrouped")
            .filter(|g| self.group_hosts_contains(&g.name, host))
            .map(|g| g.name.clone())
            .collect();
        names.sort();
        names
    }

    /// Whether `host` is in `group` or one of its descendants (no member list is built:
    /// this runs for every host and group, so it must not cost the size of the group).
    fn group_hosts_contains(&self, group: &str, host: &str) -> bool {
        let mut stack = vec![group];
        let mut seen: IndexSet<&str> = IndexSet::new();
        while let Some(g) = stack.pop() {
            if !seen.insert(g) {
                continue;
            }
            if let Some(grp) = self.groups.get(g) {
                if grp.hosts.contains(host) {
                    return true;
                }
                stack.extend(grp.children.iter().map(String::as_str));
            }
        }
        false
    }

    /// Depth of a group below `all` (longest path), used to order group variables.
    fn depth(&self, group: &str) -> usize {
        fn walk(inv: &Inventory, g: &str, stack: &mut Vec<String>) -> usize {
            if stack.iter().any(|s| s == g) {
                return 0;
            }
            stack.push(g.to_string());
            let parents: Vec<&Group> = inv.groups.values().filter(|p| p.children.contains(g)).collect();
            let d = parents.iter().map(|p| walk(inv, &p.name, stack) + 1).max().unwrap_or(usize::from(g != "all"));
            stack.pop();
            d
        }
        walk(self, group, &mut Vec::new())
    }

    /// A host's inventory variables merged in Ansible's order (ansible-core's default
    /// `VARIABLE_PRECEDENCE`), each later layer over the ones before:
    ///
    /// 1. the inventory sources' variables of `all`, then of the host's other groups from the
    ///    shallowest to the deepest (same depth: alphabetical);
    /// 2. `group_vars/all` beside the inventory, then beside the playbook;
    /// 3. `group_vars/<group>` of those groups in the same order, beside the inventory, then
    ///    all of them again beside the playbook;
    /// 4. the host's own variables from the sources, then `host_vars/<host>` beside the
    ///    inventory, then beside the playbook.
    ///
    /// So `group_vars/all` beats an INI file's `[web:vars]`, and a playbook's
    /// `group_vars/servers` beats an inventory's `group_vars/web` even where `web` is a child
    /// of `servers`.
    pub fn host_vars(&self, host: &str) -> VarMap {
        let names = self.group_names(host);
        let mut groups: Vec<(usize, &str)> = names.iter().map(|g| (self.depth(g), g.as_str())).collect();
        groups.sort();
        let groups: Vec<&str> = groups.into_iter().map(|(_, g)| g).collect();
        let mut out = VarMap::new();
        let mut put = |m: &VarMap| out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
        for g in std::iter::once("all").chain(groups.iter().copied()) {
            if let Some(g) = self.groups.get(g) {
                put(&g.vars);
            }
        }
        let dirs = |g: &str, d: VarsDir| self.group_dirs.get(g).map(|v| &v[d as usize]);
        for d in [VarsDir::Inventory, VarsDir::Playbook] {
            dirs("all", d).map(&mut put);
        }
        for d in [VarsDir::Inventory, VarsDir::Playbook] {
            for g in &groups {
                dirs(g, d).map(&mut put);
            }
        }
        match self.hosts.get(host) {
            Some(h) => put(&h.vars),
            None if is_implicit_localhost(host) => {
                put(&VarMap::from_iter([("ansible_connection".to_string(), minijinja::Value::from("local"))]))
            }
            None => {}
        }
        if let Some(d) = self.host_dirs.get(host) {
            d.iter().for_each(&mut put);
        }
        out
    }

    /// Marks every host as listed by `source` (see [`Host::source`]).
    pub fn set_source(&mut self, source: &str) {
        for h in self.hosts.values_mut() {
            h.source = Some(source.to_string());
        }
    }

    /// `inventory_file` and `inventory_dir` of a host as Ansible sets them: the source that
    /// listed it first, and that file's directory (none for a `-i 'a,b,'` list). Empty for a
    /// host no source lists (the implicit localhost, hosts listed by a provider).
    pub fn source_vars(&self, host: &str) -> VarMap {
        let mut out = VarMap::new();
        if let Some(src) = self.hosts.get(host).and_then(|h| h.source.as_ref()) {
            let dir = std::path::Path::new(src).parent().filter(|_| std::path::Path::new(src).is_file());
            out.insert("inventory_file".into(), minijinja::Value::from(src.as_str()));
            out.insert(
                "inventory_dir".into(),
                dir.map_or(minijinja::Value::from(()), |d| minijinja::Value::from(d.display().to_string())),
            );
        }
        out
    }

    /// `groups` as the magic variable shows it: every group with its hosts, `all` and
    /// `ungrouped` first, then the others in the order the inventory made them (ansible-core's).
    pub fn groups_map(&self) -> IndexMap<String, Vec<String>> {
        let first = ["all", "ungrouped"];
        let names = first
            .iter()
            .filter(|g| self.groups.contains_key(**g))
            .map(|g| g.to_string())
            .chain(self.groups.keys().filter(|g| !first.contains(&g.as_str())).cloned());
        names
            .map(|g| {
                let hosts = self.group_hosts(&g);
                (g, hosts)
            })
            .collect()
    }

    /// Adds everything of `other`: hosts, groups, memberships; variables of `other` win.
    pub fn merge(&mut self, other: Inventory) {
        for (name, h) in other.hosts {
            let mine = self.add_host(&name);
            mine.vars.extend(h.vars);
            // The first source that lists a host stays its `inventory_file`, as in Ansible.
            if mine.source.is_none() {
                mine.source = h.source;
            }
        }
        for (name, g) in other.groups {
            let mine = self.add_group(&name);
            mine.hosts.extend(g.hosts);
            mine.children.extend(g.children);
            mine.vars.extend(g.vars);
        }
        for (mine, theirs) in [(&mut self.group_dirs, other.group_dirs), (&mut self.host_dirs, other.host_dirs)] {
            for (name, d) in theirs {
                let m = mine.entry(name).or_default();
                for (m, d) in m.iter_mut().zip(d) {
                    m.extend(d);
                }
            }
        }
    }

    /// The hosts a pattern selects, in ansible-core's order: the terms that add hosts first,
    /// in order (each one's hosts in [`Self::group_hosts`] order, after those already
    /// selected), then the intersections, then the exclusions; a pattern of intersections and
    /// exclusions only starts from `all`. `localhost` (or `127.0.0.1`) named explicitly
    /// selects the controller even when the inventory does not list it, as in Ansible (the
    /// implicit localhost is in no group, not even `all`).
    pub fn select(&self, pattern: &HostPattern) -> Vec<String> {
        let mut set: IndexSet<String> = IndexSet::new();
        let of = |op: Op| pattern.terms.iter().filter(move |t| t.op == op);
        if of(Op::Union).next().is_none() {
            set.extend(self.group_hosts("all"));
        }
        for term in of(Op::Union) {
            // A host's own name is the host, even where a group has that name too.
            match &term.atom {
                Atom::Name { name, slice: None } if self.hosts.contains_key(name) => {
                    set.insert(name.clone());
                }
                atom => set.extend(self.match_term(atom)),
            }
        }
        for term in of(Op::Intersect) {
            let m: IndexSet<String> = self.match_term(&term.atom).into_iter().collect();
            set.retain(|h| m.contains(h));
        }
        for term in of(Op::Exclude) {
            let m: IndexSet<String> = self.match_term(&term.atom).into_iter().collect();
            set.retain(|h| !m.contains(h));
        }
        set.into_iter().collect()
    }

    fn match_term(&self, atom: &Atom) -> Vec<String> {
        match atom {
            Atom::Name { name, slice } => {
                let base = if self.groups.contains_key(name) {
                    self.group_hosts(name)
                } else if self.hosts.contains_key(name) || is_implicit_localhost(name) {
                    vec![name.clone()]
                } else {
                    Vec::new()
                };
                match slice {
                    None => base,
                    Some(s) => s.apply(&base),
                }
            }
            Atom::Glob(g) => {
                let mut out: IndexSet<String> = IndexSet::new();
                for grp in self.groups.keys().filter(|n| glob_match(g, n)) {
                    out.extend(self.group_hosts(grp));
                }
                out.extend(self.hosts.keys().filter(|n| glob_match(g, n)).cloned());
                out.into_iter().collect()
            }
            Atom::Regex(re) => {
                let mut out: IndexSet<String> = IndexSet::new();
                for grp in self.groups.keys().filter(|n| re.is_match(n)) {
                    out.extend(self.group_hosts(grp));
                }
                out.extend(self.hosts.keys().filter(|n| re.is_match(n)).cloned());
                out.into_iter().collect()
            }
        }
    }
}

/// How a pattern term combines with what came before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Intersect,
    Exclude,
}

#[derive(Debug, Clone)]
enum Atom {
    Name { name: String, slice: Option<Slice> },
    Glob(String),
    Regex(regex::Regex),
}

/// `[i]` or `[a:b]` after a group name (both ends inclusive, like Ansible).
#[derive(Debug, Clone, Copy)]
struct Slice {
    start: Option<i64>,
    end: Option<i64>,
    single: bool,
}

impl Slice {
    fn apply(&self, hosts: &[String]) -> Vec<String> {
        let n = hosts.len() as i64;
        let norm = |i: i64| if i < 0 { n + i } else { i };
        if self.single {
            let i = norm(self.start.unwrap_or(0));
            return if (0..n).contains(&i) { vec![hosts[i as usize].clone()] } else { Vec::new() };
        }
        let a = norm(self.start.unwrap_or(0)).max(0);
        let b = norm(self.end.unwrap_or(n - 1)).min(n - 1);
        if a > b {
            return Vec::new();
        }
        hosts[a as usize..=b as usize].to_vec()
    }
}

#[derive(Debug, Clone)]
struct Term {
    op: Op,
    atom: Atom,
}

/// A parsed host pattern, e.g. `webservers:&staging:!web3`.
#[derive(Debug, Clone)]
pub struct HostPattern {
    text: String,
    terms: Vec<Term>,
}

impl HostPattern {
    /// Parses a pattern. Terms are separated by `:` or `,`; `&` intersects, `!` excludes;
    /// `~` starts a regular expression; `*` and `?` glob; `name[0]`, `name[1:3]` slice.
    pub fn parse(text: &str) -> Result<HostPattern, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("empty host pattern".into());
        }
        let mut terms = Vec::new();
        for raw in split_terms(t) {
            let raw = raw.trim();
            if raw.is_empty() {
                return Err(format!("empty term in host pattern '{text}'"));
            }
            let (op, rest) = if let Some(r) = raw.strip_prefix('&') {
                (Op::Intersect, r)
            } else if let Some(r) = raw.strip_prefix('!') {
                (Op::Exclude, r)
            } else {
                (Op::Union, raw)
            };
            if rest.is_empty() {
                return Err(format!("'{raw}' in host pattern '{text}' names nothing"));
            }
            let atom = if let Some(re) = rest.strip_prefix('~') {
                let re = regex::Regex::new(&format!("^(?:{re})"))
                    .map_err(|e| format!("bad regex in host pattern '{text}': {e}"))?;
                Atom::Regex(re)
            } else if let Some(open) = rest.find('[') {
                let name = &rest[..open];
                let Some(inner) = rest[open + 1..].strip_suffix(']') else {
                    return Err(format!("unclosed '[' in host pattern '{text}'"));
                };
                Atom::Name { name: name.to_string(), slice: Some(parse_slice(inner, text)?) }
            } else if rest.contains(['*', '?']) {
                Atom::Glob(rest.to_string())
            } else {
                if let Some(c) = rest.chars().find(|c| " \t\"'{}()".contains(*c)) {
                    return Err(format!("character {c:?} is not allowed in host pattern '{text}'"));
                }
                Atom::Name { name: rest.to_string(), slice: None }
            };
            terms.push(Term { op, atom });
        }
        Ok(HostPattern { text: t.to_string(), terms })
    }

    /// The pattern as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Plain names (groups or hosts) the pattern refers to, for "unknown group" hints.
    pub fn names(&self) -> Vec<&str> {
        self.terms
            .iter()
            .filter_map(|t| match &t.atom {
                Atom::Name { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// Splits on `:` and `,` outside of `[...]` and not inside a regex term.
fn split_terms(t: &str) -> Vec<&str> {
    if t.contains(',') {
        return t.split(',').collect();
    }
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in t.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => {
                // IPv6-ish or regex terms may contain ':' — treat a '~' term as one piece.
                if t[start..i].trim_start_matches(['&', '!']).starts_with('~') {
                    continue;
                }
                out.push(&t[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&t[start..]);
    out
}

fn parse_slice(inner: &str, text: &str) -> Result<Slice, String> {
    let num = |s: &str| -> Result<Option<i64>, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        s.parse().map(Some).map_err(|_| format!("'{s}' is not an index in host pattern '{text}'"))
    };
    match inner.split_once(':') {
        Some((a, b)) => Ok(Slice { start: num(a)?, end: num(b)?, single: false }),
        None => Ok(Slice {
            start: Some(num(inner)?.ok_or(format!("empty index in host pattern '{text}'"))?),
            end: None,
            single: true,
        }),
    }
}

/// Whether `name` is Ansible's implicit localhost (used when the inventory does not list it).
pub fn is_implicit_localhost(name: &str) -> bool {
    name == "localhost" || name == "127.0.0.1"
}

/// Shell-style glob with `*` and `?`.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv() -> Inventory {
        let mut inv = Inventory::new();
        for h in ["web1", "web2", "web3"] {
            inv.add_to_group("web", h);
        }
        inv.add_to_group("db", "db1");
        inv.add_to_group("prod", "web1");
        inv.add_to_group("prod", "db1");
        inv.add_child("backend", "db");
        inv.add_host("lonely");
        inv.set_group_var("all", "x", 1.into());
        inv.set_group_var("backend", "x", 2.into());
        inv.set_group_var("db", "x", 3.into());
        inv.set_group_var("db", "y", 3.into());
        inv.set_host_var("db1", "y", 4.into());
        inv
    }

    fn sel(p: &str) -> Vec<String> {
        inv().select(&HostPattern::parse(p).unwrap())
    }

    #[test]
    fn patterns() {
        // `ungrouped` is the first child of `all`.
        assert_eq!(sel("all"), ["lonely", "web1", "web2", "web3", "db1"]);
        assert_eq!(sel("web:&prod"), ["web1"]);
        assert_eq!(sel("web:!web2"), ["web1", "web3"]);
        assert_eq!(sel("!web"), ["lonely", "db1"]);
        assert_eq!(sel("web[0]"), ["web1"]);
        assert_eq!(sel("web[-1]"), ["web3"]);
        assert_eq!(sel("web[1:]"), ["web2", "web3"]);
        assert_eq!(sel("web*"), ["web1", "web2", "web3"]);
        assert_eq!(sel("~db\\d"), ["db1"]);
        assert_eq!(sel("backend"), ["db1"]);
        assert_eq!(sel("ungrouped"), ["lonely"]);
        assert_eq!(sel("db1,web2"), ["db1", "web2"], "in the pattern's order");
        assert!(sel("nosuch").is_empty());
        assert_eq!(sel("localhost"), ["localhost"], "the implicit localhost");
        assert!(!sel("all").contains(&"localhost".to_string()));
        assert_eq!(inv().host_vars("localhost")["ansible_connection"], "local".into());
        assert_eq!(inv().group_names_var("lonely"), ["ungrouped"]);
        assert_eq!(inv().group_names_var("db1"), ["backend", "db", "prod"]);
        assert!(inv().group_names_var("localhost").is_empty(), "the implicit localhost is in no group");
    }

    #[test]
    fn bad_patterns() {
        assert!(HostPattern::parse("").is_err());
        assert!(HostPattern::parse("web[1").is_err());
        assert!(HostPattern::parse("web:&").is_err());
        assert!(HostPattern::parse("~(").is_err());
        assert!(HostPattern::parse("web[x]").is_err());
    }

    #[test]
    fn variable_order() {
        let i = inv();
        let v = i.host_vars("db1");
        assert_eq!(v["x"], 3.into());
        assert_eq!(v["y"], 4.into());
        assert_eq!(i.host_vars("web1")["x"], 1.into());
        assert_eq!(i.group_names("db1"), ["backend", "db", "prod"]);
    }
}
