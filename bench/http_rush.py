"""A booking rush over HTTP: the example project under gunicorn behind PgBouncer, driven by Locust.

    python bench/http_rush.py                              # 60 s, 60 Locust users
    python bench/http_rush.py --run-time 20 --users 30     # a short run

A script, not a test; it needs the ``bench`` extra (gunicorn, Locust), the ``postgres`` extra,
PostgreSQL on 127.0.0.1:5432 trusting the user ``postgres``, and Debian's PgBouncer
(``/usr/sbin/pgbouncer``). It

1. creates a fresh database ``liveclass_rush``, migrates it and seeds it through the package's
   services (teachers, their policies, group classes) and bulk inserts (1,000 students with a
   password and lesson credits);
2. starts PgBouncer in transaction pooling mode and gunicorn (4 sync workers) serving the example
   project with ``bench.rush_settings``, both on free ports of 127.0.0.1;
3. runs Locust headless for ``--run-time`` seconds with ``bench/rush_locustfile.py``;
4. prints one table per page (requests, requests/s, p50/p95/p99 latency), the errors, what the
   rush did, and checks every invariant in the database.

Both servers are stopped and the database dropped at the end, also on failure or Ctrl-C. The exit
status is 1 on any 5xx, other error or broken invariant.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "example_project", ROOT / "src"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench import rush_report  # noqa: E402

DB_NAME = "liveclass_rush"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, os.environ.get("LIVECLASS_PG_USER", "postgres")
PGBOUNCER = "/usr/sbin/pgbouncer"
#: The port CI's PgBouncer uses: never ours.
RESERVED_PORTS = {6432, 8000}
PASSWORD = "rush-pass"
STUDENTS, TEACHERS, MANUAL_TEACHERS, CLASSES, SEATS = 1000, 5, 2, 20, 10
CREDITS = 20
BIN = Path(sys.executable).parent


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in RESERVED_PORTS:
            return int(port)


def machine(label: str) -> str:
    one, five, fifteen = os.getloadavg()
    return f"{label}: load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


# --- the database --------------------------------------------------------------------------------


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql)


def setup_django() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.rush_settings"
    os.environ["LIVECLASS_RUSH_DB_PORT"] = str(PG_PORT)  # this process talks to PostgreSQL directly
    import django

    django.setup()


def seed(students: int) -> list[str]:
    """Teachers, policies, classes, students with credits; the usernames of the teachers who approve by hand."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone
    from school.models import CreditAccount, CreditEntry

    from django_liveclass_booking import services

    call_command("migrate", interactive=False, verbosity=0)
    User = get_user_model()
    password = make_password(PASSWORD)  # one hash for everyone: seeding stays fast
    teachers = User.objects.bulk_create(
        User(username=f"rush.t{n}", first_name="Teacher", last_name=str(n), email=f"rush.t{n}@example.com",
             password=password) for n in range(1, TEACHERS + 1))
    people = User.objects.bulk_create(
        User(username=f"rush.s{n:04d}", email=f"rush.s{n:04d}@example.com", password=password)
        for n in range(students))
    manual = []
    for n, teacher in enumerate(teachers):
        mode = "manual" if n < MANUAL_TEACHERS else "auto"
        services.set_policy(teacher, approval_mode=mode)
        if mode == "manual":
            manual.append(teacher.username)
    first = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=3)
    for n in range(CLASSES):
        teacher = teachers[n % TEACHERS]
        services.schedule_session(teacher, start=first + dt.timedelta(days=n // TEACHERS, hours=n % 3),
                                  duration=60, capacity=SEATS, title=f"Rush class {n + 1:02d}", timezone="UTC")
    with transaction.atomic():
        accounts = CreditAccount.objects.bulk_create(CreditAccount(student=s, balance=CREDITS) for s in people)
        CreditEntry.objects.bulk_create(CreditEntry(account=a, delta=CREDITS, reason=CreditEntry.Reason.GIFT)
                                        for a in accounts)
    print(f"Seeded {students} students ({CREDITS} credits each), {TEACHERS} teachers ({len(manual)} approve by "
          f"hand: {', '.join(manual)}), {CLASSES} group classes of {SEATS} seats from {first:%Y-%m-%d %H:%M} UTC.")
    return manual


# --- the servers ---------------------------------------------------------------------------------


def wait_until(ready: Callable[[], bool], what: str, proc: subprocess.Popen[bytes], log: Path,
               timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{tail(log)}")
        if ready():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready after {timeout} s:\n{tail(log)}")


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


def stop(proc: subprocess.Popen[bytes], what: str) -> None:
    """SIGTERM the process we started, then SIGKILL it if it is still there after 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            print(f"{what} ignored SIGTERM: killed.")
            proc.kill()
            proc.wait()


def start_pgbouncer(tmp: Path, stack: ExitStack) -> int:
    port = free_port()
    postgres = pwd.getpwnam("postgres")
    (tmp / "userlist.txt").write_text(f'"{PG_USER}" ""\n')
    # The server connections are in UTC already, so Django sends no SET TIME ZONE through the pool.
    (tmp / "pgbouncer.ini").write_text(f"""\
[databases]
{DB_NAME} = host={PG_HOST} port={PG_PORT} dbname={DB_NAME} user={PG_USER} timezone=UTC

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
admin_users = {PG_USER}
auth_file = {tmp}/userlist.txt
pool_mode = transaction
default_pool_size = 8
max_client_conn = 200
pidfile = {tmp}/pgbouncer.pid
logfile = {tmp}/pgbouncer.log
""")
    for path in (tmp, *tmp.iterdir()):
        os.chown(path, postgres.pw_uid, postgres.pw_gid)
    proc = subprocess.Popen([PGBOUNCER, "-u", "postgres", str(tmp / "pgbouncer.ini")], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stack.callback(stop, proc, "PgBouncer")

    def ready() -> bool:
        import psycopg

        try:
            with psycopg.connect(host="127.0.0.1", port=port, user=PG_USER, dbname=DB_NAME, connect_timeout=2) as c:
                c.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False

    wait_until(ready, "PgBouncer", proc, tmp / "pgbouncer.log")
    print(f"PgBouncer 1.18 (transaction pooling, 8 server connections) on 127.0.0.1:{port}")
    return port


def pgbouncer_stats(port: int) -> str:
    """What went through the pool, from PgBouncer's admin console (which speaks only the simple protocol: psql)."""
    result = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER, "-d", "pgbouncer",
                             "-A", "-F", "\t", "-P", "footer=off", "-c", "SHOW STATS"],
                            capture_output=True, text=True, timeout=30)
    lines = result.stdout.splitlines()
    if result.returncode or len(lines) < 2:
        return f"PgBouncer's statistics unavailable: {result.stderr.strip()}"
    header = lines[0].split("\t")
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t"), strict=False))
        if row.get("database") == DB_NAME:
            xacts, queries = int(row["total_xact_count"]), int(row["total_query_count"])
            wait_ms = int(row["total_wait_time"]) / 1000
            return (f"Through PgBouncer: {xacts} transactions, {queries} queries, clients waited {wait_ms:.0f} ms "
                    f"in all for a server connection")
    return "PgBouncer's statistics have no row for the database"


def start_gunicorn(tmp: Path, pgbouncer_port: int, workers: int, stack: ExitStack) -> str:
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.rush_settings", "LIVECLASS_RUSH_DB_PORT": str(pgbouncer_port)}
    log = tmp / "gunicorn.log"
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "example_project.wsgi:application", "--workers", str(workers),
         "--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--timeout", "60",
         "--pythonpath", f"{ROOT / 'src'},{ROOT / 'example_project'},{ROOT}",
         "--access-logfile", str(tmp / "access.log"), "--access-logformat", "%(s)s %(m)s %(U)s",
         "--error-logfile", str(log)],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stack.callback(stop, proc, "gunicorn")
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(url + "/accounts/login/", timeout=5) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    wait_until(ready, "gunicorn", proc, log, timeout=60)
    print(f"gunicorn ({workers} sync workers) on {url}")
    return url


def run_locust(tmp: Path, url: str, args: argparse.Namespace, manual: list[str]) -> int:
    env = {**os.environ, "LIVECLASS_RUSH_STUDENTS": str(args.students), "LIVECLASS_RUSH_TEACHERS": ",".join(manual),
           "LIVECLASS_RUSH_PASSWORD": PASSWORD, "LIVECLASS_RUSH_OUTCOMES": str(tmp / "outcomes.json")}
    log = tmp / "locust.log"
    print(f"Locust: {args.users} users (spawn rate {args.spawn_rate}/s) for {args.run_time} s ...", flush=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "locust"), "-f", str(ROOT / "bench" / "rush_locustfile.py"), "--headless", "--host", url,
             "--users", str(args.users), "--spawn-rate", str(args.spawn_rate), "--run-time", f"{args.run_time}s",
             "--csv", str(tmp / "locust"), "--only-summary", "--loglevel", "WARNING"],
            env=env, cwd=tmp, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return proc.wait(args.run_time + 120)
        finally:
            stop(proc, "Locust")


# --- the report ----------------------------------------------------------------------------------


def report(tmp: Path, started: float) -> bool:
    """Print the report; True if the rush had no error and every invariant holds."""
    rows = rush_report.parse_stats(tmp / "locust_stats.csv")
    total = rows[-1] if rows and rows[-1].name == rush_report.AGGREGATED else None
    print(f"\nRequests per page (latency in ms, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
          f"{time.monotonic() - started:.0f} s in all):")
    print(rush_report.format_table(rows))
    if total:
        print(f"Overall: {total.requests} requests, {total.rps:.1f} requests/s")
    failures = rush_report.parse_failures(tmp / "locust_failures.csv")
    server = rush_report.server_errors(failures)
    statuses = rush_report.access_log_statuses(tmp / "access.log")
    logged_5xx = sum(n for status, n in statuses.items() if status.startswith("5"))
    print(f"\nErrors: {server} 5xx seen by Locust, {logged_5xx} 5xx in gunicorn's access log, "
          f"{sum(failures.values()) - server} other")
    for error, n in failures.items():
        print(f"  {n:6d}  {error}")
    print("Statuses served: " + ", ".join(f"{status} x{n}" for status, n in statuses.items()))
    outcomes_file = tmp / "outcomes.json"
    asked = json.loads(outcomes_file.read_text()) if outcomes_file.exists() else {}
    print("\nWhat the users saw: " + ", ".join(f"{name} {n}" for name, n in sorted(asked.items())))
    print("In the database: " + ", ".join(f"{name} {n}" for name, n in rush_report.count_outcomes().items()))
    print("\nInvariants:")
    results = rush_report.check_invariants()
    for name, result in results.items():
        print(f"  {result:<4}  {name}")
    broken = [name for name, result in results.items() if result != "ok"]
    if logged_5xx or server:
        print(f"gunicorn's error log:\n{tail(tmp / 'gunicorn.log')}")
    return not failures and not logged_5xx and not broken and total is not None and total.requests > 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--run-time", type=int, default=60, help="seconds of load (default 60)")
    parser.add_argument("--users", type=int, default=60, help="Locust users, teachers included (default 60)")
    parser.add_argument("--spawn-rate", type=float, default=10, help="users started per second (default 10)")
    parser.add_argument("--students", type=int, default=STUDENTS, help=f"students seeded (default {STUDENTS})")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temporary folder with every log")
    args = parser.parse_args()
    if not 1 <= args.run_time <= 600 or not 1 <= args.users <= 500 or args.students < 1:
        parser.error("--run-time 1..600 s, --users 1..500, --students at least 1")
    for tool in (BIN / "gunicorn", BIN / "locust", Path(PGBOUNCER)):
        if not tool.exists():
            parser.error(f"{tool} is missing: install the bench extra (pip install -e '.[bench,postgres]') "
                         "and Debian's pgbouncer package")
    # SIGTERM (and SIGINT, even when started in the background with it ignored) stop the run as
    # Ctrl-C does: the servers are stopped and the database dropped.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    started = time.monotonic()
    print(machine("At start"))
    tmp = Path(tempfile.mkdtemp(prefix="liveclass-rush-"))
    ok = False
    try:
        admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        admin_sql(f"CREATE DATABASE {DB_NAME}")
        setup_django()
        manual = seed(args.students)
        from django.db import connections

        connections.close_all()
        with ExitStack() as servers:
            pgbouncer_port = start_pgbouncer(tmp, servers)
            url = start_gunicorn(tmp, pgbouncer_port, args.workers, servers)
            code = run_locust(tmp, url, args, manual)
            print(pgbouncer_stats(pgbouncer_port))
            print(f"Locust exited with {code} ({'no failures' if code == 0 else 'some requests failed'}).")
        print(machine("At end"))
        ok = report(tmp, started)
        connections.close_all()
    finally:
        try:
            admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        finally:
            if args.keep_logs or not ok:
                print(f"Logs kept in {tmp}")
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    print("\nRESULT: " + ("no error, every invariant holds" if ok else "FAILED (see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nInterrupted: both servers stopped, the database dropped.")
        sys.exit(130)
