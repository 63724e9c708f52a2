"""The local backend's memory report says where a process's resident memory is, and which threads it has."""

from __future__ import annotations

import threading

from nsclient.local.memory_profile import report, resident_by_mapping, status_mb


def test_the_resident_set_by_mapping_adds_up_to_the_processs_own() -> None:
    by_mapping = resident_by_mapping()
    status = status_mb()

    # Each kind is named, and together they are the process's resident set (read a moment apart)
    assert "files" in by_mapping
    assert abs(sum(by_mapping.values()) - status["VmRSS"]) < 0.1 * status["VmRSS"]
    assert status["VmHWM"] >= status["VmRSS"]


def test_the_report_names_the_threads_by_kind_and_the_resident_set() -> None:
    release = threading.Event()
    workers = [threading.Thread(target=release.wait, name=f"job-watcher-{n}") for n in range(3)]
    for worker in workers:
        worker.start()
    try:
        text = report()
    finally:
        release.set()
        for worker in workers:
            worker.join()

    assert "job-watcher-N x3" in text
    assert text.startswith("=== ") and "VmRSS" in text and "VmHWM" in text
    assert "resident: " in text and "files" in text
