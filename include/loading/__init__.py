"""Landing files into raw tables on DuckDB or Snowflake, with the contract's rules and a quarantine."""
