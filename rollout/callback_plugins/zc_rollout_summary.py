# -*- coding: utf-8 -*-
# zc_rollout_summary: the per-host summary of a zc-kernel rollout, written as
# JSON while the run goes (so an interrupted run, even a killed controller,
# leaves an accurate one), and printed as a table at the end (also when the
# rollout halted).
#
# Each host's record is the fact `zc_rollout`, updated by roles/zc_rollout at
# every step (set_fact results carry it). Hosts of the play that have no
# record were never touched: the rollout halted before their wave.
# Environment:
#   ZC_ROLLOUT_SUMMARY  the JSON (default: rollout-summary.json here)
#   ZC_ROLLOUT_PLAN     the run's plan from scripts/rollout.sh: run id, waves,
#                       hosts skipped (done earlier) or quarantined, the
#                       resume command, a recorded force
#   ZC_ROLLOUT_LEDGER   the fleet's ledger of host verdicts for this kernel:
#                       a pass is skipped by later runs, a fail quarantined
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
    name: zc_rollout_summary
    type: notification
    short_description: per-host table and JSON summary of a zc-kernel rollout
    description:
      - Collects the C(zc_rollout) fact of every host, writes C($ZC_ROLLOUT_SUMMARY)
        (JSON) as the run goes, updates the ledger C($ZC_ROLLOUT_LEDGER), and at the
        end of the playbook (also after a halt) prints a table.
    requirements:
      - enable in ansible.cfg (callbacks_enabled)
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


def _load(path, default):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError, TypeError):
        return default


def _dump(path, data):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
        self.last_write = 0.0
        self.finished = False
        self.path = os.environ.get("ZC_ROLLOUT_SUMMARY", "rollout-summary.json")
        self.plan = _load(os.environ.get("ZC_ROLLOUT_PLAN", ""), {}) if os.environ.get("ZC_ROLLOUT_PLAN") else {}
        self.ledger_path = os.environ.get("ZC_ROLLOUT_LEDGER", "")
        self.ledgered = {}
        self.wave_failure = None

    # --- events ---------------------------------------------------------------------------
    def v2_playbook_on_play_start(self, play):
        # Sent once per serial batch: each is a wave.
        try:
            inv = play.get_variable_manager()._inventory
            everyone = [h.name for h in inv.get_hosts(play.hosts)]
        except Exception:  # pragma: no cover - never break a rollout for a table
            return
        for h in self.plan.get("hosts_left") or everyone:
            if h not in self.hosts:
                self.hosts.append(h)
        self.waves += 1
        self._write(force=True)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._write()

    def _collect(self, result):
        facts = result._result.get("ansible_facts") or {}
        rec = facts.get("zc_rollout")
        if isinstance(rec, dict):
            name = result._host.get_name()
            old = self.records.get(name, {})
            self.records[name] = dict(rec)
            self.wave_of.setdefault(name, self.waves)
            if old.get("verdict") != rec.get("verdict") or old.get("stage") != rec.get("stage"):
                self._ledger(name, rec)
                self._write(force=True)

    def v2_runner_on_ok(self, result):
        self._collect(result)

    def v2_runner_item_on_ok(self, result):
        self._collect(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        # A wave-level step (bake, wave hook, approval: the play's post_tasks,
        # outside any role) that fails halts the rollout after its wave.
        if ignore_errors or result._task._role is not None or self.wave_failure:
            return
        self.wave_failure = "wave %d: %s: %s" % (self.waves, result._task.get_name(),
                                                 " ".join(str(result._result.get("msg", "failed")).split())[:300])
        self._write(force=True)

    def v2_runner_on_unreachable(self, result):
        # The rollout's own tasks ignore unreachable results and check them
        # (so the host is rolled back when it returns); anything else that
        # makes a host leave the play is recorded here.
        if getattr(result._task, "ignore_unreachable", False):
            return
        name = result._host.get_name()
        rec = self.records.setdefault(name, {"host": name, "phases": {}})
        if rec.get("verdict") in (None, "running"):
            rec["verdict"] = "fail"
            rec["failed_stage"] = rec.get("stage")
            rec["needs_human"] = True
            rec["reason"] = ("unreachable in '%s': %s" % (result._task.get_name(), result._result.get("msg", "")))[:400]
            rec["running_kernel"] = "unknown (not reachable)"
            rec["rollback"] = "NEEDS A HUMAN: not attempted, the host is unreachable; its default boot entry should boot %s" % (
                rec.get("known_good") or rec.get("old_kernel") or "its previous kernel")
            self._ledger(name, rec)
            self._write(force=True)

    def v2_playbook_on_stats(self, stats):
        self.finished = True
        summary = self._write(force=True)
        self._table(summary)

    # --- the ledger -----------------------------------------------------------------------
    def _ledger(self, name, rec):
        v = rec.get("verdict")
        if not self.ledger_path or v not in ("pass", "fail") or self.ledgered.get(name) == v:
            return
        try:
            led = _load(self.ledger_path, {})
            hosts = led.setdefault("hosts", {})
            hosts[name] = {"verdict": v, "run_id": self.plan.get("run_id"), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "reason": rec.get("reason"), "needs_human": bool(rec.get("needs_human"))}
            led["target"] = rec.get("target")
            _dump(self.ledger_path, led)
            self.ledgered[name] = v
        except OSError as e:
            self._display.warning("zc_rollout_summary: could not write the ledger %s: %s" % (self.ledger_path, e))

    # --- the summary ----------------------------------------------------------------------
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

    def _summary(self):
        rows = []
        for h in self.hosts or sorted(self.records):
            r = self.records.get(h)
            if r is None:
                rows.append({"host": h, "wave": self.wave_of.get(h), "verdict": "not touched" if self.finished else "pending",
                             "old_kernel": None, "new_kernel": None, "running_kernel": None,
                             "seconds": None, "phases": {},
                             "note": "the rollout halted before this host's wave" if self.finished else "its wave has not started"})
                continue
            verdict = r.get("verdict", "running")
            if verdict == "running" and self.finished:
                verdict = "interrupted"
            phases = {k: self._num(v) for k, v in (r.get("phases") or {}).items()}
            note = r.get("reason", "")
            if r.get("rollback"):
                note = (note + "; " if note else "") + "rollback: " + r["rollback"]
            if verdict in ("interrupted", "running"):
                note = "%s during %s" % (verdict, r.get("stage"))
            note = " ".join(str(note).split())  # one line per host
            rows.append({
                "host": h, "wave": self.wave_of.get(h), "verdict": verdict,
                "old_kernel": r.get("old_kernel"), "old_default": r.get("old_default"), "known_good": r.get("known_good"),
                "new_kernel": r.get("target"),
                "running_kernel": r.get("running_kernel", r.get("old_kernel") if verdict != "pass" else r.get("target")),
                "seconds": self._num(r.get("seconds")), "phases": phases,
                "switch_method": r.get("switch_method"), "boot_loader": r.get("boot_loader"),
                "lockdown": r.get("lockdown"), "secure_boot": r.get("secure_boot"),
                "kdump": {"before": r.get("kdump_before"), "after": r.get("kdump_after")},
                "smoke": self._ints(r.get("smoke")), "failed_stage": r.get("failed_stage"), "note": note,
                "needs_human": bool(r.get("needs_human")),
                "permanent_changes": r.get("permanent_changes") or [],
                "started": r.get("started"),
            })
        for h, why in sorted((self.plan.get("skipped") or {}).items()):
            rows.append({"host": h, "wave": None, "verdict": why.get("verdict", "skipped"), "old_kernel": None,
                         "new_kernel": self.plan.get("krel"), "running_kernel": None, "seconds": None, "phases": {},
                         "note": why.get("note", "")})
        active = [row["verdict"] for row in rows if row["verdict"] not in ("done earlier", "quarantined")]
        verdicts = [row["verdict"] for row in rows]
        halt = None
        if not self.finished:
            overall = "running"
        elif active and all(v == "pass" for v in active):
            overall = "pass" if "quarantined" not in verdicts else "incomplete"
        elif not active and rows:
            overall = "pass" if all(v == "done earlier" for v in verdicts) else "incomplete"
        elif "fail" in verdicts or "interrupted" in verdicts or self.wave_failure:
            overall = "halted"
        else:
            overall = "incomplete"
        failed = [row for row in rows if row["verdict"] == "fail"]
        if failed:
            halt = "; ".join("%s failed (%s): %s" % (row["host"], row.get("failed_stage"), row["note"]) for row in failed)[:1000]
            halt += "; the hosts of later waves were not touched"
        elif self.wave_failure:
            halt = "%s; the hosts of later waves were not touched" % self.wave_failure
        elif "interrupted" in verdicts:
            halt = "the run was interrupted (ansible-playbook stopped) during wave %d" % self.waves
        elif "quarantined" in verdicts:
            halt = "quarantined hosts were left out (clear them with ROLLOUT_CLEAR=<host,...> after repairing them)"
        target = self.plan.get("krel") or next((r.get("target") for r in self.records.values() if r.get("target")), None)
        return {
            "tool": "zc-kernel-rollout", "run_id": self.plan.get("run_id"), "target": target, "verdict": overall,
            "halt_reason": halt, "waves_run": self.waves, "waves_planned": self.plan.get("waves"),
            "seconds": round(time.time() - self.t0, 1),
            "counts": {v: verdicts.count(v) for v in sorted(set(verdicts))},
            "resume": self.plan.get("resume"), "forced": self.plan.get("forced"),
            "needs_human": [row["host"] for row in rows if row.get("needs_human")],
            "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "hosts": rows,
        }

    def _write(self, force=False):
        now = time.time()
        if not force and now - self.last_write < 1.0:
            return None
        self.last_write = now
        summary = self._summary()
        try:
            _dump(self.path, summary)
        except OSError as e:
            self._display.warning("zc_rollout_summary: could not write %s: %s" % (self.path, e))
        return summary

    def _table(self, summary):
        def cell(v):
            return "-" if v is None or v == "" else str(v)

        rows = summary["hosts"]
        fmt = "%-12s %4s %-22s %-22s %-12s %7s %7s %7s %7s %7s %7s  %s"
        lines = ["", "zc-kernel rollout of %s: %s (%d wave(s) run, run %s)" % (
                     cell(summary["target"]), summary["verdict"].upper(), self.waves, cell(summary.get("run_id"))),
                 fmt % ("host", "wave", "old kernel", "new kernel", "verdict", "total_s", "install", "kexec", "back_up", "smoke", "default", "note")]
        for row in rows:
            p = row["phases"]
            lines.append(fmt % (row["host"], cell(row["wave"]), cell(row["old_kernel"]), cell(row["new_kernel"]),
                                row["verdict"], cell(row["seconds"]), cell(p.get("install")), cell(p.get("kexec")),
                                cell(p.get("back_up")), cell(p.get("smoke")), cell(p.get("default")), row["note"]))
        lines.append("(seconds; kexec = load + hand-over, back_up = until ssh answers with a new boot id, "
                     "default = new default boot entry)")
        if summary.get("halt_reason"):
            lines.append("halted: %s" % summary["halt_reason"])
        if summary.get("resume") and summary["verdict"] != "pass":
            lines.append("resume: %s" % summary["resume"])
        lines.append("summary: %s" % self.path)
        for line in lines:
            self._display.display(line)
