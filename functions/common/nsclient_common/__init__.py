"""Shared truths of nsclient: S3 layout, run ids, the run record, the job contract.

Imported by the Lambda functions (shipped as a layer), the client and the local backend alike,
so that none of them restates these rules.
"""
