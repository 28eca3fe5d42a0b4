{{ config(materialized='latest_landed', unique_key='event_id') }}

{{ stage_identifies('identifies_ruby', 'ruby') }}
