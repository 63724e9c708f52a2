"""A build's way up and its results' way back.

push: check a build folder, zip and upload it into the caller's inbox (which starts a run); folder:
which files of a build folder go up; zipstream: the zip, written as it is uploaded; upload: a stream
sent to S3 in parts. pull: write what a run produced into a folder; pullplan: which members of the
results zip to write; download: those members fetched from S3 by range; pullstate: what the last pull
left in a folder, so that pulling it again reads nothing.
"""
