"""The local backend: the template's resources emulated on 127.0.0.1 (moto server mode)."""
