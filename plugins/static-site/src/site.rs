//! The storefront's pages, rendered from the configuration. They are built
//! here rather than in the chart so tenant text is HTML-escaped by tested
//! Rust code, not by template functions.

use crate::config::Config;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;color:#222}\
header{border-bottom:1px solid #ddd;margin-bottom:1rem}\
ul.products{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:1rem}\
li.product{border:1px solid #ddd;border-radius:.5rem;padding:1rem}\
.price{font-weight:bold}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
}

/// `index.html`: title, tagline and the product list.
pub fn storefront(config: &Config) -> String {
    let title = escape(&config.shop_title);
    let mut body = format!("<header>\n<h1>{title}</h1>\n");
    if !config.tagline.is_empty() {
        body.push_str(&format!("<p>{}</p>\n", escape(&config.tagline)));
    }
    body.push_str("</header>\n<main>\n<ul class=\"products\">\n");
    for product in &config.products {
        body.push_str(&format!(
            "<li class=\"product\"><h2>{}</h2><p>{}</p><p class=\"price\">{} {}</p></li>\n",
            escape(&product.name),
            escape(&product.description),
            escape(&product.price),
            escape(&config.currency),
        ));
    }
    body.push_str("</ul>\n</main>\n");
    page(&title, &body)
}

/// `admin/index.html`, behind basic auth: what the store is configured with.
pub fn admin(config: &Config, store_name: &str, generation: i64) -> String {
    let mut rows = String::new();
    for product in &config.products {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{} {}</td></tr>\n",
            escape(&product.name),
            escape(&product.price),
            escape(&config.currency)
        ));
    }
    let body = format!(
        "<header>\n<h1>{} &mdash; admin</h1>\n<p>Store <code>{}</code>, configuration generation {generation}.</p>\n</header>\n\
         <main>\n<h2>Products ({})</h2>\n<table>\n<tr><th>Name</th><th>Price</th></tr>\n{rows}</table>\n\
         <p>This is a static storefront: change products by editing the store's configuration.</p>\n</main>\n",
        escape(&config.shop_title),
        escape(store_name),
        config.products.len(),
    );
    page(&format!("{} admin", escape(&config.shop_title)), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        serde_json::from_value(serde_json::json!({
            "shop_title": "Tom & Jerry's <Shop>",
            "products": [{"name": "<script>alert(1)</script>", "price": "3.00"}]
        }))
        .unwrap()
    }

    #[test]
    fn tenant_text_is_escaped() {
        let html = storefront(&config());
        assert!(
            html.contains("<title>Tom &amp; Jerry&#39;s &lt;Shop&gt;</title>"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn storefront_lists_every_product_with_price_and_currency() {
        let html = storefront(&config());
        assert_eq!(html.matches("<li class=\"product\">").count(), 1);
        assert!(html.contains("3.00 USD"));
    }

    #[test]
    fn admin_page_names_the_store_and_generation() {
        let html = admin(&config(), "shop-1", 4);
        assert!(
            html.contains("<code>shop-1</code>, configuration generation 4"),
            "{html}"
        );
        assert!(html.contains("Products (1)"));
    }
}
