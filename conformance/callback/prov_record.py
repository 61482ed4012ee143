# Written for prov's conformance suite: records each task result and the recap of an
# ansible-playbook run as JSON lines in the file named by PROV_RECORD, in the shape of
# `prov apply --output json` (`host_result` and `recap` events), so that both tools' runs
# are read by one parser (conformance/run).
import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: prov_record
    type: aggregate
    short_description: records results as JSON lines for prov's conformance suite
    description: Writes host_result and recap events to the file named by PROV_RECORD.
"""


def _type_name(v):
    """Python's name for a value's type, in the words prov's `fields` uses."""
    if v is None:
        return "null"
    for t, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (dict, "dict")):
        if isinstance(v, t):
            return name
    if isinstance(v, (list, tuple)):
        return "list"
    return "other"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "prov_record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._out = open(os.environ["PROV_RECORD"], "a", encoding="utf-8")

    def _write(self, event):
        self._out.write(json.dumps(event, default=str) + "\n")
        self._out.flush()

    def _result(self, result, status):
        task = result._task
        changed = bool(result._result.get("changed", False))
        if status == "ok" and changed:
            status = "changed"
        self._write(
            {
                "event": "host_result",
                "name": task.get_name(),
                "module": task.action,
                "host": result._host.get_name(),
                "status": status,
                "changed": changed,
                "msg": str(result._result.get("msg", ""))[:300] or None,
                "location": task.get_path() or "",
                "fields": {
                    k: _type_name(v) for k, v in result._result.items() if not k.startswith("_ansible")
                },
            }
        )

    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        hosts = []
        for h in sorted(stats.processed.keys()):
            s = stats.summarize(h)
            hosts.append(
                {
                    "host": h,
                    "ok": s["ok"],
                    "changed": s["changed"],
                    "unreachable": s["unreachable"],
                    "failed": s["failures"],
                    "skipped": s["skipped"],
                    "rescued": s["rescued"],
                    "ignored": s["ignored"],
                }
            )
        self._write({"event": "recap", "hosts": hosts})
