"""The same services from testcontainers images, used when IFPULSE_TEST_DOCKER=1.

Only for machines whose Docker engine can pull images (eclipse-mosquitto, influxdb:2);
this machine's can't, so the process-based services are the default.
"""

from __future__ import annotations

import os
from typing import Any

MOSQUITTO_IMAGE = "eclipse-mosquitto:2"
INFLUXDB2_IMAGE = "influxdb:2.7"


def docker_wanted() -> bool:
    """True when the user asked for containers."""
    return os.environ.get("IFPULSE_TEST_DOCKER") == "1"


def docker_can_pull(image: str) -> str | None:
    """None if `image` can be had, else the reason it can't."""
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env()
        client.images.pull(image)
    except Exception as exc:  # any failure means: no containers here
        return f"cannot pull {image}: {exc}"
    return None


class DockerMosquitto:
    """eclipse-mosquitto in a container, with the same surface as tests.services.Mosquitto."""

    def __init__(self) -> None:
        from testcontainers.core.container import DockerContainer

        conf = "listener 1883\nallow_anonymous true\nmax_inflight_messages 1000\n"
        self._c: Any = (
            DockerContainer(MOSQUITTO_IMAGE)
            .with_exposed_ports(1883)
            .with_command(["sh", "-c", f"printf '{conf}' > /m.conf && mosquitto -c /m.conf"])
        )
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def url(self) -> str:
        """mqtt:// URL."""
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        """Start the container and learn its mapped port."""
        self._c.start()
        self.host = self._c.get_container_host_ip()
        self.port = int(self._c.get_exposed_port(1883))

    def stop(self) -> None:
        """Remove the container."""
        self._c.stop()


class DockerInfluxdb2:
    """influxdb:2 in a container, set up via env (org, bucket, token)."""

    org = "ifpulse"
    bucket = "ifpulse"
    token = "ifpulse-test-token"

    def __init__(self) -> None:
        from testcontainers.core.container import DockerContainer

        self._c: Any = (
            DockerContainer(INFLUXDB2_IMAGE)
            .with_exposed_ports(8086)
            .with_env("DOCKER_INFLUXDB_INIT_MODE", "setup")
            .with_env("DOCKER_INFLUXDB_INIT_USERNAME", "ifpulse")
            .with_env("DOCKER_INFLUXDB_INIT_PASSWORD", "ifpulse-password")
            .with_env("DOCKER_INFLUXDB_INIT_ORG", self.org)
            .with_env("DOCKER_INFLUXDB_INIT_BUCKET", self.bucket)
            .with_env("DOCKER_INFLUXDB_INIT_ADMIN_TOKEN", self.token)
        )
        self.host = "127.0.0.1"
        self.port = 0

    def store_url(self, database: str) -> str:
        """ifpulse store URL (token passed through IFPULSE_INFLUX_TOKEN by the test)."""
        return f"influxdb://{self.host}:{self.port}/{database}?org={self.org}&api=v2"

    def start(self) -> None:
        """Start the container and learn its mapped port."""
        from testcontainers.core.waiting_utils import wait_for_logs

        self._c.start()
        wait_for_logs(self._c, "Listening", timeout=60)
        self.host = self._c.get_container_host_ip()
        self.port = int(self._c.get_exposed_port(8086))

    def stop(self) -> None:
        """Remove the container."""
        self._c.stop()
