"""``server: generic``: a server that implements PS3.18 as written; ``auto`` falls back to it."""

from airflow_dicomweb.core.servers.profile import ServerProfile

PROFILE = ServerProfile(name="generic")
