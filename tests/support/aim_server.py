"""A real ``aim server`` on 127.0.0.1 for tests (its own process group, a repo in ``root``)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from support.mlflow_server import free_port
from support.processes import clean_env, stop_process_group


@dataclass
class AimServer:
    """One ``aim server`` process group serving the repo in ``root``."""

    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"aim://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        """Start the server and wait until its port accepts connections.

        Raises:
            RuntimeError: The server exited or did not listen in time (its log in the message).
        """
        self.root.mkdir(parents=True, exist_ok=True)
        aim = Path(sys.executable).parent / "aim"
        log = self.root / "server.log"
        subprocess.run(
            [str(aim), "init", "--repo", str(self.root)],
            env=clean_env(),
            check=True,
            capture_output=True,
        )
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [
                    str(aim),
                    "server",
                    "--repo",
                    str(self.root),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "-y",
                ],
                env=clean_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"aim server did not come up:\n{log.read_text()[-4000:]}")

    def stop(self) -> None:
        """Stop the server's whole process group (SIGTERM, then SIGKILL after 15 s)."""
        if self.process is not None:
            process, self.process = self.process, None
            stop_process_group(process)
