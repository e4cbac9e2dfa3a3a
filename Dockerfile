# The Airflow image of the local stack: the official image at the tested version, with this provider.
FROM apache/airflow:3.3.2
COPY --chown=airflow:root pyproject.toml README.md /opt/airflow-dicomweb/
COPY --chown=airflow:root airflow_dicomweb /opt/airflow-dicomweb/airflow_dicomweb
RUN pip install --no-cache-dir /opt/airflow-dicomweb
