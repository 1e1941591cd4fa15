"""The settings a grading kernel's sandbox is built from, as a typed record.

The grader writes one :class:`SandboxConfig` per kernel as a JSON file and names it on
the kernel's command line (``--sandbox PATH``); :mod:`autograder.sandbox_kernel` reads it
before any student code runs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

SANDBOX_ARG = "--sandbox"


@dataclass(frozen=True)
class SandboxConfig:
    workdir: str  # the kernel's private working folder (its HOME too)
    status_file: str  # what was achieved is written here before student code runs
    hide: list[str] = field(default_factory=list)  # fallback: covered by an empty tmpfs or /dev/null
    needed: list[str] = field(default_factory=list)  # fallback: must stay reachable (the Python installation)
    uid: int | None = None  # switch to this uid/gid (as root)
    gid: int | None = None
    limits: dict[str, int] = field(default_factory=dict)  # resource limits by RLIMIT_ name
    # deny by default: the kernel's root is an empty tmpfs built in ``stage`` (an empty
    # folder of the grader's) with only these paths bound; ``hide``/``needed`` are the
    # fallback where that cannot be done
    stage: str = ""
    read_only: list[str] = field(default_factory=list)  # bound read-only at the same path
    writable: list[str] = field(default_factory=list)  # bound read-write (the working folder)
    tmp_mb: int = 512  # size of each private tmpfs: /tmp, /var/tmp, /dev/shm
    cgroup: dict | None = None  # sandbox_cgroup.JobCgroup.as_dict(): joined before anything else
    memory_mb: int = 0  # the --memory-mb the RSS watchdog enforces (for the status)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")

    @classmethod
    def read(cls, path: str | Path) -> SandboxConfig:
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))
