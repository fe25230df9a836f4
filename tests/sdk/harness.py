"""Starts the real `sluice` binary for SDK tests: the simulated provider (`sluice
mock-upstream`) and a gateway in front of it, each on a free loopback port found in its log.

The binary is `$SLUICE_BIN`, else `target/debug/sluice` (scripts/test.sh builds it first).
"""

import os
import pathlib
import re
import subprocess
import tempfile
import threading
import time
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on http://([0-9.:\[\]a-z]+)")


def sluice_bin():
    default = ROOT / "target" / "debug" / "sluice"
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        default = pathlib.Path(target) / "debug" / "sluice"
    return os.environ.get("SLUICE_BIN", str(default))


class Proc:
    """A running `sluice` process; `stop()` ends it. `addr` is its `host:port`."""

    def __init__(self, args, cwd=None):
        env = dict(os.environ, RUST_LOG="info")
        for var in ("HOLYSHEEP_API_KEY", "SLUICE_CONFIG"):
            env.pop(var, None)
        self.proc = subprocess.Popen(
            [sluice_bin(), *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log = []
        found = threading.Event()
        self.addr = None

        def read():
            for line in self.proc.stderr:
                self.log.append(line.rstrip("\n"))
                m = LISTENING.search(line)
                if m and self.addr is None:
                    self.addr = m.group(1)
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(30):
            self.stop()
            raise RuntimeError("sluice %s did not start:\n%s" % (args, "\n".join(self.log)))

    @property
    def url(self):
        return "http://" + self.addr

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def mock_upstream():
    """The simulated provider, answering at once (no first-token or inter-token delay)."""
    return Proc(["mock-upstream", "--listen", "127.0.0.1:0", "--ttft", "0ms", "--itl", "0ms"])


class Gateway(Proc):
    """The gateway with `config` (TOML) as its config file, in a directory of its own."""

    def __init__(self, config):
        self.dir = tempfile.TemporaryDirectory()
        path = pathlib.Path(self.dir.name) / "sluice.toml"
        path.write_text(config)
        super().__init__(
            ["serve", "--config", str(path), "--listen", "127.0.0.1:0"], cwd=self.dir.name
        )

    def stop(self):
        super().stop()
        self.dir.cleanup()


def wait_until(what, check, timeout=10.0):
    """Polls `check()` until it returns a true value, which is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


class GatewayCase(unittest.TestCase):
    """A test class with one simulated provider (`cls.mock`) and one gateway in front of it
    (`cls.gateway`), started once for the class. `config(mock_url)` gives the gateway's TOML
    (its ledger is `ledger.db` in the gateway's own directory); `openai` and `anthropic` are
    the official clients pointed at the gateway, which never retry on their own."""

    @classmethod
    def config(cls, mock_url):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.mock = mock_upstream()
        try:
            cls.gateway = Gateway('ledger = "sqlite://ledger.db"\n' + cls.config(cls.mock.url))
        except Exception:
            cls.mock.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()
        cls.mock.stop()

    @classmethod
    def openai(cls):
        import openai

        return openai.OpenAI(base_url=cls.gateway.url + "/v1", api_key="unused", max_retries=0)

    @classmethod
    def anthropic(cls):
        import anthropic

        return anthropic.Anthropic(base_url=cls.gateway.url, api_key="unused", max_retries=0)
