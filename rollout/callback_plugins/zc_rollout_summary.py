# -*- coding: utf-8 -*-
# zc_rollout_summary: the per-host summary of a zc-kernel rollout, printed at
# the end of the run and written as JSON, also when the rollout halted or was
# interrupted (v2_playbook_on_stats is sent whatever happened).
#
# Each host's record is the fact `zc_rollout`, updated by roles/zc_rollout at
# every step (set_fact results carry it). Hosts of the play that have no
# record were never touched: the rollout halted before their wave.
# The JSON goes to $ZC_ROLLOUT_SUMMARY (default: rollout-summary.json in the
# current directory).
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
    name: zc_rollout_summary
    type: notification
    short_description: per-host table and JSON summary of a zc-kernel rollout
    description:
      - Collects the C(zc_rollout) fact of every host and, at the end of the
        playbook (also after a halt), prints a table and writes
        C($ZC_ROLLOUT_SUMMARY) (JSON).
    requirements:
      - enable in ansible.cfg (callbacks_enabled)
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "zc_rollout_summary"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.hosts = []  # every host of the rollout, in wave order
        self.wave_of = {}
        self.waves = 0
        self.records = {}
        self.t0 = time.time()

    def v2_playbook_on_play_start(self, play):
        # Sent once per serial batch: each is a wave.
        try:
            inv = play.get_variable_manager()._inventory
            everyone = [h.name for h in inv.get_hosts(play.hosts, ignore_restrictions=True)]
            batch = [h.name for h in inv.get_hosts(play.hosts)]
        except Exception:  # pragma: no cover - never break a rollout for a table
            return
        for h in everyone:
            if h not in self.hosts:
                self.hosts.append(h)
        self.waves += 1
        for h in batch:
            self.wave_of.setdefault(h, self.waves)

    def _collect(self, result):
        facts = result._result.get("ansible_facts") or {}
        rec = facts.get("zc_rollout")
        if isinstance(rec, dict):
            self.records[result._host.get_name()] = dict(rec)

    def v2_runner_on_ok(self, result):
        self._collect(result)

    def v2_runner_item_on_ok(self, result):
        self._collect(result)

    def v2_runner_on_unreachable(self, result):
        # An unreachable host leaves the play at once, without its rescue:
        # record it here (tasks that expect it have ignore_unreachable).
        if getattr(result._task, "ignore_unreachable", False):
            return
        name = result._host.get_name()
        rec = self.records.setdefault(name, {"host": name, "phases": {}})
        if rec.get("verdict") in (None, "running"):
            rec["verdict"] = "fail"
            rec["failed_stage"] = rec.get("stage")
            rec["reason"] = ("unreachable in '%s': %s" % (result._task.get_name(), result._result.get("msg", "")))[:400]
            rec["running_kernel"] = "unknown (not reachable)"
            rec["rollback"] = "not attempted: the host is unreachable; its default boot entry is unchanged, so a power cycle brings back %s" % (
                rec.get("old_kernel") or "its previous kernel")

    @staticmethod
    def _num(v):
        try:
            return round(float(v), 1)
        except (TypeError, ValueError):
            return None

    @staticmethod
    def _ints(d):
        """zc-smoke's counts arrive as strings (templated facts): numbers again."""
        if not isinstance(d, dict):
            return d
        out = {}
        for k, v in d.items():
            try:
                out[k] = int(v)
            except (TypeError, ValueError):
                out[k] = v
        return out

    def v2_playbook_on_stats(self, stats):
        rows = []
        for h in self.hosts or sorted(self.records):
            r = self.records.get(h)
            if r is None:
                rows.append({"host": h, "wave": self.wave_of.get(h), "verdict": "not touched",
                             "old_kernel": None, "new_kernel": None, "running_kernel": None,
                             "seconds": None, "phases": {},
                             "note": "the rollout halted before this host's wave"})
                continue
            verdict = r.get("verdict", "running")
            if verdict == "running":
                verdict = "interrupted"
            phases = {k: self._num(v) for k, v in (r.get("phases") or {}).items()}
            note = r.get("reason", "")
            if r.get("rollback"):
                note = (note + "; " if note else "") + "rollback: " + r["rollback"]
            if verdict == "interrupted":
                note = "interrupted during " + str(r.get("stage"))
            note = " ".join(str(note).split())  # one line per host
            rows.append({
                "host": h, "wave": self.wave_of.get(h), "verdict": verdict,
                "old_kernel": r.get("old_kernel"), "new_kernel": r.get("target"),
                "running_kernel": r.get("running_kernel", r.get("old_kernel") if verdict != "pass" else r.get("target")),
                "seconds": self._num(r.get("seconds")), "phases": phases,
                "switch_method": r.get("switch_method"), "boot_loader": r.get("boot_loader"),
                "smoke": self._ints(r.get("smoke")), "failed_stage": r.get("failed_stage"), "note": note,
                "started": r.get("started"),
            })
        verdicts = [row["verdict"] for row in rows]
        if rows and all(v == "pass" for v in verdicts):
            overall = "pass"
        elif "fail" in verdicts or "interrupted" in verdicts:
            overall = "halted"
        else:
            overall = "incomplete"
        target = next((r.get("target") for r in self.records.values() if r.get("target")), None)
        summary = {
            "tool": "zc-kernel-rollout", "target": target, "verdict": overall, "waves_run": self.waves,
            "seconds": round(time.time() - self.t0, 1),
            "counts": {v: verdicts.count(v) for v in sorted(set(verdicts))},
            "hosts": rows,
        }
        path = os.environ.get("ZC_ROLLOUT_SUMMARY", "rollout-summary.json")
        try:
            d = os.path.dirname(os.path.abspath(path))
            os.makedirs(d, exist_ok=True)
            with open(path + ".tmp", "w") as f:
                json.dump(summary, f, indent=2)
                f.write("\n")
            os.replace(path + ".tmp", path)
        except OSError as e:
            self._display.warning("zc_rollout_summary: could not write %s: %s" % (path, e))

        def cell(v):
            return "-" if v is None or v == "" else str(v)

        fmt = "%-12s %4s %-16s %-16s %-11s %7s %7s %7s %7s %7s %7s  %s"
        lines = ["", "zc-kernel rollout of %s: %s (%d wave(s) run)" % (cell(target), overall.upper(), self.waves),
                 fmt % ("host", "wave", "old kernel", "new kernel", "verdict", "total_s", "install", "kexec", "back_up", "smoke", "default", "note")]
        for row in rows:
            p = row["phases"]
            lines.append(fmt % (row["host"], cell(row["wave"]), cell(row["old_kernel"]), cell(row["new_kernel"]),
                                row["verdict"], cell(row["seconds"]), cell(p.get("install")), cell(p.get("kexec")),
                                cell(p.get("back_up")), cell(p.get("smoke")), cell(p.get("default")), row["note"]))
        lines.append("(seconds; kexec = load + hand-over, back_up = until ssh answers with a new boot id, "
                     "default = new default boot entry)")
        lines.append("summary: %s" % path)
        for line in lines:
            self._display.display(line)
