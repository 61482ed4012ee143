"""The seed's Celery app: Redis is the broker, each job's result is written to PostgreSQL.

misago sends `seed.record(job, payload)`; the worker (`seed celery`) reverses the payload
(the "work") and stores it in the `jobs` table with the node that did it.
"""

import os
import socket

import psycopg2
from celery import Celery

NODE = os.environ.get("NODE") or socket.gethostname()
REDIS_HOST = os.environ.get("REDIS_HOST", "redis")

app = Celery("seed", broker=f"redis://{REDIS_HOST}:6379/0")
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS visits (
    id bigserial PRIMARY KEY, node text NOT NULL, at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS jobs (
    id bigint PRIMARY KEY, payload text NOT NULL, result text NOT NULL, node text NOT NULL,
    at timestamptz NOT NULL DEFAULT now());
"""


def db():
    """A new connection to the stack's PostgreSQL (service `db`)."""
    return psycopg2.connect(
        host=os.environ.get("DB_HOST", "db"),
        user="seed",
        dbname="postgres",
        password=os.environ["POSTGRES_PASSWORD"],
        connect_timeout=3,
    )


def ensure_schema():
    """Creates the tables when they are missing (one replica at a time)."""
    conn = db()
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(16)")
            cur.execute(SCHEMA)
    finally:
        conn.close()


@app.task(name="seed.record", autoretry_for=(psycopg2.Error,), retry_kwargs={"max_retries": 60, "countdown": 1})
def record(job, payload):
    """Does job `job` and writes its result to PostgreSQL."""
    ensure_schema()
    conn = db()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO jobs (id, payload, result, node) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (id) DO NOTHING",
                (job, payload, payload[::-1], NODE),
            )
    finally:
        conn.close()
