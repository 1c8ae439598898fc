"""`ifpulse publish`: parse options, assemble the publisher, run it."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from publisher.alerts import AlertEvaluator, AlertPublisher, Override, Thresholds
from publisher.collect import Collector, InterfaceFilter, link_notices
from publisher.ha import HaSettings, HomeAssistantDiscovery
from publisher.ha_keys import IfaceInfos
from publisher.mqtt import LinkOptions, MqttLink
from publisher.service import LoopOptions, Publisher, Transport
from publisher.settings import PublisherSettings, load_settings
from publisher.spool import Spool, SpoolBusyError
from publisher.status import VERSION, host_status
from schemas import HostState, InterfaceSample, TopicScheme

log = logging.getLogger("publisher")

EPILOG = """\
Every option is also an environment variable IFPULSE_<OPTION> (--proc-root = IFPULSE_PROC_ROOT)
and a key of the TOML file given by --config / IFPULSE_CONFIG (proc_root = "/host/proc").
Flags win over the environment, which wins over the file. Lists (--include, --exclude) take
globs separated by commas or repeated flags. The MQTT password is never a flag: use
--password-file or IFPULSE_PASSWORD.

Exit status: 0 on success (and with --once when everything was delivered), 1 with --once when
samples stay undelivered, 2 on a usage or configuration error.
"""

# (flag, help, argparse extras); the destination is the settings field of the same name.
OPTIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("--broker", "broker URL, mqtt://host:1883 or mqtts://host:8883", {"metavar": "URL"}),
    ("--host-id", "this host's id in topics and payloads (default: short hostname)", {}),
    ("--interval", "seconds between collections, >= 0.1 (default 10)", {"type": float}),
    ("--proc-root", "where /proc is mounted (default /proc)", {"metavar": "DIR"}),
    ("--sys-root", "where /sys is mounted (default /sys)", {"metavar": "DIR"}),
    ("--include", "only interfaces matching these globs (default: all)", {"action": "append"}),
    ("--exclude", "skip interfaces matching these globs (default: lo)", {"action": "append"}),
    ("--spool", "spool database (default $XDG_STATE_HOME/ifpulse/spool.db)", {"metavar": "FILE"}),
    ("--spool-max-mb", "spool size cap; oldest samples go first (default 100)", {"type": float}),
    (
        "--spool-sync",
        "normal: safe against crashes; full: also power loss",
        {"choices": ["normal", "full"]},
    ),
    (
        "--once",
        "one cycle, wait until delivered (or --once-timeout), exit",
        {"action": "store_true"},
    ),
    ("--once-timeout", "seconds --once waits for delivery (default 30)", {"type": float}),
    ("--topic-prefix", "first topic level (default ifpulse)", {}),
    ("--client-id", "MQTT client id (default ifpulse-pub-<host-id>)", {}),
    ("--username", "MQTT username", {}),
    ("--password-file", "file holding the MQTT password", {"metavar": "FILE"}),
    ("--tls-ca", "CA certificate(s) to verify the broker (mqtts://)", {"metavar": "FILE"}),
    ("--tls-cert", "client certificate (mqtts://)", {"metavar": "FILE"}),
    ("--tls-key", "client key (mqtts://)", {"metavar": "FILE"}),
    ("--keepalive", "MQTT keepalive seconds (default 30)", {"type": int}),
    ("--session-expiry", "seconds the broker keeps our session (default 86400)", {"type": int}),
    ("--reconnect-min", "first reconnect delay, seconds (default 0.5)", {"type": float}),
    ("--reconnect-max", "reconnect delay cap, seconds (default 30)", {"type": float}),
    ("--max-inflight", "unacknowledged messages at once (default 20)", {"type": int}),
    (
        "--replay-rate",
        "messages per second at most, backlog included (default 200)",
        {"type": float},
    ),
    ("--grace", "seconds to flush on SIGTERM before exiting (default 5)", {"type": float}),
    (
        "--broker-reset-hold",
        "seconds to hold the backlog when the broker lost our session, so subscribers "
        "resubscribe first (default 10)",
        {"type": float},
    ),
    ("--log-level", "DEBUG, INFO, WARNING or ERROR (default INFO)", {"type": str.upper}),
    (
        "--no-ha-discovery",
        "do not announce this host to Home Assistant",
        {"action": "store_false", "dest": "ha_discovery"},
    ),
    ("--ha-prefix", "Home Assistant discovery prefix (default homeassistant)", {}),
    ("--ha-rate-unit", "unit of the rate entities (default Mbit/s)", {}),
    (
        "--ha-gone-after",
        "seconds before a vanished interface's entities are removed (default 86400)",
        {"type": float},
    ),
    (
        "--alert-errors-per-sec",
        "rx+tx errors/s above which an interface is in alert (default 1)",
        {"type": float},
    ),
    (
        "--alert-drops-per-sec",
        "rx+tx drops/s above which an interface is in alert (default 10)",
        {"type": float},
    ),
    (
        "--alert-override",
        "GLOB=ERRORS,DROPS per-interface thresholds; '-' inherits, 'off' never (repeatable)",
        {"action": "append"},
    ),
]


def build_parser() -> argparse.ArgumentParser:
    """The `ifpulse publish` argument parser; only flags given on the line are returned."""
    parser = argparse.ArgumentParser(
        prog="ifpulse publish",
        description="Read this host's network interfaces and publish one sample per interface "
        "per interval over MQTT, through an on-disk spool that survives outages and crashes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
        allow_abbrev=False,  # `--password x` must not pass for `--password-file x`
    )
    parser.add_argument("--config", metavar="FILE", help="TOML file of options (IFPULSE_CONFIG)")
    for flag, text, extra in OPTIONS:
        parser.add_argument(flag, help=text, **extra)
    return parser


def _settings(argv: list[str]) -> PublisherSettings:
    flags = vars(build_parser().parse_args(argv))
    config = flags.pop("config", None) or os.environ.get("IFPULSE_CONFIG")
    config_path = Path(config) if config else None
    if config_path is not None and not config_path.is_file():
        raise ValueError(f"config file {config_path} not found")
    return load_settings(flags, config_path)


def build_publisher(settings: PublisherSettings) -> Publisher:
    """Assemble collector, spool, MQTT link and loop from the settings."""
    scheme = TopicScheme(settings.topic_prefix)
    collector = Collector(
        settings.proc_root,
        settings.sys_root,
        InterfaceFilter(settings.include, settings.exclude),
        link_events=link_notices(settings.proc_root, settings.sys_root),
    )
    spool = Spool(settings.spool, int(settings.spool_max_mb * 2**20), sync=settings.spool_sync)
    loop = LoopOptions(
        interval=settings.interval,
        max_inflight=settings.max_inflight,
        replay_rate=settings.replay_rate,
        grace=settings.grace,
        once_timeout=settings.once_timeout,
        broker_reset_hold=settings.broker_reset_hold,
    )
    will = host_status(
        settings.host_id, HostState.OFFLINE, interval=settings.interval, boot_id=collector.boot_id()
    )
    link = MqttLink(
        LinkOptions(
            broker=settings.broker_address,
            client_id=settings.mqtt_client_id,
            will_topic=scheme.status(settings.host_id),
            will_payload=will,
            username=settings.username,
            password=settings.read_password(),
            tls_ca=settings.tls_ca,
            tls_cert=settings.tls_cert,
            tls_key=settings.tls_key,
            keepalive=settings.keepalive,
            session_expiry=settings.session_expiry,
            max_inflight=settings.max_inflight,
            reconnect_min=settings.reconnect_min,
            reconnect_max=settings.reconnect_max,
        )
    )
    publisher = Publisher(
        host=settings.host_id,
        scheme=scheme,
        collector=collector,
        spool=spool,
        transport=link,
        options=loop,
    )
    link.on_activity = publisher.wake.set
    link.on_ack = publisher.on_ack
    attach_addons(publisher, link, settings, scheme)
    return publisher


def attach_addons(
    publisher: Publisher, link: MqttLink, settings: PublisherSettings, scheme: TopicScheme
) -> None:
    """Alerts always, Home Assistant discovery unless turned off; both fed by each cycle."""

    def publish(topic: str, payload: bytes, retain: bool) -> None:
        link.publish(topic, payload, retain=retain)

    thresholds = Thresholds(
        settings.alert_errors_per_sec,
        settings.alert_drops_per_sec,
        [Override.parse(o) for o in settings.alert_override],
    )
    alerts = AlertPublisher(
        publish,
        scheme,
        AlertEvaluator(settings.host_id, thresholds),
        gone_after_s=settings.ha_gone_after,
    )
    ha = None
    if settings.ha_discovery:
        ha = HomeAssistantDiscovery(
            publish,
            scheme,
            settings.host_id,
            VERSION,
            HaSettings(
                ha_prefix=settings.ha_prefix,
                rate_unit=settings.ha_rate_unit,
                interval_s=settings.interval,
                gone_after_s=settings.ha_gone_after,
            ),
        )
        link.subscriptions = ha.topics_to_subscribe()
        link.on_message = ha.on_message

    def on_connected(transport: Transport) -> None:
        publisher.on_connected(transport)
        alerts.on_connect()
        if ha is not None:
            ha.on_connect()

    infos = IfaceInfos()

    def on_samples(samples: list[InterfaceSample]) -> None:
        if ha is not None:
            ha.on_samples(infos(samples))
        alerts.on_cycle(samples)

    link.on_connected = on_connected
    publisher.sample_listeners.append(on_samples)


def describe(exc: ValidationError) -> str:
    """The validation errors without the values given: a password may be among them."""
    return "\n".join(
        f"  {'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
        for e in exc.errors(include_input=False, include_url=False)
    )


def main(argv: list[str]) -> int:
    """Run `ifpulse publish`; returns the exit status."""
    if any(arg == "--password" or arg.startswith("--password=") for arg in argv):
        # argparse would echo the unknown option and its value into the error message.
        sys.stderr.write(
            "ifpulse publish: the MQTT password is not accepted on the command line; "
            "use --password-file or IFPULSE_PASSWORD\n"
        )
        return 2
    try:
        settings = _settings(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    except ValidationError as exc:
        sys.stderr.write(f"ifpulse publish: invalid configuration:\n{describe(exc)}\n")
        return 2
    except ValueError as exc:
        sys.stderr.write(f"ifpulse publish: invalid configuration:\n{exc}\n")
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        publisher = build_publisher(settings)
    except (SpoolBusyError, OSError, ValueError) as exc:
        log.error("cannot start: %s", exc)
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, publisher.request_stop)
    log.info(
        "publishing %s every %.3gs to %s (spool %s, %d samples waiting)",
        settings.host_id,
        settings.interval,
        settings.broker,
        settings.spool,
        publisher.spool.depth,
    )
    return publisher.run(once=settings.once)
