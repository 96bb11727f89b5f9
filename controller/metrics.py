"""Prometheus metrics of one controller process, in a registry of its own (built in the entry
point and passed down: no module-level collectors).

Counters and histograms are fed by the parts that see the events (the call lifecycle, the
`missed_call_alert` module, the job queue, the mail sender, the ESL session); gauges that are
facts about Redis or a live object (queue depth, age of the oldest ready job, calls in progress,
watcher connections) are read when Prometheus scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

OUTCOMES = ("answered", "voicemail", "conference", "fax", "missed", "failed", "refused", "transferred", "other")
ESL_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
SMTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.calls = Counter("controller_calls", "Calls handled, by outcome", ["outcome"], registry=r)
        self.missed_call_alerts = Counter("controller_missed_call_alerts", "Missed-call alerts enqueued", registry=r)
        self.jobs_enqueued = Counter("controller_jobs_enqueued", "Notification jobs enqueued", ["type"], registry=r)
        self.jobs_delivered = Counter("controller_jobs_delivered", "Notifications delivered", ["medium"], registry=r)
        self.jobs_retried = Counter("controller_jobs_retried", "Deliveries that failed and will be retried", registry=r)
        self.jobs_dead = Counter("controller_jobs_dead", "Jobs dead-lettered", registry=r)
        self.mail_recipients = Counter("controller_mail_recipients", "Email recipients by outcome of an attempt",
                                       ["outcome"], registry=r)
        self.esl_command_seconds = Histogram("controller_esl_command_seconds", "ESL command round trip (reply)",
                                             buckets=ESL_BUCKETS, registry=r)
        self.smtp_seconds = Histogram("controller_smtp_seconds", "Sending one message to the SMTP server",
                                      buckets=SMTP_BUCKETS, registry=r)
        self.calls_active = Gauge("controller_calls_active", "Calls in progress on this process", registry=r)
        for outcome in OUTCOMES:
            self.calls.labels(outcome)  # every outcome present from the start, at 0
        for outcome in ("delivered", "retried", "refused"):
            self.mail_recipients.labels(outcome)

    def count_calls_active(self, active: Callable[[], int]) -> None:
        self.calls_active.set_function(lambda: float(active()))

    def watch_queue(self, stats: Callable[[], Mapping[str, Any]]) -> None:
        self.registry.register(_QueueCollector(stats))

    def watch_freeswitch(self, connected: Callable[[], Mapping[str, bool]]) -> None:
        self.registry.register(_WatcherCollector(connected))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _QueueCollector(Collector):
    def __init__(self, stats: Callable[[], Mapping[str, Any]]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            found = self.stats()
        except Exception:  # Redis down: the gauges are absent, /healthz says why
            return
        yield GaugeMetricFamily("controller_queue_depth", "Jobs ready to deliver", value=found.get("ready", 0))
        yield GaugeMetricFamily("controller_queue_oldest_age_seconds", "Age of the oldest ready job",
                                value=found.get("oldest_ready_age") or 0.0)
        yield GaugeMetricFamily("controller_queue_oldest_due_age_seconds",
                                "Age of the oldest job neither delivered nor dead (ready, held or waiting to retry)",
                                value=found.get("oldest_due_age") or 0.0)
        yield GaugeMetricFamily("controller_mail_workers", "Mail-sender workers alive (heartbeat running)",
                                value=found.get("workers", 0))
        yield GaugeMetricFamily("controller_queue_scheduled", "Jobs waiting for a retry",
                                value=found.get("scheduled", 0))
        yield GaugeMetricFamily("controller_queue_dead", "Jobs in the dead-letter set", value=found.get("dead", 0))


class _WatcherCollector(Collector):
    def __init__(self, connected: Callable[[], Mapping[str, bool]]) -> None:
        self.connected = connected

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("controller_freeswitch_connected", "Inbound event socket connected (1) or not (0)",
                                   labels=["endpoint"])
        for endpoint, up in sorted(self.connected().items()):
            family.add_metric([endpoint], 1.0 if up else 0.0)
        yield family


def summed(expositions: Iterable[bytes]) -> bytes:
    """Several processes' expositions as one, as Prometheus's own multiprocess mode sums them:
    the samples of the same name and labels added (a counter, a histogram bucket or calls in
    progress of each role process is one part of the run's total), a `_created` time the
    earliest. How the API role of `controller run` serves every role's metrics on one port."""
    families: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for text in expositions:
        for family in text_string_to_metric_families(text.decode()):
            if family.name not in families:
                families[family.name] = Metric(family.name, family.documentation, family.type, family.unit)
                values[family.name] = {}
            found = values[family.name]
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                earlier = found.get(key)
                if earlier is None:
                    found[key] = sample.value
                elif sample.name.endswith("_created"):
                    found[key] = min(earlier, sample.value)
                else:
                    found[key] = earlier + sample.value
    for name, family in families.items():
        for (sample_name, labels), value in values[name].items():
            family.add_sample(sample_name, dict(labels), value)
    registry = CollectorRegistry()
    registry.register(_Fixed(list(families.values())))
    return generate_latest(registry)


class _Fixed(Collector):
    """Metric families already collected (by `summed`)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families
