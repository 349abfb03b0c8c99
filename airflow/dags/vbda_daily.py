"""Daily pipeline: ingest the landing files, then rebuild the run's date in silver and gold,
then check the tables' expectations for that date, then publish the date's gold tables to
PostgreSQL for BI tools: the Airflow Variable ``vbda_publish_target`` (a postgres:// URL without a
password; the password comes from PGPASSWORD or ~/.pgpass on the worker) or, on the worker,
``VBDA_PUBLISH_TARGET`` / vbda.toml's ``publish.target``. Without a target the task is skipped.

Runs at 02:00 UTC for the previous UTC day (the logical date is the start of the day's data
interval). One run at a time; writing tasks share the ``vbda_lakehouse`` pool.
Backfill a range: ``airflow dags backfill vbda_daily --start-date 2025-01-01 --end-date 2025-01-31``
(or, without Airflow, ``vbda backfill --from 2025-01-01 --to 2025-01-31``).
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

# vbda_common.py sits next to this file; make it importable wherever the folder is mounted.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vbda_common import DEFAULT_ARGS, RUN_DATE, VbdaOperator  # noqa: E402

#: ``--target`` from the Airflow Variable ``vbda_publish_target`` when it is set, passed through
#: the environment (never pasted into the shell command, so no quoting can break out of it).
PUBLISH_TARGET = ' ${VBDA_DAG_PUBLISH_TARGET:+--target "$VBDA_DAG_PUBLISH_TARGET"}'
PUBLISH_ENV = {"VBDA_DAG_PUBLISH_TARGET": "{{ var.value.get('vbda_publish_target', '') }}"}

with DAG(
    dag_id="vbda_daily",
    description="ingest -> bronze-to-silver -> silver-to-gold -> check -> publish, for one event date",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["vbda"],
) as dag:
    ingest = VbdaOperator(task_id="ingest", arguments="ingest")
    silver = VbdaOperator(task_id="bronze_to_silver", arguments=f"bronze-to-silver --date {RUN_DATE}")
    gold = VbdaOperator(task_id="silver_to_gold", arguments=f"silver-to-gold --date {RUN_DATE}")
    check = VbdaOperator(task_id="check", arguments=f"check --date {RUN_DATE}", writes=False)
    publish = VbdaOperator(
        task_id="publish",
        arguments=f"publish --date {RUN_DATE} --if-configured{PUBLISH_TARGET}",
        writes=False,
        env=PUBLISH_ENV,
        append_env=True,
    )
    ingest >> silver >> gold >> check >> publish
