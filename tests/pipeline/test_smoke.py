from tests.support import SNAKEFILE_OK, Backend, zip_bytes


def test_smoke_succeeding_build(local_backend: Backend) -> None:
    run_id = local_backend.upload(zip_bytes({"Snakefile": SNAKEFILE_OK}), name="smoke")
    record = local_backend.wait_for_record(run_id)
    assert record.status == "SUCCEEDED"
