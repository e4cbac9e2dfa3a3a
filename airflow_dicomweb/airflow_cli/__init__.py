"""The provider's commands in Airflow's own command line (``airflow dicomweb ...``), listed under ``cli`` in
the provider info (Airflow 3.3)."""
