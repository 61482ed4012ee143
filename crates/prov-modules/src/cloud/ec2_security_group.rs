//! An EC2 security group and its rules (amazon.aws.ec2_security_group): found by `name` (in
//! `vpc_id`) or `group_id`, created with `description`, tagged, its `rules` and
//! `rules_egress` made exactly those given (`purge_rules`, `purge_rules_egress`, default
//! true) or added to the group's, or deleted (`state: absent`).
//!
//! A rule lets traffic in (or out) on `proto` (default `tcp`; `all`, `icmp`, a number) for
//! `ports` (`"22"`, `"8000-8010"`), `from_port`/`to_port`, or `icmp_type`/`icmp_code`, from
//! every item of `cidr_ip`, `cidr_ipv6`, `ip_prefix`, `group_id` or `group_name` (a group
//! named by a rule is made with the rule's `group_desc` when it does not exist), with an
//! optional `rule_desc`. The module's decisions and return values (the group as described
//! afterwards, in snake case, `tags` as a mapping; `diff` with `--diff`) are amazon.aws
//! 12.3's, compared against moto; a range with host bits set is cleared with the module's
//! warning. Check mode reads and reports, changing nothing.
//!
//! As with `ec2_instance`, prov makes the EC2 calls itself, for a task on the controller
//! only, with the module's `region`, `endpoint_url`, credentials and `profile` arguments or
//! their environment variables. Refused before anything runs: a rule without ports whose
//! protocol needs them (the module fails on it), `icmp_type` with another protocol, and the
//! argument combinations the module refuses.
//!
//! ```yaml
//! - amazon.aws.ec2_security_group:
//!     name: swarm
//!     description: swarm nodes
//!     rules:
//!       - { proto: tcp, ports: [22], cidr_ip: 0.0.0.0/0 }
//!       - { proto: tcp, ports: [2377, 7946], group_name: swarm }
//!       - { proto: udp, ports: [7946, 4789], group_name: swarm }
//! ```

use super::{on_controller, outcome, plan_of, py_str};
use crate::util::{py_int, stringish};
use async_trait::async_trait;
use prov_core::args::lenient_opt_bool;
use prov_core::module::{Action, DiffMode, Module, ModuleCtx, ModuleError, Outcome, Plan, RunsOn};
use prov_providers::ec2_instance::Report;
use prov_providers::ec2_security_group::Params;
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

/// One rule of `rules` or `rules_egress`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleArgs {
    /// Description of the rule.
    #[serde(default, deserialize_with = "stringish")]
    pub rule_desc: Option<String>,
    /// IPv4 ranges.
    #[serde(default)]
    pub cidr_ip: Option<Json>,
    /// IPv6 ranges.
    #[serde(default)]
    pub cidr_ipv6: Option<Json>,
    /// Prefix list ids.
    #[serde(default, deserialize_with = "crate::util::str_list")]
    pub ip_prefix: Option<Vec<String>>,
    /// Security group ids.
    #[serde(default, deserialize_with = "crate::util::str_list")]
    pub group_id: Option<Vec<String>>,
    /// Security group names.
    #[serde(default, deserialize_with = "crate::util::str_list")]
    pub group_name: Option<Vec<String>>,
    /// Description of a group `group_name` makes.
    #[serde(default, deserialize_with = "stringish")]
    pub group_desc: Option<String>,
    /// Protocol (default `tcp`).
    #[serde(default, deserialize_with = "stringish")]
    pub proto: Option<String>,
    /// Ports and ranges.
    #[serde(default, deserialize_with = "crate::util::str_list")]
    pub ports: Option<Vec<String>>,
    /// First port.
    #[serde(default, deserialize_with = "stringish")]
    pub from_port: Option<String>,
    /// Last port.
    #[serde(default, deserialize_with = "stringish")]
    pub to_port: Option<String>,
    /// ICMP type.
    #[serde(default, deserialize_with = "stringish")]
    pub icmp_type: Option<String>,
    /// ICMP code.
    #[serde(default, deserialize_with = "stringish")]
    pub icmp_code: Option<String>,
}

amazon_aws_args! {
    /// Arguments of `ec2_security_group`.
    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Args {
        /// The group's name.
        #[serde(default, deserialize_with = "stringish")]
        pub name: Option<String>,
        /// The group's id.
        #[serde(default, deserialize_with = "stringish")]
        pub group_id: Option<String>,
        /// Description (required to create).
        #[serde(default, deserialize_with = "stringish")]
        pub description: Option<String>,
        /// The VPC.
        #[serde(default, deserialize_with = "stringish")]
        pub vpc_id: Option<String>,
        /// Inbound rules.
        #[serde(default)]
        pub rules: Option<Vec<RuleArgs>>,
        /// Outbound rules.
        #[serde(default, alias = "egress_rules")]
        pub rules_egress: Option<Vec<RuleArgs>>,
        /// `present` (default) or `absent`.
        #[serde(default, deserialize_with = "stringish")]
        pub state: Option<String>,
        /// Revoke inbound rules not given (default true).
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub purge_rules: Option<bool>,
        /// Revoke outbound rules not given (default true).
        #[serde(default, alias = "purge_egress_rules", deserialize_with = "lenient_opt_bool")]
        pub purge_rules_egress: Option<bool>,
        /// Tags.
        #[serde(default, alias = "resource_tags")]
        pub tags: Option<indexmap::IndexMap<String, Json>>,
        /// Remove tags not in `tags` (default true).
        #[serde(default, deserialize_with = "lenient_opt_bool")]
        pub purge_tags: Option<bool>,
    }
}

/// The module.
#[derive(Default)]
pub struct Ec2SecurityGroup;

fn state(a: &Args) -> &str {
    a.state.as_deref().unwrap_or("present")
}

/// A list argument of raw items (`cidr_ip`): a string is split at commas, as Ansible's
/// `type: list` does.
fn raw_list(v: &Json) -> Json {
    match v {
        Json::String(s) => Json::Array(s.split(',').map(|x| Json::String(x.to_string())).collect()),
        Json::Array(_) => v.clone(),
        other => Json::Array(vec![Json::String(py_str(other))]),
    }
}

/// A rule as the module reads it: the options that are set, `proto` defaulting to `tcp`.
fn rule_json(r: &RuleArgs, field: &str) -> Result<Json, String> {
    let mut m = Map::new();
    let int = |name: &str, v: &Option<String>| -> Result<Option<Json>, String> {
        match v {
            None => Ok(None),
            Some(_) => py_int::<i64>(v, 0).map(|n| Some(json!(n))).map_err(|e| format!("{name} in {field}: {e}")),
        }
    };
    let mut put = |k: &str, v: Option<Json>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    put("rule_desc", r.rule_desc.clone().map(Json::String));
    put("cidr_ip", r.cidr_ip.as_ref().filter(|v| !v.is_null()).map(raw_list));
    put("cidr_ipv6", r.cidr_ipv6.as_ref().filter(|v| !v.is_null()).map(raw_list));
    put("ip_prefix", r.ip_prefix.clone().map(|v| json!(v)));
    put("group_id", r.group_id.clone().map(|v| json!(v)));
    put("group_name", r.group_name.clone().map(|v| json!(v)));
    put("group_desc", r.group_desc.clone().map(Json::String));
    put("proto", Some(Json::String(r.proto.clone().unwrap_or_else(|| "tcp".into()))));
    put("ports", r.ports.clone().map(|v| json!(v)));
    put("from_port", int("from_port", &r.from_port)?);
    put("to_port", int("to_port", &r.to_port)?);
    put("icmp_type", int("icmp_type", &r.icmp_type)?);
    put("icmp_code", int("icmp_code", &r.icmp_code)?);
    Ok(Json::Object(m))
}

/// The checks the module's argument spec makes on a rule, and the rules it fails on.
fn check_rule(r: &RuleArgs, field: &str) -> Result<(), String> {
    let set = [
        ("ports", r.ports.is_some()),
        ("to_port", r.to_port.is_some()),
        ("from_port", r.from_port.is_some()),
        ("icmp_type", r.icmp_type.is_some()),
        ("icmp_code", r.icmp_code.is_some()),
    ];
    let has = |k: &str| set.iter().any(|(n, s)| *n == k && *s);
    for (a, b) in [
        ("ports", "to_port"),
        ("ports", "from_port"),
        ("ports", "icmp_type"),
        ("ports", "icmp_code"),
        ("icmp_type", "to_port"),
        ("icmp_code", "to_port"),
        ("icmp_type", "from_port"),
        ("icmp_code", "from_port"),
    ] {
        if has(a) && has(b) {
            return Err(format!("parameters are mutually exclusive: {a}|{b} found in {field}"));
        }
    }
    let sourced = r.group_id.is_some()
        || r.group_name.is_some()
        || r.cidr_ip.as_ref().is_some_and(|v| !v.is_null())
        || r.cidr_ipv6.as_ref().is_some_and(|v| !v.is_null())
        || r.ip_prefix.is_some();
    if !sourced {
        return Err(format!(
            "one of the following is required: group_id, group_name, cidr_ip, cidr_ipv6, ip_prefix found in {field}"
        ));
    }
    if has("icmp_code") && !has("icmp_type") {
        return Err(format!("missing parameter(s) required by 'icmp_code': icmp_type found in {field}"));
    }
    let proto = r.proto.clone().unwrap_or_else(|| "tcp".into());
    if (has("icmp_type") || has("icmp_code")) && !proto.contains("icmp") {
        return Err("Specify proto: icmp or icmpv6 when using icmp_type/icmp_code".into());
    }
    let no_ports = proto == "all" || proto.trim().parse::<i64>().is_ok();
    let ports_given = has("ports") || has("from_port") || has("to_port") || has("icmp_type");
    if !no_ports && !ports_given {
        return Err(format!(
            "a rule of {field} with proto {proto} needs ports, from_port/to_port or icmp_type \
             (amazon.aws.ec2_security_group fails on it: KeyError 'from_port')"
        ));
    }
    rule_json(r, field).map(|_| ())
}

fn params(a: &Args, cx_env: &[(String, String)], diff: bool) -> Result<Params, String> {
    let rules = |rs: &Option<Vec<RuleArgs>>, field: &str| -> Result<Option<Vec<Json>>, String> {
        rs.as_ref().map(|rs| rs.iter().map(|r| rule_json(r, field)).collect()).transpose()
    };
    Ok(Params {
        access: a.aws_access(cx_env),
        name: a.name.clone(),
        group_id: a.group_id.clone(),
        description: a.description.clone(),
        vpc_id: a.vpc_id.clone(),
        rules: rules(&a.rules, "rules")?,
        rules_egress: rules(&a.rules_egress, "rules_egress")?,
        state: state(a).to_string(),
        purge_rules: a.purge_rules.unwrap_or(true),
        purge_rules_egress: a.purge_rules_egress.unwrap_or(true),
        tags: a.tags.as_ref().map(|t| t.iter().map(|(k, v)| (k.clone(), py_str(v))).collect()),
        purge_tags: a.purge_tags.unwrap_or(true),
        diff,
    })
}

async fn run(args: &Args, cx: &ModuleCtx<'_>, check: bool) -> Result<Report, ModuleError> {
    on_controller(cx, "amazon.aws.ec2_security_group")?;
    let p = params(args, &cx.env, cx.mode.diff == DiffMode::On).map_err(ModuleError::Args)?;
    prov_providers::ec2_security_group::run(&p, check).await.map_err(|e| ModuleError::Failed(e.to_string()))
}

/// The report's `diff` as a diff prov shows (`--diff`), besides the registered field.
fn with_shown_diff(mut o: Outcome, fields: &Map<String, Json>) -> Outcome {
    if let Some(d) = fields.get("diff").and_then(|d| d.get(0)) {
        let text = |v: &Json| serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
        o.diffs.push(prov_core::module::Diff {
            header: "security group".into(),
            before: text(&d["before"]),
            after: text(&d["after"]),
            skipped: Vec::new(),
        });
    }
    o
}

#[async_trait]
impl Module for Ec2SecurityGroup {
    const NAME: &'static str = "ec2_security_group";
    const COLLECTIONS: &'static [&'static str] = &["amazon.aws"];
    const RUNS_ON: RunsOn = RunsOn::Controller;
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        if !matches!(state(a), "present" | "absent") {
            return Err(format!("value of state must be one of: present, absent, got: {}", state(a)));
        }
        let off = a.aws_unsupported();
        if !off.is_empty() {
            return Err(format!("prov does not support {} of amazon.aws.ec2_security_group yet", off.join(", ")));
        }
        if a.name.is_none() && a.group_id.is_none() {
            return Err("one of the following is required: name, group_id".into());
        }
        if state(a) == "present" {
            let missing: Vec<&str> = [("name", a.name.is_none()), ("description", a.description.is_none())]
                .into_iter()
                .filter(|(_, m)| *m)
                .map(|(n, _)| n)
                .collect();
            if !missing.is_empty() {
                return Err(format!("state is present but all of the following are missing: {}", missing.join(", ")));
            }
        }
        for (field, rules) in [("rules", &a.rules), ("rules_egress", &a.rules_egress)] {
            for r in rules.iter().flatten() {
                check_rule(r, field)?;
            }
        }
        params(a, &[], false).map(|_| ())
    }

    async fn plan(&self, args: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let r = run(args, cx, true).await?;
        let action = match (state(args), r.fields.get("group_id")) {
            ("absent", _) => Action::Delete,
            (_, Some(Json::Null)) => Action::Create,
            _ => Action::Modify,
        };
        let diff = r.fields.clone();
        let name = args.name.clone().or_else(|| args.group_id.clone()).unwrap_or_default();
        Ok(match plan_of(r, action, "ec2_security_group", name) {
            Plan::Ok(o) => Plan::Ok(with_shown_diff(o, &diff)),
            Plan::Change(mut c) => {
                if let Some(d) = diff.get("diff").and_then(|d| d.get(0)) {
                    let text = |v: &Json| serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
                    c = c.with_diff("security group", text(&d["before"]), text(&d["after"]));
                }
                Plan::Change(c)
            }
        })
    }

    async fn apply(&self, args: &Args, _plan: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        let r = run(args, cx, false).await?;
        let fields = r.fields.clone();
        Ok(with_shown_diff(outcome(r), &fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: Json) -> Result<(), String> {
        Ec2SecurityGroup::check_args(&serde_json::from_value(v).expect("arguments parse"))
    }

    #[test]
    fn argument_combinations_the_module_refuses_are_refused_before_connecting() {
        assert!(
            check(json!({"name": "a", "description": "d", "rules": [{"ports": [22], "cidr_ip": "0.0.0.0/0"}]})).is_ok()
        );
        assert_eq!(
            check(json!({"name": "a"})).expect_err("refused"),
            "state is present but all of the following are missing: description"
        );
        assert_eq!(
            check(json!({"state": "absent"})).expect_err("refused"),
            "one of the following is required: name, group_id"
        );
        assert!(check(json!({"group_id": "sg-1", "state": "absent"})).is_ok());
        let e =
            check(json!({"name": "a", "description": "d", "rules": [{"ports": [22], "from_port": 1, "cidr_ip": "x"}]}));
        assert_eq!(e.expect_err("refused"), "parameters are mutually exclusive: ports|from_port found in rules");
        let e = check(json!({"name": "a", "description": "d", "rules_egress": [{"ports": [22]}]}));
        assert!(e.expect_err("refused").starts_with("one of the following is required: group_id"));
        let e = check(json!({"name": "a", "description": "d", "rules": [{"icmp_type": 8, "cidr_ip": "x"}]}));
        assert_eq!(e.expect_err("refused"), "Specify proto: icmp or icmpv6 when using icmp_type/icmp_code");
        let e = check(json!({"name": "a", "description": "d", "rules": [{"cidr_ip": "0.0.0.0/0"}]}));
        assert!(e.expect_err("refused").contains("KeyError 'from_port'"));
        assert!(check(json!({"name": "a", "description": "d", "rules": [{"proto": "all", "cidr_ip": "0.0.0.0/0"}]}))
            .is_ok());
    }

    #[test]
    fn rules_are_read_as_the_module_reads_them() {
        let a: RuleArgs = serde_json::from_value(json!({"ports": "80,443", "cidr_ip": "10.0.0.0/8", "to_port": "9"}))
            .expect("parses");
        assert_eq!(
            rule_json(&a, "rules").expect("rule"),
            json!({"cidr_ip": ["10.0.0.0/8"], "proto": "tcp", "ports": ["80", "443"], "to_port": 9})
        );
    }
}
