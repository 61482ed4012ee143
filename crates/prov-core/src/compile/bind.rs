//! Pass 2: bind a compiled play to the inventory's hosts and add the cross-host edges.
//!
//! Each host runs its tasks in order. Hosts wait for each other only where the play needs it:
//! a `hostvars[...]` read waits for the task on that host that sets the variable, `run_once`
//! waits for the host that runs it, `delegate_to` waits for the delegate to reach the task,
//! `serial` batches wait for the previous batch, `strategy: linear` waits for every host of the
//! batch to finish the previous task.
//!
//! A host waits only for hosts of its own batch, and only for a task that comes before every
//! place the waiting task can run (a handler runs at a flush after the first task that
//! notifies it, so it waits for that task at the latest): what a read finds of a later batch
//! or of a later task is what is there when it runs, as in ansible-core. [`BoundPlay::graph`] is
//! the (task × host) graph these waits make; [`BoundPlay::check_waits`] proves it has no cycle.

use super::model::*;
use crate::inventory::{HostPattern, Inventory};
use std::collections::BTreeMap;
use std::fmt::Write;

/// What a (task, host) node waits for before it starts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Wait {
    /// Host `host` (index into [`BoundPlay::hosts`]) has passed position `pos` (the task there is done).
    Host {
        /// Host index.
        host: usize,
        /// Position in the play's task order.
        pos: usize,
        /// Why (for `prov graph` and messages).
        why: WaitReason,
    },
    /// Every host of the same batch has passed `pos`.
    Batch {
        /// Position.
        pos: usize,
    },
    /// Every host of batch `batch` has finished the play.
    PrevBatch {
        /// Batch index.
        batch: usize,
    },
}

/// Why an edge exists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum WaitReason {
    /// Reads `hostvars[host].var`.
    Data(String),
    /// `run_once`: the first host runs it.
    RunOnce,
    /// `delegate_to`.
    Delegate,
}

/// A play bound to hosts: what the executor walks.
#[derive(Debug)]
pub struct BoundPlay<'p> {
    /// The play.
    pub play: &'p CompiledPlay,
    /// Hosts in the order they run (the play's `order`).
    pub hosts: Vec<String>,
    /// Every host the pattern (and `--limit`) selects, in the pattern's order, those that
    /// failed in earlier plays included: `ansible_play_hosts_all`. The caller that binds a
    /// play again without them keeps the first binding's list.
    pub hosts_all: Vec<String>,
    /// Batches of host indices (one batch without `serial`).
    pub batches: Vec<Vec<usize>>,
    /// Per batch, its size as ansible-core counts it: with the hosts that sit out because
    /// they failed or became unreachable in an earlier play (what `max_fail_percentage`
    /// divides by, and what a batch whose hosts all failed is measured against).
    pub batch_sizes: Vec<usize>,
    /// Per batch, the hosts that sit out in it (see [`bind_sitting_out`]); a
    /// `meta: clear_host_errors` in the batch clears them too.
    pub sitting_out: Vec<Vec<String>>,
    /// Batch of each host.
    pub batch_of: Vec<usize>,
    /// Position of each task in the order a host passes them (`usize::MAX` for unreachable tasks).
    pub pos: Vec<usize>,
    /// Tasks by position.
    pub order: Vec<TaskId>,
    /// Waits per (task, host): `waits[task][host]`; tasks with no cross-host waits have an empty vec.
    pub waits: Vec<Vec<Vec<Wait>>>,
}

/// Resolves the play's host pattern (and `--limit`) and adds the edges.
pub fn bind<'p>(play: &'p CompiledPlay, inv: &Inventory, limit: Option<&HostPattern>) -> Result<BoundPlay<'p>, String> {
    bind_sitting_out(play, inv, limit, &std::collections::BTreeSet::new())
}

/// [`bind`], with the hosts in `out` (failed or unreachable in earlier plays) sitting out: as
/// in ansible-core, they keep their places in the `serial` batches, which are cut from every
/// host the play selects, but run nothing (a batch left with no host to run is dropped).
pub fn bind_sitting_out<'p>(
    play: &'p CompiledPlay,
    inv: &Inventory,
    limit: Option<&HostPattern>,
    out: &std::collections::BTreeSet<String>,
) -> Result<BoundPlay<'p>, String> {
    let pattern = HostPattern::parse(&play.hosts)?;
    let mut hosts = inv.select(&pattern);
    if let Some(l) = limit {
        let allowed = inv.select(l);
        hosts.retain(|h| allowed.contains(h));
    }
    let selected = hosts.clone();
    match play.order {
        HostOrder::Inventory => {}
        HostOrder::ReverseInventory => hosts.reverse(),
        HostOrder::Sorted => hosts.sort(),
        HostOrder::ReverseSorted => hosts.sort_by(|a, b| b.cmp(a)),
        HostOrder::Shuffle => shuffle(&mut hosts),
    }
    let full = batches(&play.serial, hosts.len());
    let (mut batches, mut batch_sizes, mut sitting_out) = (Vec::new(), Vec::new(), Vec::new());
    let mut running = Vec::with_capacity(hosts.len());
    for members in full {
        let (size, mut kept, mut sat) = (members.len(), Vec::new(), Vec::new());
        for h in members {
            let name = std::mem::take(&mut hosts[h]);
            if out.contains(&name) {
                sat.push(name);
            } else {
                kept.push(running.len());
                running.push(name);
            }
        }
        if !kept.is_empty() {
            batches.push(kept);
            batch_sizes.push(size);
            sitting_out.push(sat);
        }
    }
    if batches.is_empty() {
        // No host to run (as `batches` gives for none).
        batches.push(Vec::new());
        batch_sizes.push(0);
        sitting_out.push(Vec::new());
    }
    let hosts = running;
    let n = hosts.len();
    let mut batch_of = vec![0; n];
    for (b, members) in batches.iter().enumerate() {
        for &h in members {
            batch_of[h] = b;
        }
    }
    let mut order = Vec::new();
    flatten_steps(&play.program, &mut order);
    order.extend(play.handlers.iter().copied());
    let mut pos = vec![usize::MAX; play.tasks.len()];
    for (p, &t) in order.iter().enumerate() {
        if pos[t] == usize::MAX {
            pos[t] = p;
        }
    }
    let index_of = |name: &str| hosts.iter().position(|h| h == name);
    let floor = earliest_run(play, &order, &pos);
    let mut waits: Vec<Vec<Vec<Wait>>> = vec![Vec::new(); play.tasks.len()];
    let first_pos = order.first().copied();
    for (p, &t) in order.iter().enumerate() {
        let task = &play.tasks[t];
        // A handler runs at a flush after its first notifier: it may wait only for that task
        // and what comes before it (a later setter has not run yet when it flushes there).
        let before = if task.handler { p.min(floor[t].saturating_add(1)) } else { p };
        let mut per_host: Vec<Vec<Wait>> = vec![Vec::new(); n];
        for (h, host_waits) in per_host.iter_mut().enumerate() {
            let batch = batch_of[h];
            let peer = |x: usize| x != h && batch_of[x] == batch;
            if batch > 0 && Some(t) == first_pos {
                host_waits.push(Wait::PrevBatch { batch: batch - 1 });
            }
            if play.strategy == Strategy::Linear && p > 0 && !task.handler {
                host_waits.push(Wait::Batch { pos: p - 1 });
            }
            for read in &task.hostvars_reads {
                let setter = order[..before].iter().rev().find(|&&s| {
                    let d = play.tasks[s].defines();
                    match &read.var {
                        Some(v) => d.contains(v),
                        None => !d.is_empty(),
                    }
                });
                let Some(&setter) = setter else { continue };
                let why = WaitReason::Data(read.var.clone().unwrap_or_else(|| "*".into()));
                let computed = read.group_index.as_ref().and_then(|(g, i)| {
                    let members = inv.group_hosts(g);
                    let at =
                        if *i < 0 { members.len().checked_sub(i.unsigned_abs() as usize) } else { Some(*i as usize) };
                    at.and_then(|k| members.get(k).cloned())
                });
                let targets: Vec<usize> = match read.host.as_ref().or(computed.as_ref()) {
                    Some(name) => index_of(name).into_iter().collect(),
                    None => (0..n).collect(),
                };
                // Another batch's host: an earlier batch has finished the play, a later one
                // has not started (the read finds nothing, as in ansible-core).
                for target in targets.into_iter().filter(|&x| peer(x)) {
                    host_waits.push(Wait::Host { host: target, pos: pos[setter], why: why.clone() });
                }
            }
            if task.run_once || task.bypass_host_loop {
                if let Some(&first) = batches[batch].first() {
                    if first != h {
                        host_waits.push(Wait::Host { host: first, pos: p, why: WaitReason::RunOnce });
                    }
                }
            }
            if let Some(crate::template::Tmpl::Literal(d)) = &task.delegate_to {
                if let Some(target) = index_of(d).filter(|&x| peer(x)) {
                    if before > 0 {
                        host_waits.push(Wait::Host { host: target, pos: before - 1, why: WaitReason::Delegate });
                    }
                }
            }
            host_waits.sort();
            host_waits.dedup();
        }
        if per_host.iter().any(|w| !w.is_empty()) {
            waits[t] = per_host;
        }
    }
    Ok(BoundPlay { play, hosts, hosts_all: selected, batches, batch_sizes, sitting_out, batch_of, pos, order, waits })
}

/// Per task, the first position at which it can run: a task's own; for a handler, its first
/// notifier's (a handler notified by a handler: that one's), `usize::MAX` when nothing
/// notifies it.
fn earliest_run(play: &CompiledPlay, order: &[TaskId], pos: &[usize]) -> Vec<usize> {
    let mut floor: Vec<usize> =
        play.tasks.iter().enumerate().map(|(t, d)| if d.handler { usize::MAX } else { pos[t] }).collect();
    // A templated notify may name any handler.
    let handlers: Vec<TaskId> = play.tasks.iter().filter(|d| d.handler).map(|d| d.id).collect();
    // Handler chains are short; each pass settles at least one more link.
    loop {
        let mut moved = false;
        for &t in order {
            let task = &play.tasks[t];
            let any = if task.notify_templates.is_empty() { &[][..] } else { &handlers[..] };
            for &h in task.notify.iter().chain(any) {
                if floor[t] < floor[h] {
                    floor[h] = floor[t];
                    moved = true;
                }
            }
        }
        if !moved {
            return floor;
        }
    }
}

/// Fisher-Yates with the system's randomness (`order: shuffle`); without it, no change.
fn shuffle(hosts: &mut [String]) {
    for i in (1..hosts.len()).rev() {
        let mut b = [0u8; 8];
        if getrandom::fill(&mut b).is_err() {
            return;
        }
        let j = (u64::from_le_bytes(b) % (i as u64 + 1)) as usize;
        hosts.swap(i, j);
    }
}

fn batches(serial: &[BatchSize], n: usize) -> Vec<Vec<usize>> {
    if serial.is_empty() {
        return vec![(0..n).collect()];
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while start < n {
        let spec = &serial[i.min(serial.len() - 1)];
        let size = match spec {
            BatchSize::Count(c) => *c,
            BatchSize::Percent(p) => ((n as f64) * p / 100.0).floor().max(1.0) as usize,
        }
        .max(1);
        let end = (start + size).min(n);
        out.push((start..end).collect());
        start = end;
        i += 1;
    }
    if out.is_empty() {
        out.push(Vec::new());
    }
    out
}

/// A node of the (task × host) graph of a bound play ([`BoundPlay::graph`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphNode {
    /// Host `host` runs the task at position `pos` of [`BoundPlay::order`].
    Run {
        /// Host index.
        host: usize,
        /// Position.
        pos: usize,
    },
    /// Every host of batch `batch` has passed position `pos` (a `linear` barrier).
    Passed {
        /// Batch index.
        batch: usize,
        /// Position.
        pos: usize,
    },
    /// Every host of batch `batch` has finished the play (`serial`).
    Finished {
        /// Batch index.
        batch: usize,
    },
}

/// What an edge of the graph stands for: its source must be done before its target starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphEdge {
    /// A host's own order.
    Next,
    /// A host reached a barrier, or a barrier lets a host go on.
    Barrier,
    /// A cross-host wait ([`Wait::Host`]).
    Cross,
}

/// Two tasks that wait for each other, each on its host: a play that cannot finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitCycle {
    /// The task that waits (task id, host name).
    pub waiter: (TaskId, String),
    /// The task it waits for, which waits for it in turn.
    pub waited: (TaskId, String),
}

impl BoundPlay<'_> {
    /// The (task × host) graph of the play: a node per position each host passes (handlers
    /// last, as in [`BoundPlay::order`]), a node per `linear` barrier and per `serial` batch
    /// end, and an edge from what must be done to what waits for it.
    pub fn graph(&self) -> petgraph::graph::DiGraph<GraphNode, GraphEdge> {
        use petgraph::graph::{DiGraph, NodeIndex};
        let (n, len) = (self.hosts.len(), self.order.len());
        let mut g = DiGraph::with_capacity(n * len + len * self.batches.len(), n * len * 3);
        // Node of (host, pos) is host * len + pos: added in that order.
        for host in 0..n {
            for pos in 0..len {
                g.add_node(GraphNode::Run { host, pos });
            }
        }
        let run = |host: usize, pos: usize| NodeIndex::new(host * len + pos);
        for host in 0..n {
            for pos in 1..len {
                g.add_edge(run(host, pos - 1), run(host, pos), GraphEdge::Next);
            }
        }
        let mut passed = std::collections::HashMap::new();
        let mut finished = Vec::new();
        for (batch, members) in self.batches.iter().enumerate() {
            let end = g.add_node(GraphNode::Finished { batch });
            if len > 0 {
                for &h in members {
                    g.add_edge(run(h, len - 1), end, GraphEdge::Barrier);
                }
            }
            finished.push(end);
        }
        for (pos, &t) in self.order.iter().enumerate() {
            let Some(per_host) = self.waits.get(t).filter(|w| !w.is_empty()) else { continue };
            for (h, ws) in per_host.iter().enumerate() {
                for w in ws {
                    match *w {
                        Wait::Host { host, pos: at, .. } => {
                            g.add_edge(run(host, at), run(h, pos), GraphEdge::Cross);
                        }
                        Wait::Batch { pos: at } => {
                            let batch = self.batch_of[h];
                            let node = *passed.entry((batch, at)).or_insert_with(|| {
                                let node = g.add_node(GraphNode::Passed { batch, pos: at });
                                for &m in &self.batches[batch] {
                                    g.add_edge(run(m, at), node, GraphEdge::Barrier);
                                }
                                node
                            });
                            g.add_edge(node, run(h, pos), GraphEdge::Barrier);
                        }
                        Wait::PrevBatch { batch } => {
                            g.add_edge(finished[batch], run(h, pos), GraphEdge::Barrier);
                        }
                    }
                }
            }
        }
        g
    }

    /// Checks that no task waits, directly or through others, for itself: a play that would
    /// never end. The waits [`bind`] makes always point back in the play, so this holds for
    /// them; it is checked before anything connects all the same.
    pub fn check_waits(&self) -> Result<(), WaitCycle> {
        if self.waits_point_back() {
            return Ok(());
        }
        let g = self.graph();
        if petgraph::algo::toposort(&g, None).is_ok() {
            return Ok(());
        }
        // The strongly connected components hold the cycles; name two tasks of the first.
        let runs = |c: &[petgraph::graph::NodeIndex]| -> Vec<(usize, usize)> {
            c.iter()
                .filter_map(|&i| match g[i] {
                    GraphNode::Run { host, pos } => Some((host, pos)),
                    _ => None,
                })
                .collect()
        };
        let mut nodes =
            petgraph::algo::tarjan_scc(&g).into_iter().find(|c| c.len() > 1).map(|c| runs(&c)).unwrap_or_default();
        // The latest task of the cycle waits, through the others, for the earliest.
        nodes.sort_by_key(|&(host, pos)| (pos, host));
        let name = |(host, pos): (usize, usize)| (self.order[pos], self.hosts[host].clone());
        match (nodes.first(), nodes.last()) {
            (Some(&first), Some(&last)) => Err(WaitCycle { waiter: name(last), waited: name(first) }),
            // Not reached: a cycle passes through a task of some host.
            _ => Ok(()),
        }
    }

    /// Whether every wait is for a host of the same batch at an earlier position, or for an
    /// earlier batch: then (batch, position) grows along every edge and the graph has no cycle,
    /// found without building it (10,000 hosts × 50 tasks make 1.5 million edges).
    fn waits_point_back(&self) -> bool {
        self.order.iter().enumerate().all(|(pos, &t)| {
            self.waits.get(t).is_none_or(|per_host| {
                per_host.iter().enumerate().all(|(h, ws)| {
                    ws.iter().all(|w| match *w {
                        // Decided when the task is reached: no wait (see the runner).
                        Wait::Host { why: WaitReason::RunOnce, .. } => true,
                        Wait::Host { host, pos: at, .. } => self.batch_of[host] == self.batch_of[h] && at < pos,
                        Wait::Batch { pos: at } => at < pos,
                        Wait::PrevBatch { batch } => batch < self.batch_of[h],
                    })
                })
            })
        })
    }

    /// The stable text form used by `prov graph` and snapshot tests.
    pub fn render(&self, index: usize, out: &mut String) {
        let p = self.play;
        let strategy = match p.strategy {
            Strategy::Dag => "dag",
            Strategy::Free => "free",
            Strategy::Linear => "linear",
        };
        let _ = writeln!(
            out,
            "play {}: {} (hosts: {} -> {} hosts, strategy {})",
            index + 1,
            p.name,
            p.hosts,
            self.hosts.len(),
            strategy
        );
        if self.batches.len() > 1 {
            let sizes: Vec<String> = self.batches.iter().map(|b| b.len().to_string()).collect();
            let _ = writeln!(out, "  serial batches: {}", sizes.join(", "));
        }
        if self.hosts.len() <= 50 {
            let _ = writeln!(out, "  hosts: {}", self.hosts.join(", "));
        }
        self.render_steps(&p.program, 1, out);
        if !p.handlers.is_empty() {
            let _ = writeln!(out, "  handlers:");
            for &h in &p.handlers {
                self.render_task(h, 2, out);
            }
        }
    }

    fn render_steps(&self, steps: &[Step], depth: usize, out: &mut String) {
        let ind = "  ".repeat(depth);
        for s in steps {
            match s {
                Step::Task(t) => self.render_task(*t, depth, out),
                Step::Block { body, rescue, always } => {
                    let _ = writeln!(out, "{ind}block:");
                    self.render_steps(body, depth + 1, out);
                    if !rescue.is_empty() {
                        let _ = writeln!(out, "{ind}rescue:");
                        self.render_steps(rescue, depth + 1, out);
                    }
                    if !always.is_empty() {
                        let _ = writeln!(out, "{ind}always:");
                        self.render_steps(always, depth + 1, out);
                    }
                }
                Step::FlushHandlers => {
                    let _ = writeln!(out, "{ind}flush handlers");
                }
                Step::Role { steps, .. } => self.render_steps(steps, depth, out),
                Step::Include { task, options, .. } => {
                    self.render_task(*task, depth, out);
                    for (path, steps) in options {
                        let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
                        let _ = writeln!(out, "{ind}  file {file}:");
                        self.render_steps(steps, depth + 2, out);
                    }
                }
            }
        }
    }

    fn render_task(&self, t: TaskId, depth: usize, out: &mut String) {
        let ind = "  ".repeat(depth);
        let task = &self.play.tasks[t];
        let mut attrs = Vec::new();
        if !task.tags.is_empty() {
            attrs.push(format!("tags={}", task.tags.iter().cloned().collect::<Vec<_>>().join(",")));
        }
        if task.loop_.is_some() {
            attrs.push("loop".into());
        }
        if !task.when.is_empty() {
            attrs.push("when".into());
        }
        if task.run_once {
            attrs.push("run_once".into());
        }
        if let Some(r) = &task.register {
            attrs.push(format!("register={r}"));
        }
        if !task.notify.is_empty() || !task.notify_templates.is_empty() {
            let mut names: Vec<String> = task.notify.iter().map(|n| format!("t{n}")).collect();
            names.extend(task.notify_templates.iter().map(|(s, _)| format!("`{s}`")));
            attrs.push(format!("notify={}", names.join(",")));
        }
        let attrs = if attrs.is_empty() { String::new() } else { format!(" [{}]", attrs.join(" ")) };
        let _ = writeln!(out, "{ind}t{t} {}: {}{attrs}", task.module, task.name);
        let Some(per_host) = self.waits.get(t).filter(|w| !w.is_empty()) else { return };
        // Group identical wait lists so a 100-host linear play stays readable.
        let mut groups: BTreeMap<Vec<String>, Vec<&str>> = BTreeMap::new();
        for (h, ws) in per_host.iter().enumerate() {
            if ws.is_empty() {
                continue;
            }
            let desc: Vec<String> = ws.iter().map(|w| self.describe(w)).collect();
            groups.entry(desc).or_default().push(&self.hosts[h]);
        }
        for (desc, hosts) in groups {
            let _ = writeln!(out, "{ind}  on {} waits for {}", hosts.join(","), desc.join("; "));
        }
    }

    fn describe(&self, w: &Wait) -> String {
        match w {
            Wait::Host { host, pos, why } => {
                let t = self.order[*pos];
                let why = match why {
                    WaitReason::Data(v) => format!("hostvars .{v}"),
                    WaitReason::RunOnce => "run_once".into(),
                    WaitReason::Delegate => "delegate_to".into(),
                };
                format!("t{t}@{} ({why})", self.hosts[*host])
            }
            Wait::Batch { pos } => format!("t{}@all hosts of its batch (linear)", self.order[*pos]),
            Wait::PrevBatch { batch } => format!("serial batch {} to finish", batch + 1),
        }
    }

    /// Graphviz form: (task × host) nodes, each host's chain, and the cross-host edges.
    pub fn render_dot(&self, index: usize, out: &mut String) {
        let _ = writeln!(out, "  subgraph cluster_play{index} {{");
        let _ = writeln!(out, "    label={:?};", self.play.name);
        let tasks: Vec<TaskId> = self.order.iter().copied().filter(|t| !self.play.tasks[*t].handler).collect();
        for (h, host) in self.hosts.iter().enumerate() {
            for (i, &t) in tasks.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "    \"p{index}t{t}h{h}\" [label={:?}];",
                    format!("{} @ {host}", self.play.tasks[t].name)
                );
                if i > 0 {
                    let _ = writeln!(out, "    \"p{index}t{}h{h}\" -> \"p{index}t{t}h{h}\";", tasks[i - 1]);
                }
            }
        }
        for &t in &tasks {
            for (h, ws) in self.waits[t].iter().enumerate() {
                for w in ws {
                    if let Wait::Host { host, pos, .. } = w {
                        let _ = writeln!(
                            out,
                            "    \"p{index}t{}h{host}\" -> \"p{index}t{t}h{h}\" [style=dashed];",
                            self.order[*pos]
                        );
                    }
                }
            }
        }
        let _ = writeln!(out, "  }}");
    }
}
