"""Micro-batches every 15 minutes: Kafka into bronze up to the offsets seen at the start, then
the silver and gold dates those new rows touched (incremental runs, no dates).

Created paused: unpause it once the workers have the Kafka settings (``VBDA_BROKERS``,
``VBDA_TOPIC``, ``VBDA_GROUP``, or ``vbda.toml``); without them the stream task exits 1 and is
not retried. One run at a time; writing tasks share the ``vbda_lakehouse`` pool. The stream
task exits 3 (retried) when Kafka is unreachable or the group hands out no partitions.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta

from airflow.sdk import DAG

# vbda_common.py sits next to this file; make it importable wherever the folder is mounted.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from vbda_common import DEFAULT_ARGS, VbdaOperator  # noqa: E402

with DAG(
    dag_id="vbda_microbatch",
    description="stream --until-caught-up -> incremental bronze-to-silver -> incremental silver-to-gold",
    schedule=timedelta(minutes=15),
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=True,
    default_args={**DEFAULT_ARGS, "retry_delay": timedelta(minutes=1)},
    tags=["vbda"],
) as dag:
    stream = VbdaOperator(task_id="stream", arguments="stream --until-caught-up")
    silver = VbdaOperator(task_id="bronze_to_silver", arguments="bronze-to-silver")
    gold = VbdaOperator(task_id="silver_to_gold", arguments="silver-to-gold")
    stream >> silver >> gold
