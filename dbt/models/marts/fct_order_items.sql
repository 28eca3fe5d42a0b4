{{
    config(
        materialized='incremental',
        unique_key='order_item_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook="{{ delete_vanished_rows(
            'order_item_id', ref('stg_shop__order_items'), 'line_landed_file_sha256'
        ) }}",
    )
}}
{#- Line items are append-only, but what a line carries is not: its order can be refunded later
    and a product re-categorised. Every line stores the landed_file_sha256 of the four staging rows
    it was built from (line, order, product, design) and the code hash of this model and of those.

    A staging row changes only with the content of the files its key is in, and staging carries the
    file's SHA, so the files whose content changed since this table was built are the SHAs one side
    has and the other not (per input: staging's distinct SHAs against this table's). An incremental
    run rewrites the lines of those files, of the orders, products and designs of those files, and
    of an unknown (null) SHA; a code change rewrites every line. The post-hook drops lines that left
    the source. Comparing with the table's own rows keeps this equal to a full refresh however old
    they are (each blue/green colour has its own), and it reads one column of each input instead of
    hashing every line. -#}
{#- Per input: its staging model and key. #}
{%- set inputs = {
    'line': ('stg_shop__order_items', 'order_item_id'),
    'order': ('stg_shop__orders', 'order_id'),
    'product': ('stg_shop__products', 'product_id'),
    'design': ('stg_shop__designs', 'design_id'),
} -%}
{#- The table's own state. A table built before these columns, or by other code, is rewritten
    whole (the full path: no key sets of every line). #}
{%- set state_columns = [
    'line_landed_file_sha256', 'order_landed_file_sha256', 'product_landed_file_sha256',
    'design_landed_file_sha256', 'inputs_code_hash', 'line_content_hash',
] -%}
{#- What a line carries from its inputs; the derived columns below are functions of these. #}
{%- set content_columns = [
    'order_item_id', 'order_id', 'user_id', 'order_status', 'ordered_at', 'product_id',
    'design_id', 'quantity', 'unit_price_usd', 'line_amount_usd', 'product_name', 'product_style',
    'product_color', 'canvas_group', 'is_apparel', 'designer_id', 'theme', 'theme_genre',
] -%}
{%- set code_hash = model_code_hash() -%}

with landed_order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

designs as (

    select * from {{ ref('stg_shop__designs') }}

),

{% if is_incremental_with(state_columns, code_hash) -%}

{#- Per input, the files whose content changed and the keys in them. These CTEs read the tables
    directly, not the import CTEs: DuckDB materializes a CTE read more than once, which would copy
    every line. The distinct contents come first, so a few SHAs per input, not one per row, meet in
    the set operators. A null SHA on either side is an unknown content: always changed (set
    operators treat nulls as equal, so it is added explicitly). #}

{%- for input, (staging_model, key) in inputs.items() %}

landed_{{ input }}_files as (

    select distinct staged.landed_file_sha256 from {{ ref(staging_model) }} as staged

),

built_{{ input }}_files as (

    select distinct built_lines.{{ input }}_landed_file_sha256 as landed_file_sha256
    from {{ this }} as built_lines

),

changed_{{ input }}_files as (

    (
        select landed_{{ input }}_files.landed_file_sha256 from landed_{{ input }}_files
        except
        select built_{{ input }}_files.landed_file_sha256 from built_{{ input }}_files
    )
    union
    (
        select built_{{ input }}_files.landed_file_sha256 from built_{{ input }}_files
        where built_{{ input }}_files.landed_file_sha256 is not null
        except
        select landed_{{ input }}_files.landed_file_sha256 from landed_{{ input }}_files
    )

),

changed_{{ input }}_keys as (

    select staged.{{ key }} from {{ ref(staging_model) }} as staged
    where
        staged.landed_file_sha256 is null
        or staged.landed_file_sha256 in (
            select changed_{{ input }}_files.landed_file_sha256 from changed_{{ input }}_files
        )

),

{%- endfor %}

{#- Lines whose stored input content is gone while that input's key is in no changed file: the
    key moved to an unchanged file or went. A key in a changed file is already selected below, so
    a replaced file (a new catalogue, say) does not list its lines twice. #}

lines_of_gone_contents as (

    select built_lines.order_item_id from {{ this }} as built_lines
    where
        built_lines.line_landed_file_sha256 is null
    {%- for input, (staging_model, key) in inputs.items() %}
    or (
        built_lines.{{ input }}_landed_file_sha256 in (
            select changed_{{ input }}_files.landed_file_sha256 from changed_{{ input }}_files
        )
        and built_lines.{{ key }} not in (
            select changed_{{ input }}_keys.{{ key }} from changed_{{ input }}_keys
        )
    )
    {%- endfor %}

),

order_items as (

    select * from landed_order_items
    where
        landed_file_sha256 is null
        or landed_file_sha256 in (
            select changed_line_files.landed_file_sha256 from changed_line_files
        )
        or order_id in (select changed_order_keys.order_id from changed_order_keys)
        or product_id in (select changed_product_keys.product_id from changed_product_keys)
        or design_id in (select changed_design_keys.design_id from changed_design_keys)
        or order_item_id in (
            select lines_of_gone_contents.order_item_id from lines_of_gone_contents
        )

),

{%- else %}

order_items as (

    select * from landed_order_items

),

{%- endif %}

{#- Left joins: an item whose order or product is missing upstream (flagged by staging's warn
    tests) is still a sale line; it just lacks that context. #}

joined as (

    select
        order_items.order_item_id,
        order_items.order_id,
        orders.user_id,
        orders.status as order_status,
        orders.ordered_at,
        order_items.product_id,
        order_items.design_id,
        order_items.quantity,
        order_items.unit_price_usd,
        order_items.line_amount_usd,
        products.product_name,
        products.product_style,
        products.product_color,
        products.canvas_group,
        products.is_apparel,
        designs.designer_id,
        designs.theme,
        designs.theme_genre,
        order_items.landed_file_sha256 as line_landed_file_sha256,
        orders.landed_file_sha256 as order_landed_file_sha256,
        products.landed_file_sha256 as product_landed_file_sha256,
        designs.landed_file_sha256 as design_landed_file_sha256
    from order_items
    left join orders
        on order_items.order_id = orders.order_id
    left join products
        on order_items.product_id = products.product_id
    left join designs
        on order_items.design_id = designs.design_id

),

final as (

    select
        order_item_id,
        order_id,
        user_id,
        order_status,
        coalesce(order_status = 'completed', false) as is_completed_order,
        ordered_at,
        cast(ordered_at as date) as order_date,
        {{ dbt.hash(dbt.concat(["product_id", "'|'", "coalesce(design_id, '')"])) }}
            as product_design_key,
        product_id,
        design_id,
        quantity,
        unit_price_usd,
        line_amount_usd,
        product_name,
        product_style,
        product_color,
        canvas_group,
        is_apparel,
        designer_id,
        theme,
        theme_genre,
        line_landed_file_sha256,
        order_landed_file_sha256,
        product_landed_file_sha256,
        design_landed_file_sha256,
        '{{ code_hash }}' as inputs_code_hash,
        {#- hashed once, when the line is written: fct_orders sums it per order, so the
            customer features fingerprint orders, not every line #}
        {{ row_hash(content_columns) }} as line_content_hash
    from joined

)

select * from final
