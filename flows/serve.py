"""The Prefect servers newsflow runs for itself: `newsflow serve`'s, which
serves the scheduled deployments on this machine, and a one-off command's.

With ``PREFECT_API_URL`` set, the deployments of ``flows/deployments.py`` are
served against that Prefect server.  Without it, a Prefect server is started
for the user first — ``prefect server start`` on 127.0.0.1, its state
(SQLite database, log) under ``<NEWSFLOW_DATA_DIR>/prefect`` so that the run
history survives a restart — and stopped again on exit.  Ctrl-C and SIGTERM
stop serving (a flow run still going is cancelled, the schedules are paused
until the next ``newsflow serve``) and then the server.  On start it installs
newsflow's automations (flows/automations.py) and has its flow runs send
heartbeats, which the zombie-run automation watches.

The one-off commands (`newsflow ingest`, `newsflow demo`) use
``TemporaryApi``: a temporary server like the one Prefect would start by
itself when the flow begins, launched at the start of the command instead.
Both servers are ``prefect server start`` with documented options and
settings only.

Prefect is imported inside the functions: importing this module is cheap and
leaves Prefect's environment-driven settings to the caller.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flows.automations import HEARTBEAT_SECONDS

if TYPE_CHECKING:
    import httpx

#: The port Prefect's documentation uses; taken when free, so that the UI has
#: the same address from one ``newsflow serve`` to the next.
DEFAULT_PORT = 4200
HEALTH_TIMEOUT = 120.0  # seconds: the first start migrates a new SQLite database
STOP_TIMEOUT = 20.0


class ServeError(RuntimeError):
    """The Prefect server could not be started or reached."""


@dataclass
class LocalServer:
    """A ``prefect server start`` child process."""

    process: subprocess.Popen
    api_url: str
    ui_url: str | None
    home: Path | None
    log_path: Path | None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL for whatever of its process group is left."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # The server runs in its own session (see _launch): its
        # children (uvicorn, services) go with its process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)


def _port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = DEFAULT_PORT, host: str = "127.0.0.1") -> int:
    """``preferred`` when nothing listens there, otherwise a port the kernel
    picks."""
    if preferred and _port_is_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def prefect_executable() -> str:
    """The ``prefect`` script beside this Python, so that the server is the
    same Prefect version as the client."""
    candidate = Path(sys.executable).with_name("prefect")
    return str(candidate) if candidate.exists() else "prefect"


def server_healthy(api_url: str, timeout: float = 2.0, client: httpx.Client | None = None) -> bool:
    import httpx

    url = f"{api_url.rstrip('/')}/health"
    try:
        response = client.get(url, timeout=timeout) if client else httpx.get(url, timeout=timeout, trust_env=False)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def wait_until_healthy(
    api_url: str, *, timeout: float = HEALTH_TIMEOUT, process: subprocess.Popen | None = None,
    log_path: Path | None = None,
) -> None:
    """Poll ``<api_url>/health`` until it answers 200; raise ServeError when
    ``process`` exits first or ``timeout`` passes."""
    import httpx

    deadline = time.monotonic() + timeout
    # One client for the polls (each new one reads the CA bundle again), and
    # short intervals: a command's flow run waits for this answer.
    with httpx.Client(trust_env=False) as client:
        while True:
            if server_healthy(api_url, client=client):
                return
            if process is not None and process.poll() is not None:
                raise ServeError(
                    f"the Prefect server exited with status {process.returncode} before it was healthy"
                    + _log_tail(log_path)
                )
            if time.monotonic() > deadline:
                raise ServeError(
                    f"the Prefect server at {api_url} was not healthy after {timeout:.0f} s" + _log_tail(log_path)
                )
            time.sleep(0.1)


def _log_tail(log_path: Path | None, lines: int = 15) -> str:
    if log_path is None or not log_path.exists():
        return ""
    tail = log_path.read_text(errors="replace").splitlines()[-lines:]
    return f"; the end of {log_path}:\n" + "\n".join(tail)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the server gets SIGTERM when `newsflow serve` dies without
    cleaning up (SIGKILL), instead of living on unattended."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _launch(command: list[str], env: dict[str, str], stdout=None, stderr=None) -> subprocess.Popen:
    """A Prefect server process, its output where ``stdout`` and ``stderr``
    say (ours for None).  In its own session: Ctrl-C in the terminal reaches
    newsflow only, which stops what it runs first and the server after.  It
    dies with newsflow (Linux)."""
    return subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
        start_new_session=True, preexec_fn=_die_with_parent,
    )


def start_local_server(home: Path, *, port: int | None = None, timeout: float = HEALTH_TIMEOUT) -> LocalServer:
    """Start ``prefect server start`` on 127.0.0.1 with ``PREFECT_HOME=home``
    and wait until it is healthy.  The caller stops it (``LocalServer.stop``)."""
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    api_url = f"http://127.0.0.1:{port}/api"
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_UI_ENABLED="true",
        # The API the UI's pages call: left unset, it is port 4200's, and on
        # any other port the UI showed "Can't connect to Server API".
        PREFECT_UI_API_URL=api_url,
        # The log goes to a file: warnings and errors are worth keeping there.
        PREFECT_LOGGING_SERVER_LEVEL="WARNING",
    )
    log_path = home / "server.log"
    with open(log_path, "ab") as log:
        process = _launch(
            [prefect_executable(), "server", "start", "--host", "127.0.0.1", "--port", str(port)], env,
            stdout=log, stderr=subprocess.STDOUT,
        )
    server = LocalServer(process, api_url, f"http://127.0.0.1:{port}", home, log_path)
    try:
        wait_until_healthy(api_url, timeout=timeout, process=process, log_path=log_path)
    except BaseException:
        server.stop()
        raise
    return server


#: The server services only a standing server needs (schedules, late runs,
#: workers, leases, cancellations, pauses), by their settings
#: (``PREFECT_SERVER_SERVICES_<NAME>_ENABLED`` in Prefect's settings
#: reference).  A one-off command's server leaves them out, as the temporary
#: server Prefect starts by itself does: it records the command's own runs
#: (task runs, events, logs) and is gone when the command ends.
STANDING_SERVER_SERVICES = (
    "SCHEDULER", "LATE_RUNS", "FOREMAN", "REPOSSESSOR", "CANCELLATION_CLEANUP",
    "PAUSE_EXPIRATIONS", "CLEANUP_RECONCILER",
)


def launch_temporary_server(port: int | None = None) -> LocalServer:
    """A temporary API server for this process's flow runs, like the one
    Prefect starts by itself when no API is configured: ``prefect server
    start`` on 127.0.0.1 with no UI and no schedule services, its state under
    Prefect's home (PREFECT_HOME); launched without waiting for it to be
    healthy.  Its errors reach our stderr; its banner is dropped (stdout is
    the command's, and may be JSON)."""
    port = port or free_port(None)
    env = dict(os.environ)
    env.update({f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false" for name in STANDING_SERVER_SERVICES})
    # Its telemetry would write to the new SQLite database while the server
    # migrates it (an error on our stderr), and reports to Prefect for a
    # server that lives for one command.
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    process = _launch(
        [prefect_executable(), "server", "start", "--host", "127.0.0.1", "--port", str(port),
         "--no-ui", "--log-level", "ERROR"],
        env, stdout=subprocess.DEVNULL,
    )
    return LocalServer(process, f"http://127.0.0.1:{port}/api", None, None, None)


class TemporaryApi:
    """A temporary Prefect server for this process's flow runs, started early.

    Prefect starts its own only when the first flow run begins and then waits
    for it (about 8 s: the server imports all of Prefect's API).  Launched at the
    start of a command, its start-up overlaps the command's own imports, the
    database check and the workers' warm-up.  Nothing is started when an API
    is configured (PREFECT_API_URL, in the environment or a Prefect profile).
    """

    def __init__(self) -> None:
        # Launched before Prefect's settings are read: importing them takes
        # half a second, and the server's own start-up is what the flow run
        # waits for.  An API configured elsewhere than in the environment (a
        # Prefect profile, prefect.toml) is found then, and the server stopped.
        self.server = None if os.environ.get("PREFECT_API_URL") else launch_temporary_server()
        from prefect.settings import get_current_settings

        settings = get_current_settings()
        self.timeout = float(settings.server.ephemeral.startup_timeout_seconds)
        if settings.api.url and self.server is not None:
            self.server.stop(timeout=5)
            self.server = None
        if self.server is not None:
            # At exit, as Prefect does with its own: its log and event workers
            # send what is left first (they drain before atexit handlers run).
            atexit.register(self.stop)

    @contextlib.contextmanager
    def in_use(self) -> Iterator[None]:
        """Flow runs inside this block use the temporary server, once healthy."""
        if self.server is None:
            yield
            return
        from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

        wait_until_healthy(self.server.api_url, timeout=self.timeout, process=self.server.process)
        # In the environment too, for the rest of the process: threads Prefect
        # starts read their settings from it.  No UI URL: the server has no UI
        # and is gone when the command ends.  No flow-run heartbeats
        # (PREFECT_FLOWS_HEARTBEAT_FREQUENCY unset): they tell a long-lived
        # server that a run crashed, and this one ends with the run; the
        # heartbeat thread sleeps in 1 s steps and held every run's end for
        # up to a second.
        os.environ.update(PREFECT_API_URL=self.server.api_url, PREFECT_UI_URL="")
        with temporary_settings(updates={PREFECT_API_URL: self.server.api_url, PREFECT_UI_URL: "",
                                         "flows.heartbeat_frequency": None}):
            yield

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(timeout=5)
            self.server = None


@contextlib.contextmanager
def _sigterm_as_keyboard_interrupt() -> Iterator[None]:
    """Until Prefect's runner installs its own SIGTERM handler, SIGTERM ends
    `newsflow serve` the way Ctrl-C does (so that `finally` blocks run)."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print(message: str) -> None:
    print(message, flush=True)


def _serve(api_url: str, ui_url: str | None) -> None:
    """Serve every deployment against ``api_url`` until Ctrl-C / SIGTERM."""
    # Flow runs are child processes: they inherit the environment as well as
    # the settings below.
    os.environ["PREFECT_API_URL"] = api_url
    if ui_url:
        os.environ["PREFECT_UI_URL"] = ui_url
    # Heartbeats let the zombie-run automation mark a run whose process died
    # as Crashed; without them such a run stays Running for ever.
    os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", str(HEARTBEAT_SECONDS))

    import prefect
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

    from flows.deployments import deployments

    updates = {PREFECT_API_URL: api_url}
    if ui_url:
        updates[PREFECT_UI_URL] = ui_url
    with temporary_settings(updates=updates):
        _install_automations()
        # Returns on Ctrl-C (KeyboardInterrupt) and SIGTERM (the runner's own
        # handler): in-flight runs are cancelled and the schedules paused.
        prefect.serve(*deployments())


def _install_automations() -> None:
    """newsflow's automations on the server, created or updated; a failure is
    reported and serving goes on (the schedules matter more)."""
    from flows.automations import AutomationsError, describe, install_automations
    from flows.terminal import printable
    from pipeline.config import get_settings

    settings = get_settings()
    try:
        changes = install_automations(
            notification_block=settings.notification_block, feed_alert_failures=settings.feed_alert_failures,
        )
    except AutomationsError as exc:
        print(f"newsflow serve: automations not installed: {printable(exc)}", file=sys.stderr, flush=True)
        return
    for change in changes:
        _print(f"Automation {describe(change)}")


def serve_deployments(*, port: int | None = None) -> None:
    """Serve the deployments of ``flows/deployments.py`` until Ctrl-C or
    SIGTERM; with ``PREFECT_API_URL`` unset, on a Prefect server started for
    the purpose (on ``port``, or 4200 when free, or any free port)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    api_url = os.environ.get("PREFECT_API_URL")
    if api_url:
        if not server_healthy(api_url, timeout=10):
            raise ServeError(f"no healthy Prefect server at PREFECT_API_URL={api_url}")
        _print(f"Serving against the Prefect server at {api_url}")
        with contextlib.suppress(KeyboardInterrupt), _sigterm_as_keyboard_interrupt():
            _serve(api_url, os.environ.get("PREFECT_UI_URL"))
        return

    from pipeline.config import get_settings

    home = get_settings().data_dir / "prefect"
    server: LocalServer | None = None
    try:
        with _sigterm_as_keyboard_interrupt():
            _print(f"Starting a local Prefect server (PREFECT_HOME={home}) ...")
            started = time.monotonic()
            server = start_local_server(home, port=port)
            _print(
                f"Prefect server ready after {time.monotonic() - started:.1f} s\n"
                f"  UI:  {server.ui_url}\n"
                f"  API: {server.api_url}   (export PREFECT_API_URL={server.api_url} in another shell)\n"
                f"  log: {server.log_path}"
            )
            _serve(server.api_url, server.ui_url)
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            with contextlib.suppress(KeyboardInterrupt), _sigterm_as_keyboard_interrupt():
                _print("Stopping the local Prefect server ...")
                server.stop()
                _print("Prefect server stopped.")


def serve(
    port: Annotated[
        int | None,
        typer.Option(help="Port for the local Prefect server (default: 4200 when free, else any free port)."),
    ] = None,
) -> None:
    """Serve the scheduled deployments (ingest every 30 minutes, maintenance
    nightly) until Ctrl-C or SIGTERM.

    Uses the Prefect server at PREFECT_API_URL; without it, starts a local one
    (UI and API on 127.0.0.1, state under the newsflow data directory) and
    stops it on exit.  Trigger a run by hand with
    `prefect deployment run 'ingest/served' --watch` or the UI's "Run".
    Stopping pauses the schedules of these deployments (named `served`), not
    those of the work pool (prefect.yaml, named `scheduled`).
    """
    from flows.terminal import printable

    try:
        serve_deployments(port=port)
    except ServeError as exc:
        # The message may end with the server's log, which is not ours to trust.
        print(f"newsflow serve: {printable(exc)}", file=sys.stderr)
        raise typer.Exit(2) from None
