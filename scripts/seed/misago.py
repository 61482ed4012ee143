"""misago, the seed's app tier: a small HTTP server on port 8000 behind nginx (`web`).

Every request to / writes to Redis (a visit counter) and to PostgreSQL (a row per visit) and
answers with both counts; /job enqueues a job for the Celery worker, /job/N reads its result
back from PostgreSQL; /publish writes a static file into the share, which `web` serves
read-only under /static/.

  GET /                  misago NODE visits=V rows=R
  GET /job?payload=P     job N queued
  GET /job/N             job N RESULT by NODE   (404 while pending)
  GET /publish?name=X    published /static/X.txt by NODE
  GET /health            ok
"""

import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import redis

import tasks

NODE = tasks.NODE
SHARE = os.environ.get("SHARE", "/srv/share")
R = redis.Redis(host=tasks.REDIS_HOST, port=6379, socket_timeout=3, socket_connect_timeout=3)
SEND = threading.Lock()
schema = threading.Event()


def visit():
    visits = R.incr("seed:visits")
    conn = tasks.db()
    try:
        with conn, conn.cursor() as cur:
            cur.execute("INSERT INTO visits (node) VALUES (%s)", (NODE,))
            cur.execute("SELECT count(*) FROM visits")
            rows = cur.fetchone()[0]
    finally:
        conn.close()
    return 200, f"misago {NODE} visits={visits} rows={rows}\n"


def job_result(job):
    conn = tasks.db()
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT result, node FROM jobs WHERE id = %s", (job,))
            row = cur.fetchone()
    finally:
        conn.close()
    if row is None:
        return 404, f"job {job} pending\n"
    return 200, f"job {job} {row[0]} by {row[1]}\n"


def publish(name):
    if not re.fullmatch(r"[a-z0-9-]{1,64}", name):
        return 400, "name: 1 to 64 of a-z 0-9 -\n"
    folder = os.path.join(SHARE, "static")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name}.txt")
    with open(path + ".tmp", "w") as f:
        f.write(f"{name} published by misago on {NODE}\n")
    os.chmod(path + ".tmp", 0o644)
    os.replace(path + ".tmp", path)
    return 200, f"published /static/{name}.txt by {NODE}\n"


def route(path):
    url = urlparse(path)
    query = parse_qs(url.query)
    if url.path == "/health":
        return 200, "ok\n"
    if not schema.is_set():
        tasks.ensure_schema()
        schema.set()
    if url.path == "/":
        return visit()
    if url.path == "/job":
        job = R.incr("seed:jobs")
        with SEND:
            tasks.app.send_task("seed.record", args=[job, query.get("payload", ["hello"])[0]])
        return 200, f"job {job} queued\n"
    m = re.fullmatch(r"/job/([0-9]+)", url.path)
    if m:
        return job_result(int(m.group(1)))
    if url.path == "/publish":
        return publish(query.get("name", [""])[0])
    return 404, "not found\n"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            status, body = route(self.path)
        except Exception as e:  # the database or Redis is not there (yet): say so
            status, body = 503, f"misago {NODE}: {type(e).__name__}: {e}\n"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("", 8000), Handler).serve_forever()
