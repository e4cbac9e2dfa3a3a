# The Airflow image of the local stack: the official image at the tested version, with this provider and the
# stack's init scripts, with the [dimse] extra for the gateway and [quality] for the quality gate. Airflow itself is pinned so that installing the provider cannot change it.
FROM apache/airflow:3.3.2
COPY --chown=airflow:root pyproject.toml README.md /opt/airflow-dicomweb/
COPY --chown=airflow:root airflow_dicomweb /opt/airflow-dicomweb/airflow_dicomweb
COPY --chown=airflow:root deploy /opt/airflow/deploy
RUN pip install --no-cache-dir "apache-airflow==3.3.2" "/opt/airflow-dicomweb[dimse,quality]"
