# -*- coding: utf-8 -*-
# zc_fake: test scaffolding for the rollout tests (tests/unit/test_rollout_fake.sh).
# The local connection, for a "host" that is a directory (ansible_host = its
# root, see tests/lib/fakehost.sh), which can drop off the network: while the
# file <root>/down exists and holds a time in the future (or "forever"), every
# command fails as if ssh could not connect.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
    name: zc_fake
    short_description: local execution for a fake zc-kernel host that can be unreachable
    description:
      - Runs commands locally, like the local connection, unless <ansible_host>/down
        says the host is down; <ansible_host>/down-on makes it drop off at a given command.
    options:
      remote_addr:
        description: the fake host's root directory
        default: ''
        vars:
          - name: ansible_host
"""

import os
import time

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.connection.local import Connection as LocalConnection


class Connection(LocalConnection):
    transport = "zc_fake"

    def _down(self):
        root = self.get_option("remote_addr") or ""
        f = os.path.join(root, "down")
        try:
            with open(f) as fh:
                until = fh.read().strip()
        except OSError:
            return False
        if until == "forever":
            return True
        try:
            return time.time() < float(until)
        except ValueError:
            return True

    def _connect(self):
        if self._down():
            raise AnsibleConnectionFailure("zc_fake: %s does not answer (down)" % self.get_option("remote_addr"))
        return super(Connection, self)._connect()

    def _drop_on(self, cmd):
        # <root>/down-on: "TEXT SECONDS": the first command containing TEXT
        # finds the host gone for SECONDS (it drops off in the middle of a step)
        root = self.get_option("remote_addr") or ""
        f = os.path.join(root, "down-on")
        try:
            with open(f) as fh:
                text, secs = fh.read().rsplit(None, 1)
        except (OSError, ValueError):
            return
        if text in cmd:
            os.unlink(f)
            with open(os.path.join(root, "down"), "w") as fh:
                fh.write("%f\n" % (time.time() + float(secs)))

    def exec_command(self, cmd, in_data=None, sudoable=True):
        self._drop_on(cmd if isinstance(cmd, str) else repr(cmd))
        if self._down():
            raise AnsibleConnectionFailure("zc_fake: %s does not answer (down)" % self.get_option("remote_addr"))
        return super(Connection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)

    def put_file(self, in_path, out_path):
        if self._down():
            raise AnsibleConnectionFailure("zc_fake: %s does not answer (down)" % self.get_option("remote_addr"))
        return super(Connection, self).put_file(in_path, out_path)
