//! The keywords prov understands at each level, and those it knows but does not support yet.

/// Keys of a play.
pub const PLAY: &[&str] = &[
    "collections",
    "force_handlers",
    "name",
    "hosts",
    "vars",
    "vars_files",
    "roles",
    "pre_tasks",
    "tasks",
    "post_tasks",
    "handlers",
    "tags",
    "become",
    "become_user",
    "become_method",
    "serial",
    "max_fail_percentage",
    "any_errors_fatal",
    "gather_facts",
    "gather_subset",
    "gather_timeout",
    "strategy",
    "environment",
    "connection",
    "remote_user",
    "user",
    "ignore_errors",
    "no_log",
    "check_mode",
    "vars_prompt",
    "ignore_unreachable",
    "order",
    "module_defaults",
];

/// Ansible play keys prov does not support yet.
pub const PLAY_UNSUPPORTED: &[&str] = &["throttle", "fact_path", "debugger", "diff", "port", "run_once", "timeout"];

/// Keys of a task (besides the module key).
pub const TASK: &[&str] = &[
    "name",
    "when",
    "loop",
    "with_items",
    "with_list",
    "with_dict",
    "with_nested",
    "with_subelements",
    "with_first_found",
    "with_fileglob",
    "with_sequence",
    "with_together",
    "with_indexed_items",
    "with_lines",
    "loop_control",
    "register",
    "notify",
    "tags",
    "become",
    "become_user",
    "become_method",
    "delegate_to",
    "delegate_facts",
    "run_once",
    "ignore_errors",
    "changed_when",
    "failed_when",
    "until",
    "retries",
    "delay",
    "environment",
    "no_log",
    "vars",
    "args",
    "check_mode",
    "diff",
    "listen",
    "timeout",
    "throttle",
    "async",
    "poll",
    "ignore_unreachable",
    "remote_user",
    "module_defaults",
    "any_errors_fatal",
];

/// Ansible task keys prov does not support yet.
pub const TASK_UNSUPPORTED: &[&str] = &["with_random_choice", "debugger", "collections", "connection"];

/// Keys of a block.
pub const BLOCK: &[&str] = &[
    "block",
    "rescue",
    "always",
    "name",
    "when",
    "tags",
    "become",
    "become_user",
    "become_method",
    "vars",
    "environment",
    "ignore_errors",
    "ignore_unreachable",
    "delegate_to",
    "delegate_facts",
    "run_once",
    "no_log",
    "notify",
    "check_mode",
    "remote_user",
    "module_defaults",
    "any_errors_fatal",
];

/// Keys of an import task (`import_tasks`, `import_role`), which passes them down.
pub const INCLUDE: &[&str] = &[
    "name",
    "when",
    "tags",
    "vars",
    "become",
    "become_user",
    "ignore_errors",
    "no_log",
    "environment",
    "run_once",
    "delegate_to",
    "notify",
    "check_mode",
    "remote_user",
    "module_defaults",
    "any_errors_fatal",
];

/// Keys ansible-core takes on an `include_tasks` or `include_role` (its TaskInclude's
/// `VALID_INCLUDE_KEYWORDS`, and the `with_*` loops; a handler's include also takes
/// `listen`): any other key is an error there ("not a valid attribute").
pub const DYNAMIC_INCLUDE_VALID: &[&str] = &[
    "action",
    "args",
    "collections",
    "debugger",
    "ignore_errors",
    "loop",
    "loop_control",
    "name",
    "no_log",
    "register",
    "run_once",
    "tags",
    "timeout",
    "vars",
    "when",
];

/// Those of [`DYNAMIC_INCLUDE_VALID`] prov supports.
pub const DYNAMIC_INCLUDE: &[&str] = &["name", "when", "tags", "vars", "ignore_errors", "no_log", "register"];

/// Keys of a role reference in `roles:`.
pub const ROLE_REF: &[&str] =
    &["role", "name", "vars", "tags", "when", "become", "become_user", "environment", "module_defaults"];

/// The other attributes ansible-core takes on a role entry (its RoleInclude's); any key
/// that is none of these nor [`ROLE_REF`] is a role param.
pub const ROLE_REF_UNSUPPORTED: &[&str] = &[
    "any_errors_fatal",
    "become_exe",
    "become_flags",
    "become_method",
    "check_mode",
    "collections",
    "connection",
    "debugger",
    "delegate_facts",
    "delegate_to",
    "diff",
    "ignore_errors",
    "ignore_unreachable",
    "no_log",
    "port",
    "remote_user",
    "run_once",
    "throttle",
    "timeout",
];

/// Magic variables every task can read.
pub const MAGIC: &[&str] = &[
    "inventory_hostname",
    "inventory_hostname_short",
    "groups",
    "group_names",
    "hostvars",
    "play_hosts",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_batch",
    "playbook_dir",
    "role_path",
    "role_name",
    "ansible_check_mode",
    "ansible_diff_mode",
    "ansible_facts",
    "omit",
    "vars",
    "ansible_loop",
    "ansible_host",
    "ansible_port",
    "ansible_user",
    "inventory_dir",
    "inventory_file",
    "ansible_run_tags",
    "ansible_skip_tags",
    "lookup",
    "query",
    "q",
    "range",
    "now",
    "dict",
    "namespace",
    "loop",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_loop_keyword_is_a_task_keyword() {
        for (k, _) in crate::compile::model::LoopKeyword::ALL {
            assert!(super::TASK.contains(k), "{k}");
        }
    }
}
