# Production image: the official Airflow 3 image with the project's pinned dependencies and the
# dbt manifest parsed at build time, so the scheduler never runs dbt to render the DAG.
FROM apache/airflow:3.3.2-python3.11

ENV PYTHONPATH=/opt/airflow/project \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/project/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/airflow/project/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False

COPY --chown=airflow:0 requirements.txt /opt/airflow/project/requirements.txt
RUN pip install --no-cache-dir -r /opt/airflow/project/requirements.txt

COPY --chown=airflow:0 dags /opt/airflow/project/dags
COPY --chown=airflow:0 include /opt/airflow/project/include
COPY --chown=airflow:0 plugins /opt/airflow/project/plugins
COPY --chown=airflow:0 dbt /opt/airflow/project/dbt

WORKDIR /opt/airflow/project/dbt
RUN dbt parse --profiles-dir . --quiet
WORKDIR /opt/airflow/project
