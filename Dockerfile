# Production image: the official Airflow 3 image with the project's pinned dependencies and the dbt
# manifest parsed at build time, so the scheduler renders the DAG without ever running dbt.
# The tag must match apache-airflow in requirements.txt (tests/test_deploy_files.py checks it):
# installing requirements.txt must not move Airflow away from the image's own build.
FROM apache/airflow:3.3.2-python3.11

ENV PYTHONPATH=/opt/airflow/project \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/project/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/airflow/project/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    C360_DUCKDB_PATH=/opt/airflow/warehouse/c360.duckdb \
    C360_EXPORT_DIR=/opt/airflow/exports \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False

COPY --chown=airflow:0 requirements.txt /opt/airflow/project/requirements.txt
RUN pip install --no-cache-dir -r /opt/airflow/project/requirements.txt

COPY --chown=airflow:0 dags /opt/airflow/project/dags
COPY --chown=airflow:0 include /opt/airflow/project/include
COPY --chown=airflow:0 plugins /opt/airflow/project/plugins
COPY --chown=airflow:0 dbt /opt/airflow/project/dbt

# The manifest is the same for both targets (dbt parse reads no warehouse); the DuckDB profile is
# only the one that needs no credentials at build time.
WORKDIR /opt/airflow/project/dbt
RUN rm -rf target logs && dbt parse --profiles-dir . --quiet && test -s target/manifest.json

WORKDIR /opt/airflow/project
RUN mkdir -p /opt/airflow/warehouse /opt/airflow/exports /opt/airflow/project/data
