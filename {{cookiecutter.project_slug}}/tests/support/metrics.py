"""``/metrics`` read as Prometheus reads it: its text format, through prometheus_client's parser."""

import urllib.error
import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


@dataclass
class Scrape:
    samples: list[Sample]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples called ``name`` that carry ``labels``; 0 when none does."""
        return sum(
            sample.value
            for sample in self.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def has(self, name: str, **labels: str) -> bool:
        return any(
            sample.name == name and labels.items() <= sample.labels.items()
            for sample in self.samples
        )


def parse(page: str) -> Scrape:
    families = text_string_to_metric_families(page)
    return Scrape([sample for family in families for sample in family.samples])


def scrape(url: str) -> Scrape:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (a URL of the test's)
        return parse(answer.read().decode())


def scrape_port(port: int) -> Scrape:
    return scrape(f"http://127.0.0.1:{port}/metrics")


def serves_metrics(port: int) -> bool:
    try:
        scrape_port(port)
    except urllib.error.URLError:
        return False
    return True
