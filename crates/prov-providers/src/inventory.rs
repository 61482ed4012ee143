//! Dynamic inventory from instance labels: files with `plugin: docker` (later `gcp`, `aws`).
//!
//! ```yaml
//! plugin: docker
//! project: demo                 # instances labelled prov-project=demo
//! filters:                      # more labels every instance must have
//!   prov-group: workers
//! keyed_groups:                 # a group per value of an expression
//!   - key: labels['prov-group']
//!     prefix: ""
//!     separator: ""
//! groups:                       # a group where an expression is true
//!   running: prov_state == 'running'
//! compose:                      # host variables from expressions
//!   ansible_host: private_ip
//! hostnames: [name]             # name (default), id or private_ip
//! ```
//!
//! Checking the file needs no provider ([`parse`]); listing does ([`list`]). Every host gets
//! `ansible_host` (its private address), `ansible_user: root`, `private_ip`, `public_ip`,
//! `labels` and `prov_*` variables (`prov_name`, `prov_state`, `prov_group`, ...). The group
//! `all` gets `prov_provider`, `prov_project` (and `prov_network`, `prov_subnet`,
//! `prov_cloud_project`, `prov_zone`, `prov_region`, `prov_endpoint` when set: the first of
//! `projects`, `zones`, `regions`),
//! so a playbook can create VMs wherever the inventory points.

use crate::{Instance, Labels, ProviderError, LABEL_GROUP, LABEL_PROJECT};
use minijinja::Value;
use prov_core::diag::{did_you_mean, DiagKind, Diagnostic, Diagnostics};
use prov_core::inventory::Inventory;
use prov_core::source::Span;
use prov_core::template::{Templar, Tmpl};
use prov_core::yaml::{Node, NodeKind};
use prov_inventory::PluginSource;
use std::path::PathBuf;
use std::sync::Arc;

/// Plugins prov knows.
pub const PLUGINS: &[&str] = crate::PROVIDERS;

const KEYS: &[&str] = &[
    "plugin",
    "project",
    "network",
    "subnet",
    "filters",
    "keyed_groups",
    "groups",
    "compose",
    "hostnames",
    "strict",
    "projects",
    "zones",
    "regions",
    "endpoint",
    "image",
    "leading_separator",
];

/// The keys ansible-core's `constructed` options give every plugin file.
const CONSTRUCTED: &[&str] = &["keyed_groups", "groups", "compose", "strict", "leading_separator"];
const KEYED_KEYS: &[&str] =
    &["key", "prefix", "separator", "default_value", "leading_separator", "trailing_separator", "parent_group"];
const HOSTNAMES: &[&str] = &[
    "name",
    "id",
    "private_ip",
    "public_ip",
    // Ansible aws_ec2's names (`tag:KEY` is accepted too).
    "instance-id",
    "private-ip-address",
    "ip-address",
    "dns-name",
    "private-dns-name",
];

/// One `keyed_groups` entry.
#[derive(Debug, Clone)]
pub struct KeyedGroup {
    key: Tmpl,
    key_src: String,
    prefix: String,
    separator: String,
    default_value: Option<String>,
    /// prov also takes it per group; ansible-core only for the whole file.
    leading_separator: Option<bool>,
    trailing_separator: Option<bool>,
    parent_group: Option<Tmpl>,
}

/// A checked plugin file.
#[derive(Debug, Clone)]
pub struct PluginConfig {
    /// The file.
    pub path: PathBuf,
    /// `docker`, ...
    pub plugin: String,
    /// The project (`prov-project` label).
    pub project: String,
    /// The project network (docker).
    pub network: Option<String>,
    /// The project subnet (docker).
    pub subnet: Option<String>,
    /// Labels every instance must carry (besides the project).
    pub filters: Labels,
    /// Cloud projects (GCP project ids; the first is where new VMs go).
    pub projects: Vec<String>,
    /// Zones to list (GCP; the first is where new VMs go).
    pub zones: Vec<String>,
    /// Regions to list (AWS; the first is where new VMs go).
    pub regions: Vec<String>,
    /// API endpoint override (tests).
    pub endpoint: Option<String>,
    /// Image of new VMs (aws: an AMI id).
    pub image: Option<String>,
    keyed_groups: Vec<KeyedGroup>,
    groups: Vec<(String, Tmpl, String)>,
    compose: Vec<(String, Tmpl)>,
    hostnames: Vec<String>,
    strict: bool,
    leading_separator: bool,
    templar: Arc<Templar>,
    /// A `plugin: amazon.aws.aws_ec2` file: its options (the listing is the plugin's, not
    /// prov's; `plugin` is then `aws` and `project` empty).
    pub ec2: Option<crate::aws_ec2::Ec2Options>,
    /// A `plugin: google.cloud.gcp_compute` file: its options (the listing is the plugin's;
    /// `plugin` is then `gcp` and `project` empty).
    pub gcp_compute: Option<crate::gcp_compute::GcpComputeOptions>,
    /// Warnings about the file (keys prov ignores).
    pub warnings: Vec<Diagnostic>,
}

/// Checks a plugin file; every problem has a position and a hint.
pub fn parse(src: &PluginSource) -> Result<PluginConfig, Diagnostics> {
    let mut d = Diagnostics::default();
    let node = &src.config;
    let templar = Arc::new(Templar::new(vec![src.path.parent().map(PathBuf::from).unwrap_or_default()]));
    let mut cfg = PluginConfig {
        path: src.path.clone(),
        plugin: src.plugin.clone(),
        project: String::new(),
        network: None,
        subnet: None,
        filters: Labels::new(),
        projects: Vec::new(),
        zones: Vec::new(),
        regions: Vec::new(),
        endpoint: None,
        image: None,
        keyed_groups: Vec::new(),
        groups: Vec::new(),
        compose: Vec::new(),
        hostnames: vec!["name".into()],
        strict: false,
        leading_separator: true,
        templar: templar.clone(),
        ec2: None,
        gcp_compute: None,
        warnings: Vec::new(),
    };
    let Some(entries) = node.as_map() else {
        d.push(Diagnostic::error(DiagKind::Invalid, node.span, "an inventory plugin file is a mapping"));
        return Err(d);
    };
    let expr = |d: &mut Diagnostics, n: &Node, what: &str| -> Option<Tmpl> {
        let Some(s) = n.scalar_text().filter(|s| !s.is_empty()) else {
            d.push(Diagnostic::error(DiagKind::Invalid, n.span, format!("{what} must be an expression string")));
            return None;
        };
        match templar.compile_expr(&s) {
            Ok(t) => Some(t),
            Err(e) => {
                d.push(
                    Diagnostic::error(DiagKind::Template, n.span, format!("{what}: {e}"))
                        .with_help("an expression such as `private_ip` or `labels['prov-group']`"),
                );
                None
            }
        }
    };
    let ec2_mode = crate::aws_ec2::NAMES.contains(&src.plugin.as_str());
    let gce_mode = crate::gcp_compute::NAMES.contains(&src.plugin.as_str());
    let entries: Vec<&(Node, Node)> = if ec2_mode {
        let (o, rest) = crate::aws_ec2::parse_options(entries, &mut d, &mut cfg.warnings);
        cfg.ec2 = Some(o);
        rest
    } else if gce_mode {
        let (o, rest) = crate::gcp_compute::parse_options(entries, &mut d);
        cfg.gcp_compute = Some(o);
        rest
    } else {
        entries.iter().collect()
    };
    for (k, v) in entries.iter().map(|e| (&e.0, &e.1)) {
        let key = k.as_str().unwrap_or_default();
        if (ec2_mode || gce_mode) && !CONSTRUCTED.contains(&key) {
            let (plugin, keys) = if ec2_mode {
                ("amazon.aws.aws_ec2", crate::aws_ec2::KEYS)
            } else {
                ("google.cloud.gcp_compute", crate::gcp_compute::KEYS)
            };
            d.push(
                Diagnostic::error(
                    DiagKind::Unknown,
                    k.span,
                    format!("unknown key `{key}` in a {plugin} inventory file"),
                )
                .with_opt_help(did_you_mean(key, keys.iter().chain(CONSTRUCTED).copied())),
            );
            continue;
        }
        match key {
            "leading_separator" => match v.kind {
                NodeKind::Bool(b) => cfg.leading_separator = b,
                _ => d.push(Diagnostic::error(DiagKind::Invalid, v.span, "`leading_separator` is true or false")),
            },
            "plugin" => {
                if !PLUGINS.contains(&src.plugin.as_str()) {
                    d.push(
                        Diagnostic::error(
                            DiagKind::Unknown,
                            v.span,
                            format!("unknown inventory plugin `{}`", src.plugin),
                        )
                        .with_opt_help(
                            did_you_mean(&src.plugin, PLUGINS.iter().copied())
                                .or_else(|| Some(format!("known plugins: {}", PLUGINS.join(", ")))),
                        ),
                    );
                }
            }
            "project" => cfg.project = v.scalar_text().unwrap_or_default(),
            "network" => cfg.network = v.scalar_text(),
            "subnet" => cfg.subnet = v.scalar_text(),
            "endpoint" => cfg.endpoint = v.scalar_text(),
            "image" => cfg.image = v.scalar_text(),
            "projects" | "zones" | "regions" => {
                let list = names(v, key, &mut d);
                match key {
                    "projects" => cfg.projects = list,
                    "zones" => cfg.zones = list,
                    _ => cfg.regions = list,
                }
            }
            "strict" => cfg.strict = matches!(v.kind, NodeKind::Bool(true)),
            "filters" => match v.as_map() {
                // aws: EC2 filters as aws_ec2 has them (`tag:Name`, `instance-type`, a
                // list of values), passed as they are; several values joined by newlines.
                Some(m) if src.plugin == "aws" => {
                    for (fk, fv) in m {
                        let values: Vec<String> = match &fv.kind {
                            NodeKind::Seq(items) => items.iter().filter_map(Node::scalar_text).collect(),
                            _ => fv.scalar_text().into_iter().collect(),
                        };
                        cfg.filters.insert(fk.scalar_text().unwrap_or_default(), values.join("\n"));
                    }
                }
                Some(m) => {
                    for (fk, fv) in m {
                        cfg.filters.insert(
                            crate::label_key(&fk.scalar_text().unwrap_or_default()),
                            crate::label_value(&fv.scalar_text().unwrap_or_default()),
                        );
                    }
                }
                None => match &v.kind {
                    // gcp: a list of Compute Engine filter expressions, as gcp_compute has it
                    // (`status = RUNNING`, `labels.env = prod`), ANDed with the project's label.
                    NodeKind::Seq(items) if src.plugin == "gcp" => {
                        for (n, it) in items.iter().enumerate() {
                            match it.scalar_text().filter(|e| !e.trim().is_empty()) {
                                Some(e) => {
                                    cfg.filters.insert(format!("{}{n}", crate::FILTER_EXPRESSION), e);
                                }
                                None => d.push(
                                    Diagnostic::error(
                                        DiagKind::Invalid,
                                        it.span,
                                        "a `filters` item is a filter expression",
                                    )
                                    .with_help("for example `- status = RUNNING` or `- labels.env = prod`"),
                                ),
                            }
                        }
                    }
                    _ => d.push(
                        Diagnostic::error(DiagKind::Invalid, v.span, "`filters` is a mapping of label: value")
                            .with_help(match src.plugin.as_str() {
                                "gcp" => {
                                    "for example `filters: {prov-group: workers}`, or a list of Compute Engine \
                                     filter expressions: `filters: [\"status = RUNNING\"]`"
                                }
                                _ => "for example `filters: {prov-group: workers}`",
                            }),
                    ),
                },
            },
            "hostnames" => {
                let items: Vec<&Node> = match &v.kind {
                    NodeKind::Seq(s) => s.iter().collect(),
                    _ => vec![v],
                };
                cfg.hostnames.clear();
                for it in items {
                    let h = it.scalar_text().unwrap_or_default();
                    if HOSTNAMES.contains(&h.as_str()) || h.starts_with("tag:") {
                        cfg.hostnames.push(h);
                    } else {
                        d.push(
                            Diagnostic::error(DiagKind::Unknown, it.span, format!("unknown hostname source `{h}`"))
                                .with_opt_help(
                                    did_you_mean(&h, HOSTNAMES.iter().copied())
                                        .or_else(|| Some(format!("one of: {}", HOSTNAMES.join(", ")))),
                                ),
                        );
                    }
                }
            }
            "compose" | "groups" => match v.as_map() {
                Some(m) => {
                    for (ck, cv) in m {
                        let name = ck.scalar_text().unwrap_or_default();
                        if let Some(t) = expr(&mut d, cv, &format!("{key}.{name}")) {
                            if key == "compose" {
                                cfg.compose.push((name, t));
                            } else {
                                cfg.groups.push((name, t, cv.scalar_text().unwrap_or_default()));
                            }
                        }
                    }
                }
                None => d.push(Diagnostic::error(
                    DiagKind::Invalid,
                    v.span,
                    format!("`{key}` is a mapping of name: expression"),
                )),
            },
            "keyed_groups" => match v.as_seq() {
                Some(list) => {
                    for item in list {
                        if let Some(kg) = keyed_group(&mut d, item, &templar, &expr) {
                            cfg.keyed_groups.push(kg);
                        }
                    }
                }
                None => d.push(Diagnostic::error(DiagKind::Invalid, v.span, "`keyed_groups` is a list")),
            },
            other => d.push(
                Diagnostic::error(
                    DiagKind::Unknown,
                    k.span,
                    format!("unknown key `{other}` in an inventory plugin file"),
                )
                .with_opt_help(
                    did_you_mean(other, KEYS.iter().copied())
                        .or_else(|| Some(format!("valid keys: {}", KEYS.join(", ")))),
                ),
            ),
        }
    }
    if ec2_mode {
        let file = src.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        if !crate::aws_ec2::SUFFIXES.iter().any(|x| file.ends_with(x)) {
            d.push(
                Diagnostic::error(
                    DiagKind::Invalid,
                    node.get("plugin").map_or(node.span, |n| n.span),
                    format!("the name of an amazon.aws.aws_ec2 inventory file ends in aws_ec2.yml or aws_ec2.yaml; ansible-core reads no `{file}` with it"),
                )
                .with_help("rename it, for example to `prod.aws_ec2.yml`"),
            );
        }
        cfg.plugin = "aws".into();
    } else if gce_mode {
        let file = src.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        if !crate::gcp_compute::SUFFIXES.iter().any(|x| file.ends_with(x)) {
            d.push(
                Diagnostic::error(
                    DiagKind::Invalid,
                    node.get("plugin").map_or(node.span, |n| n.span),
                    format!("the name of a google.cloud.gcp_compute inventory file ends in gcp.yml, gcp.yaml, gcp_compute.yml or gcp_compute.yaml; ansible-core reads no `{file}` with it"),
                )
                .with_help("rename it, for example to `prod.gcp.yml`"),
            );
        }
        cfg.plugin = "gcp".into();
    } else if cfg.project.is_empty() {
        d.push(
            Diagnostic::error(DiagKind::Invalid, node.span, "the inventory plugin file has no `project`")
                .with_help("add `project: NAME`: hosts are the instances labelled prov-project=NAME"),
        );
    }
    if d.has_errors() {
        return Err(d);
    }
    Ok(cfg)
}

/// A list of names (or one name) under `key`; anything else in it is an error.
pub(crate) fn names(v: &Node, key: &str, d: &mut Diagnostics) -> Vec<String> {
    let items: Vec<&Node> = match &v.kind {
        NodeKind::Seq(s) => s.iter().collect(),
        _ => vec![v],
    };
    let list: Vec<String> = items.iter().filter_map(|n| n.scalar_text()).filter(|t| !t.is_empty()).collect();
    if list.len() != items.len() {
        d.push(Diagnostic::error(DiagKind::Invalid, v.span, format!("`{key}` is a list of names")));
    }
    list
}

fn keyed_group(
    d: &mut Diagnostics,
    item: &Node,
    templar: &Templar,
    expr: &dyn Fn(&mut Diagnostics, &Node, &str) -> Option<Tmpl>,
) -> Option<KeyedGroup> {
    let Some(m) = item.as_map() else {
        d.push(Diagnostic::error(DiagKind::Invalid, item.span, "a keyed group is a mapping with `key:`"));
        return None;
    };
    let text = |k: &str| item.get(k).and_then(Node::scalar_text);
    let flag = |k: &str| match item.get(k).map(|n| &n.kind) {
        Some(NodeKind::Bool(b)) => Some(*b),
        _ => None,
    };
    for (k, _) in m {
        let name = k.as_str().unwrap_or_default();
        if !KEYED_KEYS.contains(&name) {
            d.push(
                Diagnostic::error(DiagKind::Unknown, k.span, format!("unknown key `{name}` in a keyed group"))
                    .with_opt_help(did_you_mean(name, KEYED_KEYS.iter().copied())),
            );
        }
    }
    let Some(key_node) = item.get("key") else {
        d.push(Diagnostic::error(DiagKind::Invalid, item.span, "a keyed group needs `key:`"));
        return None;
    };
    let key = expr(d, key_node, "keyed_groups key")?;
    if item.get("default_value").is_some() && item.get("trailing_separator").is_some() {
        d.push(Diagnostic::error(
            DiagKind::Invalid,
            item.span,
            "a keyed group takes `default_value` or `trailing_separator`, not both (ansible-core refuses them together)",
        ));
    }
    let parent_group = match text("parent_group") {
        Some(p) => match templar.compile(&p) {
            Ok(t) => Some(t),
            Err(e) => {
                d.push(Diagnostic::error(DiagKind::Template, item.span, format!("parent_group: {e}")));
                None
            }
        },
        None => None,
    };
    Some(KeyedGroup {
        key,
        key_src: key_node.scalar_text().unwrap_or_default(),
        prefix: text("prefix").unwrap_or_default(),
        separator: text("separator").unwrap_or_else(|| "_".into()),
        default_value: text("default_value"),
        leading_separator: flag("leading_separator"),
        trailing_separator: flag("trailing_separator"),
        parent_group,
    })
}

/// ansible-core's rule for the group names inventory plugins make: a leading digit and every
/// character that is not a letter, a digit or `_` become `_`.
pub fn safe_group_name(s: &str) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| if (c.is_alphanumeric() || c == '_') && !(i == 0 && c.is_numeric()) { c } else { '_' })
        .collect()
}

/// What every plugin file's constructed options make of one host, as ansible-core's
/// `constructed` does: `compose` variables (each from the host's variables as listed, not from
/// the other composed ones), then `groups` (a condition, which must be a boolean) and
/// `keyed_groups` (a group per string, per list item, per `key<sep>value` of a mapping), both
/// over the listed and the composed variables. An error skips the entry, or fails the listing
/// under `strict`. Returns the host's variables with the composed ones.
fn construct(
    cfg: &PluginConfig,
    inv: &mut Inventory,
    name: &str,
    base: &[(String, Value)],
) -> Result<Vec<(String, Value)>, String> {
    let path = cfg.path.display();
    let ctx = Value::from_pairs(base.iter().cloned());
    let mut vars: Vec<(String, Value)> = base.to_vec();
    for (k, t) in &cfg.compose {
        match cfg.templar.render_defined(t, &ctx) {
            Ok(v) => {
                inv.set_host_var(name, k, v.clone());
                vars.retain(|(n, _)| n != k);
                vars.push((k.clone(), v));
            }
            Err(e) if cfg.strict => return Err(format!("{path}: could not set {k} for host {name}: {e}")),
            Err(_) => {}
        }
    }
    let c = Value::from_pairs(vars.iter().cloned());
    for (g, t, src) in &cfg.groups {
        let truth = cfg.templar.render_defined(t, &c).and_then(|v| prov_core::template::conditional_result(&v, src));
        match truth {
            Ok(true) => inv.add_to_group(&safe_group_name(g), name),
            Ok(false) => {}
            Err(e) if cfg.strict => return Err(format!("{path}: could not add host {name} to group {g}: {e}")),
            Err(_) => {}
        }
    }
    let empty = |v: &Value| v.is_none() || v.as_str() == Some("");
    for kg in &cfg.keyed_groups {
        let key = match cfg.templar.render_defined(&kg.key, &c) {
            Ok(v) => v,
            Err(e) if cfg.strict => {
                return Err(format!("{path}: could not generate group for host {name} from {} entry: {e}", kg.key_src))
            }
            Err(_) => continue,
        };
        let use_default = empty(&key) && kg.default_value.is_some();
        if !key.is_true() && !use_default {
            let empty_collection = key.len() == Some(0) && key.as_str().is_none();
            if cfg.strict && !empty_collection {
                return Err(format!(
                    "{path}: no key or key resulted empty for {} in host {name}, invalid entry",
                    kg.key_src
                ));
            }
            continue;
        }
        let default = kg.default_value.clone().unwrap_or_default();
        let bare_names: Vec<String> = if use_default {
            vec![default]
        } else if let Some(s) = key.as_str() {
            vec![s.to_string()]
        } else if key.kind() == minijinja::value::ValueKind::Seq {
            key.try_iter()
                .into_iter()
                .flatten()
                .map(|it| {
                    if empty(&it) && kg.default_value.is_some() {
                        default.clone()
                    } else {
                        prov_core::template::filters::py_str(&it)
                    }
                })
                .collect()
        } else if key.kind() == minijinja::value::ValueKind::Map {
            key.try_iter()
                .into_iter()
                .flatten()
                .map(|k| {
                    let v = key.get_item(&k).unwrap_or_default();
                    let k = prov_core::template::filters::py_str(&k);
                    match (empty(&v), &kg.default_value, kg.trailing_separator) {
                        (true, Some(d), _) => format!("{k}{}{d}", kg.separator),
                        (true, None, Some(false)) => k,
                        _ => format!("{k}{}{}", kg.separator, prov_core::template::filters::py_str(&v)),
                    }
                })
                .collect()
        } else {
            return Err(format!(
                "{path}: keyed group {} of host {name}: expected a string, a list of them or a mapping, got {}",
                kg.key_src,
                prov_core::template::python_type(&key)
            ));
        };
        let leading = kg.leading_separator.unwrap_or(cfg.leading_separator);
        let sep = if kg.prefix.is_empty() && !leading { "" } else { kg.separator.as_str() };
        let parent = match &kg.parent_group {
            Some(t) => match cfg.templar.render_defined(t, &c) {
                Ok(v) if !v.is_none() && !v.to_string().is_empty() => Some(safe_group_name(&v.to_string())),
                Ok(_) => None,
                Err(e) if cfg.strict => {
                    return Err(format!("{path}: could not generate parent group for host {name}: {e}"))
                }
                Err(_) => continue,
            },
            None => None,
        };
        for bare in bare_names {
            let g = safe_group_name(&format!("{}{sep}{bare}", kg.prefix));
            inv.add_to_group(&g, name);
            if let Some(p) = &parent {
                inv.add_child(p, &g);
            }
        }
    }
    Ok(vars)
}

/// The variables of one instance, before `compose`. `login_key` is the project's key file
/// when the user has no key of their own ([`crate::state::project_key`], read once per listing).
pub fn host_vars(
    provider: &str,
    project: &str,
    login_key: Option<&std::path::Path>,
    i: &Instance,
) -> Vec<(String, Value)> {
    let ip = |a: &Option<std::net::IpAddr>| a.map(|x| Value::from(x.to_string())).unwrap_or(Value::from(()));
    let labels = Value::from_pairs(i.labels.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))));
    let mut v = vec![
        ("private_ip".to_string(), ip(&i.private_ip)),
        ("public_ip".to_string(), ip(&i.public_ip)),
        ("labels".to_string(), labels.clone()),
        ("prov_provider".to_string(), Value::from(provider)),
        ("prov_project".to_string(), Value::from(project)),
        ("prov_name".to_string(), Value::from(i.name.as_str())),
        ("prov_id".to_string(), Value::from(i.id.as_str())),
        ("prov_state".to_string(), Value::from(i.state.as_str())),
        ("prov_labels".to_string(), labels),
        (
            "prov_group".to_string(),
            i.labels.get(LABEL_GROUP).map(|g| Value::from(g.as_str())).unwrap_or(Value::from(())),
        ),
        ("prov_machine_type".to_string(), i.machine_type.as_deref().map(Value::from).unwrap_or(Value::from(()))),
        ("prov_image".to_string(), i.image.as_deref().map(Value::from).unwrap_or(Value::from(()))),
        ("prov_details".to_string(), Value::from(minijinja::value::Serde(i.details.clone()))),
        ("ansible_user".to_string(), Value::from("root")),
    ];
    if let Some(a) = i.private_ip.or(i.public_ip) {
        v.push(("ansible_host".to_string(), Value::from(a.to_string())));
    }
    if let Some(key) = login_key {
        v.push(("ansible_ssh_private_key_file".to_string(), Value::from(key.display().to_string())));
    }
    // The provider's own variables (aws: aws_ec2's names, its `ansible_host` rule and the
    // host-key settings) come last and win.
    if let Some(extra) = i.details.get("vars").and_then(|x| x.as_object()) {
        for (k, x) in extra {
            v.retain(|(n, _)| n != k);
            v.push((k.clone(), Value::from(minijinja::value::Serde(x.clone()))));
        }
    }
    v
}

/// Builds the inventory from listed instances.
pub fn build(cfg: &PluginConfig, instances: &[Instance], warnings: &mut Vec<Diagnostic>) -> Result<Inventory, String> {
    let mut inv = Inventory::new();
    // Which provider and project this inventory lists, for every host and for the implicit
    // localhost that creates VMs (`vm: {provider: "{{ prov_provider }}", ...}`).
    inv.set_group_var("all", "prov_provider", Value::from(cfg.plugin.as_str()));
    inv.set_group_var("all", "prov_project", Value::from(cfg.project.as_str()));
    if let Some(n) = &cfg.network {
        inv.set_group_var("all", "prov_network", Value::from(n.as_str()));
    }
    if let Some(n) = &cfg.subnet {
        inv.set_group_var("all", "prov_subnet", Value::from(n.as_str()));
    }
    // Where new VMs go, for the `vm` tasks of `roles/manage-vms`.
    let firsts = [
        ("prov_cloud_project", cfg.projects.first()),
        ("prov_zone", cfg.zones.first()),
        ("prov_region", cfg.regions.first()),
        ("prov_endpoint", cfg.endpoint.as_ref()),
        ("prov_vm_image", cfg.image.as_ref()),
    ];
    for (var, value) in firsts {
        if let Some(v) = value {
            inv.set_group_var("all", var, Value::from(v.as_str()));
        }
    }
    let login_key = crate::state::project_key(&cfg.project);
    let mut sorted: Vec<&Instance> = instances.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    for i in sorted {
        let name = cfg
            .hostnames
            .iter()
            .find_map(|h| match h.as_str() {
                "name" => Some(i.name.clone()),
                "id" => Some(i.id.clone()),
                "private_ip" | "private-ip-address" => i.private_ip.map(|a| a.to_string()),
                "public_ip" | "ip-address" => i.public_ip.map(|a| a.to_string()),
                "instance-id" => Some(i.id.clone()),
                "dns-name" | "private-dns-name" => {
                    let key = if h == "dns-name" { "public_dns_name" } else { "private_dns_name" };
                    i.details.get(key).and_then(|d| d.as_str()).filter(|d| !d.is_empty()).map(str::to_string)
                }
                tag => tag.strip_prefix("tag:").and_then(|k| i.labels.get(k)).filter(|v| !v.is_empty()).cloned(),
            })
            .unwrap_or_else(|| i.name.clone());
        inv.add_host(&name);
        let vars = host_vars(&cfg.plugin, &cfg.project, login_key.as_deref(), i);
        for (k, v) in &vars {
            inv.set_host_var(&name, k, v.clone());
        }
        let vars = construct(cfg, &mut inv, &name, &vars)?;
        reused_address(cfg, &name, &vars, warnings);
    }
    if instances.is_empty() {
        let filters: Vec<String> = std::iter::once(format!("{LABEL_PROJECT}={}", cfg.project))
            .chain(cfg.filters.iter().map(|(k, v)| match k.starts_with(crate::FILTER_EXPRESSION) {
                true => v.clone(),
                false => format!("{k}={v}"),
            }))
            .collect();
        warnings.push(Diagnostic::warning(
            Span::NONE,
            format!(
                "inventory {}: no {} instance matches {}; its groups are empty",
                cfg.path.display(),
                cfg.plugin,
                filters.join(", ")
            ),
        ));
    }
    Ok(inv)
}

/// The inventory of an `amazon.aws.aws_ec2` file from its instances (boto3 descriptions,
/// sorted by id): each under its host name(s) in the group `aws_ec2`, with the plugin's host
/// variables, then the constructed options.
pub fn build_ec2(
    cfg: &PluginConfig,
    o: &crate::aws_ec2::Ec2Options,
    instances: &[serde_json::Value],
) -> Result<Inventory, String> {
    use crate::aws_ec2;
    let mut inv = Inventory::new();
    inv.add_group(aws_ec2::GROUP);
    for i in instances {
        let names = if o.allow_duplicated_hosts {
            aws_ec2::all_hostnames(i, &o.hostnames, &cfg.templar)?
        } else {
            aws_ec2::preferred_hostname(i, &o.hostnames, &cfg.templar)?.into_iter().collect()
        };
        let vars: Vec<(String, Value)> =
            aws_ec2::host_vars(i, o).into_iter().map(|(k, v)| (k, Value::from(minijinja::value::Serde(v)))).collect();
        for name in names {
            inv.add_to_group(aws_ec2::GROUP, &name);
            for (k, v) in &vars {
                inv.set_host_var(&name, k, v.clone());
            }
            construct(cfg, &mut inv, &name, &vars)?;
        }
    }
    Ok(inv)
}

/// The inventory of a `google.cloud.gcp_compute` file from its instances (as the API lists
/// them): each reshaped as the plugin does, under its host name, in `all` only, with the
/// plugin's host variables (`vars_prefix` before each name), then the constructed options
/// over the unprefixed ones.
pub fn build_gcp_compute(
    cfg: &PluginConfig,
    o: &crate::gcp_compute::GcpComputeOptions,
    instances: Vec<serde_json::Map<String, serde_json::Value>>,
) -> Result<Inventory, String> {
    use crate::gcp_compute;
    let mut inv = Inventory::new();
    for i in instances {
        let i = gcp_compute::convert(i).map_err(|e| format!("{}: {e}", cfg.path.display()))?;
        let name = gcp_compute::hostname(&i, o).map_err(|e| format!("{}: {e}", cfg.path.display()))?;
        inv.add_host(&name);
        let vars: Vec<(String, Value)> =
            i.into_iter().map(|(k, v)| (k, Value::from(minijinja::value::Serde(v)))).collect();
        for (k, v) in &vars {
            inv.set_host_var(&name, &format!("{}{k}", o.vars_prefix), v.clone());
        }
        construct(cfg, &mut inv, &name, &vars)?;
    }
    Ok(inv)
}

/// Warns when a host whose first key will be accepted (`accept-new` pinned to its instance
/// id) sits on an address that another instance of the project held before.
fn reused_address(cfg: &PluginConfig, name: &str, vars: &[(String, Value)], warnings: &mut Vec<Diagnostic>) {
    let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.to_string());
    let (Some(alias), Some(address)) = (get("prov_host_key_alias"), get("ansible_host")) else { return };
    let pinned = get("prov_host_key_checking").as_deref() == Some("accept-new");
    if let Ok(Some(before)) = crate::state::pin_address(&crate::state::addresses(&cfg.project), &address, &alias) {
        if pinned {
            warnings.push(Diagnostic::warning(
                Span::NONE,
                format!(
                    "inventory {}: address {address} of {name} belonged to instance {before}, now to {alias}: \
                     its host key is not known yet and will be accepted on first contact and pinned to {alias}",
                    cfg.path.display()
                ),
            ));
        }
    }
}

/// The label selector of a plugin file (project plus `filters`).
pub fn selector(cfg: &PluginConfig) -> Labels {
    let mut s = cfg.filters.clone();
    s.insert(LABEL_PROJECT.to_string(), crate::label_value(&cfg.project));
    s
}

/// Lists the instances of a plugin file and builds its inventory.
pub async fn list(cfg: &PluginConfig, warnings: &mut Vec<Diagnostic>) -> Result<Inventory, ProviderError> {
    if let Some(o) = &cfg.ec2 {
        #[cfg(feature = "aws")]
        {
            let instances = crate::aws::ec2_inventory::list(o).await?;
            return build_ec2(cfg, o, &instances).map_err(ProviderError::Invalid);
        }
        #[cfg(not(feature = "aws"))]
        {
            let _ = o;
            return Err(ProviderError::Unavailable {
                provider: "aws",
                message: "this prov was built without the aws provider (cargo feature `aws`)".into(),
            });
        }
    }
    if let Some(o) = &cfg.gcp_compute {
        #[cfg(feature = "gcp")]
        {
            let endpoint = std::env::var("PROV_GCP_ENDPOINT").ok().filter(|e| !e.is_empty());
            let instances =
                crate::gcp::google_cloud::list_instances(o, endpoint).await.map_err(ProviderError::Invalid)?;
            return build_gcp_compute(cfg, o, instances).map_err(ProviderError::Invalid);
        }
        #[cfg(not(feature = "gcp"))]
        {
            let _ = o;
            return Err(ProviderError::Unavailable {
                provider: "gcp",
                message: "this prov was built without the gcp provider (cargo feature `gcp`)".into(),
            });
        }
    }
    let provider = crate::connect(&cfg.plugin, &crate::ProviderSettings::from_plugin(cfg)).await?;
    let instances = provider.list(&selector(cfg)).await?;
    build(cfg, &instances, warnings).map_err(ProviderError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InstanceState;
    use prov_core::source::FileId;

    fn cfg(text: &str) -> Result<PluginConfig, Diagnostics> {
        let (node, _) = prov_core::yaml::parse_one(FileId(0), text).expect("yaml");
        let plugin = node.get("plugin").and_then(Node::scalar_text).unwrap_or_default();
        parse(&PluginSource { path: PathBuf::from("inv/local.yml"), plugin, config: node })
    }

    fn vm(name: &str, group: &str, ip: &str) -> Instance {
        let mut labels = Labels::new();
        labels.insert(LABEL_PROJECT.into(), "demo".into());
        labels.insert(LABEL_GROUP.into(), group.into());
        Instance {
            name: name.into(),
            id: format!("id-{name}"),
            state: InstanceState::Running,
            labels,
            private_ip: ip.parse().ok(),
            public_ip: None,
            machine_type: Some("e2-small".into()),
            image: None,
            details: serde_json::json!({}),
        }
    }

    #[test]
    fn keyed_groups_compose_and_groups() {
        let c = cfg("plugin: docker\nproject: demo\nkeyed_groups:\n  - key: labels['prov-group']\n    prefix: ''\n    separator: ''\n  - key: prov_machine_type\n    prefix: type\ngroups:\n  up: prov_state == 'running'\ncompose:\n  ansible_host: private_ip\n  role: \"'node-' ~ prov_group\"\n")
            .expect("valid");
        let mut w = Vec::new();
        let inv =
            build(&c, &[vm("w1", "workers", "10.1.0.5"), vm("m1", "managers", "10.1.0.4")], &mut w).expect("builds");
        assert_eq!(inv.group_hosts("workers"), vec!["w1"]);
        assert_eq!(inv.group_hosts("managers"), vec!["m1"]);
        assert_eq!(inv.group_hosts("type_e2_small"), vec!["m1", "w1"]);
        assert_eq!(inv.group_hosts("up").len(), 2);
        let v = inv.host_vars("w1");
        assert_eq!(v.get("ansible_host").map(|x| x.to_string()), Some("10.1.0.5".into()));
        assert_eq!(v.get("role").map(|x| x.to_string()), Some("node-workers".into()));
        assert!(w.is_empty());
    }

    /// ansible-core's constructed: a key that is a mapping or a list makes a group per item,
    /// a condition that is no boolean adds no host, `compose` reads the listed variables only.
    /// prov made one group named after the whole value and took "yes" as true.
    #[test]
    fn keyed_groups_of_a_mapping_or_a_list_make_a_group_per_item_as_ansible_core() {
        let c = cfg(r#"plugin: docker
project: demo
keyed_groups:
  - key: labels
    prefix: label
  - key: "[prov_group, 'x-y']"
    prefix: ''
  - key: labels.nope | default('')
    default_value: unset
    prefix: k
groups:
  truthy: "'yes'"
  yes_group: prov_group == 'workers'
compose:
  a: prov_group
  b: a | default('none')
"#)
        .expect("valid");
        let mut w = Vec::new();
        let inv = build(&c, &[vm("w1", "workers", "10.1.0.5")], &mut w).expect("builds");
        assert_eq!(inv.group_hosts("label_prov_group_workers"), vec!["w1"]);
        assert_eq!(inv.group_hosts("label_prov_project_demo"), vec!["w1"]);
        assert_eq!(inv.group_hosts("_workers"), vec!["w1"]);
        assert_eq!(inv.group_hosts("_x_y"), vec!["w1"]);
        assert_eq!(inv.group_hosts("k_unset"), vec!["w1"]);
        assert!(inv.group_hosts("truthy").is_empty());
        assert_eq!(inv.group_hosts("yes_group"), vec!["w1"]);
        let v = inv.host_vars("w1");
        assert_eq!(v.get("b").map(|x| x.to_string()), Some("none".into()));
    }

    #[test]
    fn aws_files_keep_ec2_filters_and_take_aws_ec2_hostnames() {
        let c = cfg("plugin: aws\nproject: demo\nimage: ami-1\nfilters:\n  tag:prov-group: [managers, workers]\n  instance-type: t3.small\nhostnames: ['tag:Name', instance-id]\n")
            .expect("valid");
        assert_eq!(c.filters.get("tag:prov-group").map(String::as_str), Some("managers\nworkers"));
        assert_eq!(c.filters.get("instance-type").map(String::as_str), Some("t3.small"));
        let mut a = vm("w1", "workers", "10.1.0.5");
        a.labels.insert("Name".into(), "web-a".into());
        a.public_ip = "203.0.113.5".parse().ok();
        a.details = serde_json::json!({"vars": {"ansible_host": "203.0.113.5", "instance_type": "t3.small"}});
        let mut b = vm("w2", "workers", "10.1.0.6");
        b.id = "i-0b".into();
        let mut w = Vec::new();
        let inv = build(&c, &[a, b], &mut w).expect("builds");
        let mut names: Vec<String> = inv.hosts().map(|h| h.name.clone()).collect();
        names.sort();
        assert_eq!(names, vec!["i-0b", "web-a"], "tag:Name, else the instance id");
        let v = inv.host_vars("web-a");
        assert_eq!(
            v.get("ansible_host").map(|x| x.to_string()),
            Some("203.0.113.5".into()),
            "the provider's rule wins"
        );
        assert_eq!(v.get("instance_type").map(|x| x.to_string()), Some("t3.small".into()));
        assert_eq!(inv.host_vars("i-0b").get("ansible_host").map(|x| x.to_string()), Some("10.1.0.6".into()));
        assert_eq!(v.get("prov_vm_image").map(|x| x.to_string()), Some("ami-1".into()));
    }

    #[test]
    fn gcp_files_take_gcp_compute_filter_expressions_and_host_vars() {
        let c = cfg("plugin: gcp\nproject: demo\nfilters:\n  - status = RUNNING\n  - labels.env = prod\ncompose:\n  ansible_host: networkInterfaces[0].accessConfigs[0].natIP\n")
            .expect("valid");
        let exprs: Vec<&String> = c.filters.values().collect();
        assert_eq!(exprs, vec!["status = RUNNING", "labels.env = prod"]);
        assert!(c.filters.keys().all(|k| k.starts_with(crate::FILTER_EXPRESSION)));
        let mut a = vm("w1", "workers", "10.1.0.5");
        a.details = serde_json::json!({"vars": {"networkInterfaces": [{"networkIP": "10.1.0.5", "accessConfigs": [{"natIP": "203.0.113.9"}]}]}});
        let mut w = Vec::new();
        let inv = build(&c, &[a], &mut w).expect("builds");
        assert_eq!(inv.host_vars("w1").get("ansible_host").map(|x| x.to_string()), Some("203.0.113.9".into()));
        let e = cfg("plugin: gcp\nproject: demo\nfilters:\n  - ''\n").expect_err("an empty expression");
        assert!(e.0[0].message.contains("filter expression"), "{:?}", e.0[0]);
        assert_eq!((e.0[0].span.line, e.0[0].span.col), (4, 5));
        let e = cfg("plugin: docker\nproject: demo\nfilters:\n  - status = RUNNING\n").expect_err("labels only");
        assert!(e.0[0].message.contains("mapping of label: value"), "{:?}", e.0[0]);
    }

    #[test]
    fn an_address_another_instance_held_is_a_warning_for_accept_new_hosts() {
        crate::test_state_dir();
        let c = cfg("plugin: gcp\nproject: reuse\n").expect("valid");
        let on_the_address = |id: &str, checking: Option<&str>| {
            let mut i = vm("w1", "workers", "10.1.0.5");
            i.id = id.into();
            i.details = serde_json::json!({"vars": {"prov_host_key_alias": id}});
            if let Some(p) = checking {
                i.details["vars"]["prov_host_key_checking"] = p.into();
            }
            i
        };
        let mut w = Vec::new();
        build(&c, &[on_the_address("111", Some("accept-new"))], &mut w).expect("builds");
        build(&c, &[on_the_address("111", None)], &mut w).expect("builds");
        assert!(w.is_empty(), "the same instance: {w:?}");
        build(&c, &[on_the_address("222", Some("accept-new"))], &mut w).expect("builds");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].message.contains("address 10.1.0.5 of w1 belonged to instance 111, now to 222"), "{w:?}");
        // A key published through the API (strict) needs no warning.
        build(&c, &[on_the_address("333", None)], &mut w).expect("builds");
        assert_eq!(w.len(), 1, "{w:?}");
    }

    #[test]
    fn nothing_matching_is_a_warning() {
        let c = cfg("plugin: docker\nproject: demo\nfilters:\n  prov-group: nobody\n").expect("valid");
        let mut w = Vec::new();
        let inv = build(&c, &[], &mut w).expect("builds");
        assert_eq!(inv.hosts().count(), 0);
        assert!(w[0].message.contains("prov-group=nobody"), "{}", w[0].message);
    }

    #[test]
    fn mistakes_have_positions_and_hints() {
        let e = cfg("plugin: docker\nproject: demo\nkeyed_group:\n  - key: x\n").expect_err("typo");
        assert_eq!((e.0[0].span.line, e.0[0].span.col), (3, 1));
        assert_eq!(e.0[0].help.as_deref(), Some("did you mean `keyed_groups`?"));
        let e = cfg("plugin: dokcer\nproject: demo\n").expect_err("plugin");
        assert_eq!(e.0[0].help.as_deref(), Some("did you mean `docker`?"));
        let e = cfg("plugin: docker\n").expect_err("project");
        assert!(e.0[0].message.contains("no `project`"));
        let e = cfg("plugin: docker\nproject: d\ncompose:\n  ansible_host: private_ip +\n").expect_err("expr");
        assert_eq!(e.0[0].span.line, 4);
    }
}
