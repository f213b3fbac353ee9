# The Airflow image with this provider installed. apache-airflow is pinned in the same
# pip call, so installing the provider can never move Airflow to another version.
ARG AIRFLOW_VERSION=3.3.2
FROM apache/airflow:${AIRFLOW_VERSION}
ARG AIRFLOW_VERSION
COPY --chown=airflow:root pyproject.toml README.md /opt/airflow-provider-celonis/
COPY --chown=airflow:root airflow_provider_celonis /opt/airflow-provider-celonis/airflow_provider_celonis
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" "/opt/airflow-provider-celonis[emulator]"
