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
        says the host is down (also when it went down while the command ran).
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

    def exec_command(self, cmd, in_data=None, sudoable=True):
        if self._down():
            raise AnsibleConnectionFailure("zc_fake: %s does not answer (down)" % self.get_option("remote_addr"))
        ret = super(Connection, self).exec_command(cmd, in_data=in_data, sudoable=sudoable)
        # the host went down while the command ran (tests/lib/fakehost/bin/fake
        # .drop-on-<command>): the connection broke, the answer is lost
        if self._down():
            raise AnsibleConnectionFailure("zc_fake: %s dropped the connection" % self.get_option("remote_addr"))
        return ret

    def put_file(self, in_path, out_path):
        if self._down():
            raise AnsibleConnectionFailure("zc_fake: %s does not answer (down)" % self.get_option("remote_addr"))
        return super(Connection, self).put_file(in_path, out_path)
