"""Operators that move data from one service to another (Airflow's word for them: transfers)."""
