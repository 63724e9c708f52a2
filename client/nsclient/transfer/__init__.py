"""A build's way up and its results' way back.

push: check a build folder, zip and upload it into the caller's inbox (which starts a run), and
pull a run's results into a folder; folder: which files of a build folder go up, and which of a
results zip come back; zipstream: the zip written as it is uploaded; upload: a stream sent to S3
in parts; download: chosen members of a zip in S3 fetched by range; pullstate: what the last pull
left in a folder, so that pulling it again reads nothing.
"""
