#!/usr/bin/env python3
"""prov against ansible-core, pyinfra and a floor, on the same loopback hosts, in one run.

Started by bench/run (which prepares the venv and builds prov). For each N it starts N
local SSH hosts (prov-lab: one private sshd per 127.0.1.K), generates the same 10-task job
for every tool, runs each tool's first run (from a clean state) and no-change run `--runs`
times, and writes medians and ratios to bench/RESULTS.md. Everything started is stopped
by pid; traffic goes only to 127.0.0.0/8.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

TEMPLATE = "# {{ inventory_hostname }}\nname=demo\nport=8080\n"

PLAYBOOK = """- hosts: lab
  gather_facts: false
  tasks:
    - name: directory
      file: {path: "{{ host_root }}/app", state: directory, mode: "0755"}
    - name: motd
      copy: {content: "managed by the benchmark\\n", dest: "{{ host_root }}/app/motd"}
    - name: config
      template: {src: app.conf.j2, dest: "{{ host_root }}/app/app.conf"}
      notify: restart
    - name: users
      lineinfile: {path: "{{ host_root }}/app/users", line: "user=alice", create: true}
    - name: initialise once
      command: touch {{ host_root }}/app/initialised
      args: {creates: "{{ host_root }}/app/initialised"}
    - name: count lines
      shell: wc -l < {{ host_root }}/app/motd
      changed_when: false
    - name: stat config
      stat: {path: "{{ host_root }}/app/app.conf"}
      register: st
    - name: remember size
      set_fact: {conf_size: "{{ st.stat.size }}"}
    - name: no scratch dir
      file: {path: "{{ host_root }}/app/scratch", state: absent}
    - name: report
      debug: {msg: "config is {{ conf_size }} bytes"}
  handlers:
    - name: restart
      command: touch {{ host_root }}/app/restarted
"""

PYINFRA_DEPLOY = '''
from io import StringIO
from pyinfra import host
from pyinfra.operations import files, server
from pyinfra.facts.files import File

root = host.data.host_root
files.directory(name="directory", path=f"{root}/app", mode="755")
files.put(name="motd", src=StringIO("managed by the benchmark\\n"), dest=f"{root}/app/motd")
conf = files.template(name="config", src="app.conf.j2", dest=f"{root}/app/app.conf", inventory_hostname=host.name)
files.line(name="users", path=f"{root}/app/users", line="user=alice")
server.shell(name="initialise once", commands=[f"test -e {root}/app/initialised || touch {root}/app/initialised"])
server.shell(name="count lines", commands=[f"wc -l < {root}/app/motd"])
size = (host.get_fact(File, path=f"{root}/app/app.conf") or {}).get("size")
files.directory(name="no scratch dir", path=f"{root}/app/scratch", present=False)
server.shell(name="restart", commands=[f"touch {root}/app/restarted"], _if=conf.did_change)
'''

FLOOR_SCRIPT = """set -e
R="$1"
mkdir -p "$R/app"; chmod 755 "$R/app"
printf 'managed by the benchmark\\n' > "$R/app/motd.tmp" && mv "$R/app/motd.tmp" "$R/app/motd"
printf '# h\\nname=demo\\nport=8080\\n' > "$R/app/app.conf.tmp" && mv "$R/app/app.conf.tmp" "$R/app/app.conf"
grep -qx 'user=alice' "$R/app/users" 2>/dev/null || echo user=alice >> "$R/app/users"
[ -e "$R/app/initialised" ] || touch "$R/app/initialised"
wc -l < "$R/app/motd" >/dev/null
stat -c %s "$R/app/app.conf" >/dev/null
rm -rf "$R/app/scratch"
"""


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


class Lab:
    """N hosts from prov-lab; stopped by closing its stdin (then killed by pid)."""

    def __init__(self, n, prov_lab, workdir):
        self.dir = Path(workdir) / f"lab{n}"
        self.proc = subprocess.Popen([str(prov_lab), str(n), str(self.dir)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline()
        if "hosts up" not in first:
            raise SystemExit(f"prov-lab failed: {first}{self.proc.stderr.read()}")
        self.inventory = self.dir / "hosts.ini"
        self.known_hosts = self.dir / "known_hosts"
        self.hosts = []
        for line in self.inventory.read_text().splitlines()[1:]:
            f = dict(kv.split("=", 1) for kv in line.split()[1:])
            self.hosts.append((line.split()[0], f))

    def reset(self):
        for _, f in self.hosts:
            shutil.rmtree(Path(f["host_root"]) / "app", ignore_errors=True)

    def stop(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=20)
        except Exception:
            self.proc.kill()


# Runs a command in a fresh process, so CPU and peak RSS are that command's (and its children's) alone.
WRAP = ("import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:]).returncode\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print('BENCH', u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr)\n"
        "sys.exit(r)\n")


def measure(cmd, cwd, env=None):
    """Runs cmd; returns (wall s, controller CPU s of it and its children, peak RSS MiB, output)."""
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-c", WRAP, *map(str, cmd)], cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-2000:]}")
    rss, cpu = 0.0, 0.0
    for line in p.stderr.splitlines():
        if line.startswith("BENCH "):
            _, r, c = line.split()
            rss, cpu = int(r) / 1024.0, float(c)
    return wall, cpu, rss, p.stdout


def write_job(work, lab, n):
    job = Path(work) / f"job{n}"
    (job / "templates").mkdir(parents=True, exist_ok=True)
    (job / "site.yml").write_text(PLAYBOOK)
    (job / "app.conf.j2").write_text(TEMPLATE)
    (job / "templates" / "app.conf.j2").write_text(TEMPLATE)
    shutil.copy(lab.inventory, job / "hosts.ini")
    # Ansible: forks = N, pipelining, ControlPersist, host keys checked against the lab's file.
    (job / "ansible.cfg").write_text(
        "[defaults]\nforks = %d\nhost_key_checking = True\nretry_files_enabled = False\n"
        "interpreter_python = /usr/bin/python3\n[ssh_connection]\npipelining = True\n"
        "ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=%s\n"
        "control_path_dir = %s\n" % (n, lab.known_hosts, job / "cp"))
    (job / "deploy.py").write_text(PYINFRA_DEPLOY)
    rows = []
    for name, f in lab.hosts:
        rows.append(f"    ({name!r}, {{'ssh_hostname': {f['ansible_host']!r}, 'ssh_port': {int(f['ansible_port'])}, "
                    f"'ssh_user': {f['ansible_user']!r}, 'ssh_key': {f['ansible_ssh_private_key_file']!r}, "
                    f"'ssh_known_hosts_file': {str(lab.known_hosts)!r}, 'host_root': {f['host_root']!r}}}),")
    (job / "inventory.py").write_text("lab = [\n" + "\n".join(rows) + "\n]\n")
    (job / "floor.sh").write_text(FLOOR_SCRIPT)
    return job


def floor_cmd(lab, job):
    """One OpenSSH connection per host, all at once, running the same shell steps."""
    script = job / "floor-all.sh"
    lines = ["#!/bin/sh", "pids="]
    for _, f in lab.hosts:
        lines.append(
            f"ssh -q -o BatchMode=yes -o UserKnownHostsFile={lab.known_hosts} -i {f['ansible_ssh_private_key_file']} "
            f"-p {f['ansible_port']} {f['ansible_user']}@{f['ansible_host']} sh -s -- {f['host_root']} < {job}/floor.sh & pids=\"$pids $!\"")
    lines.append('for p in $pids; do wait $p || exit 1; done')
    script.write_text("\n".join(lines) + "\n")
    script.chmod(0o755)
    return [str(script)]


def stop_control_masters(job):
    cp = job / "cp"
    if cp.exists():
        for sock in cp.iterdir():
            subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", default="10,50,200")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tools", default="prov,pyinfra,ansible,floor")
    ap.add_argument("--prov", required=True)
    ap.add_argument("--prov-lab", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--graph-hosts", type=int, default=10000, help="hosts for the `prov graph` compile-time run (0: skip)")
    a = ap.parse_args()
    a.prov = str(Path(a.prov).resolve())
    a.prov_lab = str(Path(a.prov_lab).resolve())
    venv = Path(a.venv).resolve()
    tools = a.tools.split(",")
    env = dict(os.environ, PATH=f"{venv / 'bin'}:{os.environ['PATH']}", ANSIBLE_NOCOLOR="1", NO_COLOR="1")
    results = {}
    work = tempfile.mkdtemp(prefix="prov-bench-")
    try:
        for n in [int(x) for x in a.hosts.split(",")]:
            lab = Lab(n, a.prov_lab, work)
            try:
                job = write_job(work, lab, n)
                cmds = {
                    "prov": [a.prov, "apply", "site.yml", "-i", "hosts.ini", "--known-hosts", str(lab.known_hosts), "-f", str(max(n, 1))],
                    "ansible": [str(venv / "bin" / "ansible-playbook"), "-i", "hosts.ini", "site.yml"],
                    "pyinfra": [str(venv / "bin" / "pyinfra"), "-y", "--parallel", str(n), "inventory.py", "deploy.py"],
                    "floor": floor_cmd(lab, job),
                }
                for tool in tools:
                    for phase in ("first", "again"):
                        samples = []
                        for _ in range(a.runs):
                            # Clean hosts and no leftover OpenSSH masters (they would skip handshakes).
                            lab.reset()
                            stop_control_masters(job)
                            if phase == "again":
                                measure(cmds[tool], job, env)
                                stop_control_masters(job)
                            samples.append(measure(cmds[tool], job, env)[:3])
                            stop_control_masters(job)
                        walls = [s[0] for s in samples]
                        results[(n, tool, phase)] = (statistics.median(walls), statistics.median(s[1] for s in samples),
                                                     max(s[2] for s in samples))
                        w, c, r = results[(n, tool, phase)]
                        print(f"N={n:<4} {tool:<8} {phase:<5} {w:8.2f} s  {1000 * w / (n * 10):7.1f} ms/task-host  "
                              f"cpu {c:7.2f} s  rss {r:6.0f} MiB", flush=True)
            finally:
                lab.stop()
        graph = graph_time(a.prov, work, a.graph_hosts, 50) if a.graph_hosts else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_results(a.out, results, tools, a.runs, graph)


def graph_time(prov, work, hosts, tasks):
    """`prov graph` (parse, compile, bind; no connection) for hosts x tasks: median of 3."""
    d = Path(work) / "graph"
    d.mkdir(exist_ok=True)
    (d / "hosts.ini").write_text("[lab]\n" + "".join(f"h{i} host_root=/srv/h{i}\n" for i in range(hosts)))
    steps = "".join(f"    - name: t{i}\n      file: {{path: \"{{{{ host_root }}}}/d{i}\", state: directory}}\n" for i in range(tasks))
    (d / "site.yml").write_text("- hosts: lab\n  gather_facts: false\n  tasks:\n" + steps)
    walls = []
    for _ in range(3):
        wall, _, rss, _ = measure([prov, "graph", "site.yml", "-i", "hosts.ini"], d)
        walls.append((wall, rss))
    wall, rss = sorted(walls)[1]
    print(f"prov graph {hosts} hosts x {tasks} tasks: {wall:.2f} s, rss {rss:.0f} MiB", flush=True)
    return hosts, tasks, wall, rss


def write_results(out, results, tools, runs, graph=None):
    load = os.getloadavg()
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {os.cpu_count()} cores, load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at the end; "
        f"medians of {runs} run(s); the same 10-task job (plus a handler) on N loopback hosts, one private sshd each "
        "(`SetEnv SHLVL=1`). `first` starts from a clean state, `again` is the no-change run. CPU is the controller "
        "process and its children; peak RSS is the largest single process among them (ansible's forks are "
        "separate processes, so its whole tree uses more).",
        "",
        "| N | tool | run | wall s | ms/task-host | CPU s | peak RSS MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for (n, tool, phase), (w, c, r) in sorted(results.items()):
        lines.append(f"| {n} | {tool} | {phase} | {w:.2f} | {1000 * w / (n * 10):.1f} | {c:.2f} | {r:.0f} |")
    lines += ["", "| N | run | prov/ansible | prov/pyinfra | prov/floor |", "|---|---|---|---|---|"]
    for (n, tool, phase), (w, _, _) in sorted(results.items()):
        if tool != "prov":
            continue
        def ratio(other):
            o = results.get((n, other, phase))
            return f"{w / o[0]:.3f} ({o[0] / w:.1f}x)" if o else "-"
        lines.append(f"| {n} | {phase} | {ratio('ansible')} | {ratio('pyinfra')} | {ratio('floor')} |")
    if graph:
        h, t, w, r = graph
        lines += ["", f"`prov graph` for {h} hosts x {t} tasks (parse, compile, bind; no connection): {w:.2f} s, "
                      f"peak RSS {r:.0f} MiB (median of 3)."]
    Path(out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
