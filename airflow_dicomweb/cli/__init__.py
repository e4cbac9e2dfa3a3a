"""The ``dicomweb`` command line: a thin layer over :mod:`airflow_dicomweb.core`; it needs no Airflow."""
