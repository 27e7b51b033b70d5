"""The HTTP rush's report (bench/rush_report.py), without a rush (the rush itself reads the pages)."""

from __future__ import annotations

from pathlib import Path

from bench import rush_report

ROOT = Path(__file__).resolve().parent.parent

# The header Locust writes to <prefix>_stats.csv (2.x), and rows of a short run.
STATS = """\
Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,\
Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%
POST,book,110,0,360,400.5,40.1,1164.2,0,5.2,0.0,360,420,500,560,800,990,1100,1100,1200,1200,1200
GET,class list,125,1,330,350.0,20.0,958.0,5000,5.9,0.05,330,400,450,500,700,760,820,850,960,960,960
GET,login page,0,0,0,0.0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A
,Aggregated,235,1,320,380.0,20.0,1164.2,2600,11.1,0.05,320,400,480,520,760,810,900,1000,1200,1200,1200
"""
FAILURES = """\
Method,Name,Error,Occurrences
GET,class list,HTTP 500 server error,3
POST,book,HTTP 403 unexpected,2
GET,my bookings,"no response: ConnectionError('reset')",1
"""


def test_the_stats_are_read_per_page_with_the_total_last(tmp_path: Path) -> None:
    path = tmp_path / "locust_stats.csv"
    path.write_text(STATS)
    rows = rush_report.parse_stats(path)
    assert [r.name for r in rows] == ["book", "class list", "login page", "Aggregated"]
    book = rows[0]
    assert (book.method, book.requests, book.failures, book.rps) == ("POST", 110, 0, 5.2)
    assert (book.p50, book.p95, book.p99, book.max) == (360, 990, 1100, 1164.2)
    assert rows[2].p99 == 0  # N/A: no request of that page
    table = rush_report.format_table(rows).splitlines()
    assert table[0].split() == ["page", "requests", "fail", "req/s", "p50", "ms", "p95", "ms", "p99", "ms", "max",
                                "ms"]
    assert table[1].split() == ["POST", "book", "110", "0", "5.2", "360", "990", "1100", "1164"]
    assert set(table[-2]) == {"-", " "}
    assert table[-1].split() == ["Aggregated", "235", "1", "11.1", "320", "810", "1000", "1164"]


def test_the_failures_tell_server_errors_from_the_others(tmp_path: Path) -> None:
    path = tmp_path / "locust_failures.csv"
    path.write_text(FAILURES)
    failures = rush_report.parse_failures(path)
    assert failures["class list: HTTP 500 server error"] == 3
    assert rush_report.server_errors(failures) == 3
    assert sum(failures.values()) == 6
    assert rush_report.parse_failures(tmp_path / "missing.csv") == {}


def test_the_access_log_is_counted_by_status(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    path.write_text("200 GET /\n302 POST /accounts/login/\n200 GET /bookings/\n502 GET /\n")
    assert rush_report.access_log_statuses(path) == {"200": 2, "302": 1, "502": 1}
