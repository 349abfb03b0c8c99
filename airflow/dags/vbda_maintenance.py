"""Daily maintenance: compact small files, write checkpoints (and clean up expired log files),
then vacuum files older than each table's retention.

At 04:00 UTC, after the daily pipeline. Shares the ``vbda_lakehouse`` pool with the writers.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

# vbda_common.py sits next to this file; make it importable wherever the folder is mounted.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vbda_common import DEFAULT_ARGS, VbdaOperator  # noqa: E402

with DAG(
    dag_id="vbda_maintenance",
    description="optimize -> checkpoint -> vacuum, every table",
    schedule=CronDataIntervalTimetable("0 4 * * *", timezone="UTC"),
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["vbda"],
) as dag:
    optimize = VbdaOperator(task_id="optimize", arguments="optimize")
    checkpoint = VbdaOperator(task_id="checkpoint", arguments="checkpoint")
    vacuum = VbdaOperator(task_id="vacuum", arguments="vacuum")
    optimize >> checkpoint >> vacuum
