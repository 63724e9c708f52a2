"""What the commands do to runs, by resource, over the S3 layout, Batch, CloudWatch Logs and Step Functions.

records: the run records in the bucket (read one, list them); jobs: a run's state, the record plus
its live Batch job; logs: the archived or live log, followed to its end; cancel: ask for a run to
stop (push and pull are nsclient.transfer). The run record (runs/<owner>/<id>/run.json) is the durable index;
Batch is asked only for what the record can't know yet.
"""
