"""A real ``mlflow server`` on 127.0.0.1, for tests: started, stopped and restarted on its port.

The server runs in its own process group (it starts worker processes; signalling only the main
pid would leave them behind), with a sqlite store and a proxied artifact store in ``root``.
Its output goes to ``root/server.log``, quoted when it fails to come up.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from support.processes import clean_env, stop_process_group

#: Environment for MLflow in tests: no telemetry (the network is closed anyway), and the server
#: without its job runner (2 processes instead of 9).
MLFLOW_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MlflowServer:
    """One ``mlflow server`` process group; ``uri`` is what clients use."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"

    def start(self, timeout: float = 120) -> None:
        """Start the server and wait until ``/health`` answers.

        Raises:
            RuntimeError: The server exited or did not answer in time (its log in the message).
        """
        self.root.mkdir(parents=True, exist_ok=True)
        log = self.root / "server.log"
        mlflow = Path(sys.executable).parent / "mlflow"
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [
                    str(mlflow),
                    "server",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    "1",
                    "--backend-store-uri",
                    self.store_uri,
                    "--artifacts-destination",
                    str(self.root / "artifacts"),
                ],
                cwd=self.root,
                env=clean_env(MLFLOW_ENV),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"mlflow server did not come up:\n{log.read_text()[-4000:]}")

    def stop(self) -> None:
        """Stop the server's whole process group (SIGTERM, then SIGKILL after 15 s)."""
        if self.process is not None:
            process, self.process = self.process, None
            stop_process_group(process)
