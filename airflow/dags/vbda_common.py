"""Shared pieces of the vbda DAGs: the operator, the command line, the date, the defaults.

Every task is a BashOperator running the `vbda` binary. Where things are:

- the binary: Airflow Variable ``vbda_bin``, else environment ``VBDA_BIN``, else ``vbda`` on PATH;
- the project (tables/, jobs/, vbda.toml) and the lakehouse: Variables ``vbda_project`` and
  ``vbda_lakehouse`` when set (passed as ``--project`` / ``--lakehouse``); otherwise vbda reads
  ``VBDA_PROJECT`` / ``VBDA_LAKEHOUSE`` from the worker's environment, then ``vbda.toml``.

Exit codes (README): 0 ok; 1 the data or a spec is wrong and 2 a usage error: retrying cannot
help, so the task fails at once; 3 the environment failed (storage, Kafka): retried. A command
whose JSON summary says ``"skipped": true`` (``vbda publish --if-configured`` without a target)
marks the task skipped.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

from airflow.exceptions import AirflowException, AirflowSkipException
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk.exceptions import AirflowFailException

#: One slot shared by every task that writes tables, so two runs (of any vbda DAG) never
#: rewrite the same partitions at once. Create it once: ``airflow pools set vbda_lakehouse 1 "vbda writers"``.
POOL = "vbda_lakehouse"

#: The date a run processes: the logical date (the start of a daily data interval), or
#: ``date`` from the run's conf, or, for a manual run without a logical date, the UTC day
#: before the run.
RUN_DATE = (
    "{{ dag_run.conf.get('date') if dag_run.conf and dag_run.conf.get('date') else "
    "(dag_run.logical_date if dag_run.logical_date else dag_run.run_after - macros.timedelta(days=1)).strftime('%Y-%m-%d') }}"
)

DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
}


def vbda(arguments: str) -> str:
    """The shell command running ``vbda <arguments>`` with the binary, project and lakehouse
    from Airflow Variables or the environment, and JSON output for the task log."""
    default_bin = os.environ.get("VBDA_BIN", "vbda")
    return (
        "{{ var.value.get('vbda_bin', '%s') }}"
        "{%% set p = var.value.get('vbda_project', '') %%}{%% if p %%} --project {{ p }}{%% endif %%}"
        "{%% set l = var.value.get('vbda_lakehouse', '') %%}{%% if l %%} --lakehouse {{ l }}{%% endif %%}"
        " --output json %s"
    ) % (default_bin, arguments)


class VbdaOperator(BashOperator):
    """A BashOperator for vbda: exit code 1 (bad data or spec) and 2 (usage) fail the task
    without retries; any other failure (3: storage, Kafka, network) is retried."""

    def __init__(self, *, arguments: str, writes: bool = True, **kwargs):
        kwargs.setdefault("bash_command", vbda(arguments))
        kwargs.setdefault("skip_on_exit_code", None)
        if writes:
            kwargs.setdefault("pool", POOL)
        super().__init__(**kwargs)

    def execute(self, context):
        try:
            last_line = super().execute(context)
        except AirflowException as e:
            text = str(e)
            if text.endswith("exit code 1.") or text.endswith("exit code 2."):
                raise AirflowFailException(f"{text} vbda found a problem with the data, a spec or the command; retrying will not help") from e
            raise
        summary = _json(last_line)
        if summary.get("skipped") is True:
            raise AirflowSkipException(f"vbda {summary.get('command', '')}: {summary.get('reason', 'skipped')}")
        return last_line


def _json(line) -> dict:
    """The JSON summary vbda printed last (BashOperator returns stdout's last line), or {}."""
    try:
        value = json.loads(line) if isinstance(line, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
