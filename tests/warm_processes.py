"""``okr-sync`` commands as real OS processes, forked from an interpreter that has imported okr-sync.

The crash tests kill syncs with SIGKILL at hundreds of points, and every one of those syncs
must be a process of its own: its own pid, memory, file descriptors, sockets, database
sessions and locks, which the kernel (and the PostgreSQL server) clean up behind it as they
would after a power cut. Starting each with ``python -m okr_sync`` spends half a second of
CPU on the interpreter's start-up and the import of okr-sync before it does anything, which
made process start-up the larger part of those tests' time.

A :class:`WarmProcess` is the same kind of process without that half second: a small server
(one per test process, started on first use) imports all of okr-sync and its connectors
once and forks a child per command. The child is a real process as above; it sets its environment, working
directory, stdin (the null device) and stdout/stderr (files, read once it ended) as
``subprocess.Popen`` would, then runs the console script's own entry point
(``okr_sync.cli.main:main`` in click's standalone mode: the same exit codes, the same
messages on stderr) and ends with that exit code. A kill is a real signal to its pid, and
the server reports how it ended (``returncode``: the exit code, or minus the signal).

What a child does not do is start an interpreter: nothing okr-sync does depends on that
(no command reads its environment at import time, none registers exit handlers), and the
tests that are about the installed console script and ``python -m okr_sync`` themselves
(``tests/cli/test_cli.py``) still start them from scratch.

The server forks from its single thread only, never from a test process (whose sandbox
threads would be copied half-way through a request).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: Modules okr-sync imports only inside functions, imported by the server all the same.
CLIENT_MODULES = ("jira", "notion_client", "_strptime")


# --- the server (a process of its own) ------------------------------------------------------


def _child(request: dict[str, Any]) -> int:
    """In the forked child: become the command's process, run it, return its exit code."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        target = os.open(path, os.O_WRONLY | os.O_TRUNC)
        os.dup2(target, fd)
        os.close(target)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    from okr_sync.cli.main import main

    code = 1
    try:
        main(args=request["argv"], prog_name="okr-sync")
        code = 0
    except SystemExit as done:  # how click's standalone mode always ends
        if done.code is None or isinstance(done.code, int):
            code = done.code or 0
        else:
            sys.stderr.write(f"{done.code}\n")
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        # What the interpreter's own exit would do: logging's handlers and stdio flushed.
        import logging

        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
    return code


def _import_everything() -> None:
    """Import every module of okr-sync and its connectors, once, before any fork.

    Commands import most of what they use when they run (a sync its connectors and
    their HTTP clients, the state store its database driver): done in each child,
    those imports cost a sync process about 0.2 s of CPU, as much as the sync itself
    on the demo organisation. Imported here, every child has them from the start.
    """
    import importlib
    import pkgutil

    import connectors
    import okr_sync

    for package in (okr_sync, connectors):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not module.name.endswith(".__main__"):
                importlib.import_module(module.name)
    # What the connectors import only when they connect (the services' client libraries),
    # and what the first datetime.strptime imports.
    for name in CLIENT_MODULES:
        importlib.import_module(name)
    # The Notion clients' TLS context (loading the CA bundle costs ~20 ms of CPU) is
    # built once per process, on first use: built here, every child has it.
    from connectors.notion.client import shared_tls_context

    shared_tls_context()


def serve() -> None:
    """The server's loop: fork a child per request (stdin), report pids and ends (stdout)."""
    import gc

    import okr_sync.cli.main  # noqa: F401  (the import every child is spared)

    _import_everything()
    # What is imported stays: kept out of the collector's sight, a child's collections
    # do not touch (and so copy) the pages it shares with the server.
    gc.freeze()

    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno())
    signal.signal(signal.SIGCHLD, lambda *_: None)
    pending = b""

    def reply(message: dict[str, Any]) -> None:
        os.write(1, json.dumps(message).encode() + b"\n")

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            reply({"pid": pid, "returncode": os.waitstatus_to_exitcode(status)})

    while True:
        with contextlib.suppress(InterruptedError):
            readable, _, _ = select.select([0, wake_r], [], [])
        if wake_r in readable:
            with contextlib.suppress(BlockingIOError):
                while wake_r.recv(4096):
                    pass
        reap()
        if 0 not in readable:
            continue
        chunk = os.read(0, 65536)
        if not chunk:  # the test process is gone: so is the server (children run on)
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                wake_r.close()
                wake_w.close()
                os._exit(_child(request))
            reply({"id": request["id"], "started": pid})


# --- the test process's side ----------------------------------------------------------------


class _Server:
    """The test process's connection to its server: requests out, pids and ends back."""

    def __init__(self) -> None:
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from tests.warm_processes import serve; serve()"],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip
        self.lock = threading.Lock()
        self.changed = threading.Condition()
        self.started: dict[int, int] = {}  # request id -> pid
        self.ended: dict[int, int] = {}  # pid -> returncode
        self.next_id = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            message = json.loads(line)
            with self.changed:
                if "started" in message:
                    # A pid the kernel gives again: what ended under it before is not news.
                    self.ended.pop(message["started"], None)
                    self.started[message["id"]] = message["started"]
                else:
                    self.ended[message["pid"]] = message["returncode"]
                self.changed.notify_all()
        with self.changed:  # the server died: nothing more will come
            self.changed.notify_all()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def start(self, request: dict[str, Any]) -> int:
        assert self.proc.stdin is not None
        with self.lock:
            self.next_id += 1
            ident = request["id"] = self.next_id
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
        with self.changed:
            if not self.changed.wait_for(lambda: ident in self.started or not self.alive, 60):
                raise RuntimeError("the warm process server did not answer")
            if ident not in self.started:
                raise RuntimeError("the warm process server died")
            return self.started.pop(ident)

    def wait(self, pid: int, timeout: float | None) -> int | None:
        with self.changed:
            self.changed.wait_for(lambda: pid in self.ended or not self.alive, timeout)
            return self.ended.pop(pid, None)

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)


_server: _Server | None = None
_server_lock = threading.Lock()


def _the_server() -> _Server:
    global _server
    with _server_lock:
        if _server is None or not _server.alive:
            _server = _Server()
            atexit.register(_server.close)
        return _server


class WarmProcess:
    """One ``okr-sync ARGS`` process, with the part of ``subprocess.Popen``'s API tests use."""

    def __init__(
        self, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        self._server = _the_server()
        folder = Path(tempfile.mkdtemp(prefix="okr-sync-proc-"))
        self._out, self._err = folder / "stdout", folder / "stderr"
        self._out.touch()
        self._err.touch()
        self.args = argv
        self.returncode: int | None = None
        self.pid = self._server.start(
            {
                "argv": argv,
                "env": dict(os.environ if env is None else env),
                "cwd": str(cwd or Path.cwd()),
                "stdout": str(self._out),
                "stderr": str(self._err),
            }
        )

    def poll(self) -> int | None:
        """The exit code (minus the signal that ended it), or None while it runs."""
        if self.returncode is None:
            self.returncode = self._server.wait(self.pid, 0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self._server.wait(self.pid, timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Wait for the end; returns (stdout, stderr) as text."""
        self.wait(timeout)
        out = self._out.read_text(errors="replace")
        err = self._err.read_text(errors="replace")
        folder = self._out.parent
        for path in (self._out, self._err):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            folder.rmdir()
        return out, err


def run(
    argv: list[str], env: dict[str, str] | None = None, timeout: float = 120
) -> tuple[int, str, str]:
    """Run one command to its end; returns (exit code, stdout, stderr)."""
    proc = WarmProcess(argv, env)
    try:
        out, err = proc.communicate(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(30)
        raise
    return proc.wait(), out, err
