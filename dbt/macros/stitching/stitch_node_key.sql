{#- Integer surrogates for the identity graph.

    The connected-components loop runs on integers. Numbering the ids (row_number) would force a
    string join of every edge end against the node table to translate it; a 64-bit hash of
    (id, id type) is computed from the edge row alone. The hash is masked to
    stitch_surrogate_hash_bits bits (default 62), and the rare ids whose hash collides with another
    id's get a dense number above the mask instead (see int_id_key_collisions), so surrogates are always
    unique.
    Setting the var to 0 makes every id "collide": dense surrogates ordered by (type, id), which
    the tests use to exercise the fallback and adversarially sorted chains. -#}

{% macro stitch_hash_mask() -%}
    {%- set bits = var('stitch_surrogate_hash_bits', 62) | int -%}
    {%- if bits < 0 or bits > 62 -%}
        {{ exceptions.raise_compiler_error("stitch_surrogate_hash_bits must be between 0 and 62, got " ~ bits) }}
    {%- endif -%}
    {{ return(2 ** bits - 1) }}
{%- endmacro %}

{#- The masked hash of one id; id_type is a column or a quoted literal, with the same result. -#}
{% macro stitch_node_hash(id_column, id_type) -%}
    {{ return(adapter.dispatch('stitch_node_hash', 'c360')(id_column, id_type)) }}
{%- endmacro %}

{% macro default__stitch_node_hash(id_column, id_type) -%}
    cast(hash({{ id_column }}, {{ id_type }}) & {{ stitch_hash_mask() }} as bigint)
{%- endmacro %}

{% macro snowflake__stitch_node_hash(id_column, id_type) -%}
    bitand(hash({{ id_column }}, {{ id_type }}), {{ stitch_hash_mask() }})
{%- endmacro %}
