{#- Grain: one row per product x design as sold. The catalogue says what a product is (a blank
    t-shirt, a poster); the design printed on it is chosen per order item, so design attributes
    belong to the combination, not to the product. Rows: every (product_id, design_id) pair seen
    on an order item, plus one design-less row for each catalogue product never sold, so the
    dimension covers the whole catalogue and every fact line finds its row. -#}
with products as (

    select * from {{ ref('stg_shop__products') }}

),

designs as (

    select * from {{ ref('stg_shop__designs') }}

),

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

sold_combinations as (

    select distinct
        product_id,
        design_id
    from order_items

),

unsold_products as (

    select
        products.product_id,
        cast(null as {{ dbt.type_string() }}) as design_id
    from products
    where not exists (
        select 1 as is_sold from sold_combinations
        where sold_combinations.product_id = products.product_id
    )

),

combinations as (

    select * from sold_combinations
    union all
    select * from unsold_products

),

final as (

    select
        {{ dbt.hash(dbt.concat([
            "combinations.product_id", "'|'", "coalesce(combinations.design_id, '')"
        ])) }} as product_design_key,
        combinations.product_id,
        combinations.design_id,
        products.product_name,
        products.product_style,
        products.product_color,
        products.canvas_group,
        products.is_apparel,
        designs.designer_id,
        designs.theme,
        designs.theme_genre,
        products.product_id is not null as is_in_product_catalogue,
        combinations.design_id is null or designs.design_id is not null as is_in_design_catalogue
    from combinations
    left join products
        on combinations.product_id = products.product_id
    left join designs
        on combinations.design_id = designs.design_id

)

select * from final
