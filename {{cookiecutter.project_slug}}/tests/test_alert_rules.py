"""prometheus/alerts.yml: valid rules, each alert tested, each pointing to its runbook.

promtool checks the rules and runs tests/alerts_test.yml, where each alert
fires on series built for it and stays silent on healthy ones. The tests
there give what an alert says that changes with its series (its summary);
what never changes (its description and runbook, which name no $labels or
$value) is copied in here from the rules, so it is written once.
"""

import re
from pathlib import Path
from typing import Any

import yaml

from {{ cookiecutter.package_name }}.config import Settings

from .support.environment import PROJECT_ROOT
from .support.promtool import promtool

RULES = PROJECT_ROOT / "prometheus" / "alerts.yml"
UNIT_TESTS = PROJECT_ROOT / "tests" / "alerts_test.yml"
RUNBOOK = PROJECT_ROOT / "docs" / "troubleshooting.md"
# The service's own metrics, as the rules name them.
SERVICE_METRIC = re.compile(r"\b(?:celery|outbox|http)_\w+")


def alerts() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def unit_tests_with_fixed_annotations(folder: Path) -> Path:
    """tests/alerts_test.yml, each expected alert given its rule's fixed annotations."""
    fixed = {
        name: {key: text for key, text in rule["annotations"].items() if "$" not in text}
        for name, rule in alerts().items()
    }
    unit_tests = yaml.safe_load(UNIT_TESTS.read_text())
    unit_tests["rule_files"] = [str(RULES)]
    for case in unit_tests["tests"]:
        for evaluation in case["alert_rule_test"]:
            for expected in evaluation["exp_alerts"]:
                given = expected.get("exp_annotations", {})
                expected["exp_annotations"] = {**fixed[evaluation["alertname"]], **given}
    written = folder / "alerts_test.yml"
    written.write_text(yaml.safe_dump(unit_tests))
    return written


def test_the_rules_pass_promtool_check() -> None:
    checked = promtool("check", "rules", RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_each_alert_fires_on_its_series_and_stays_silent_on_healthy_ones(tmp_path: Path) -> None:
    tested = promtool("test", "rules", unit_tests_with_fixed_annotations(tmp_path))
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_is_tested_firing_and_silent() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for case in yaml.safe_load(UNIT_TESTS.read_text())["tests"]:
        for evaluation in case["alert_rule_test"]:
            (firing if evaluation["exp_alerts"] else silent).add(evaluation["alertname"])
    assert firing == set(alerts())
    assert silent == set(alerts())


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_every_alert_says_what_to_do_and_links_its_runbook_entry() -> None:
    headings = [line for line in RUNBOOK.read_text().splitlines() if line.startswith("#")]
    anchors = {github_anchor(heading) for heading in headings}
    for name, rule in alerts().items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        annotations = rule["annotations"]
        assert annotations["summary"], name
        assert annotations["description"], name
        page, anchor = annotations["runbook_url"].split("#")
        assert page == "docs/troubleshooting.md", name
        assert anchor == name.lower(), name
        assert anchor in anchors, f"{name}: no heading {anchor!r} in {RUNBOOK.name}"


def test_the_rules_read_only_metrics_the_service_serves() -> None:
    source = "\n".join(path.read_text() for path in (PROJECT_ROOT / "src").rglob("*.py"))
    read = {
        name.removesuffix("_bucket")
        for rule in alerts().values()
        for name in SERVICE_METRIC.findall(rule["expr"])
    }
    assert read
    for name in read:
        assert f'"{name}"' in source, f"no metric {name} in src/"


def test_the_outbox_alert_fires_where_the_relay_status_fails() -> None:
    # OUTBOX_ALERT_AFTER's default: where `relay status` fails and the relay warns.
    threshold = re.search(r"> (\d+)$", alerts()["OutboxFallingBehind"]["expr"].strip())
    assert threshold is not None
    assert float(threshold.group(1)) == Settings.model_fields["outbox_alert_after"].default
