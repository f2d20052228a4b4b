//! The shop's fixed product list.

/// A product for sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    /// The id forms send and the cart stores.
    pub id: &'static str,
    /// The name shown to shoppers.
    pub name: &'static str,
    /// One line about it.
    pub blurb: &'static str,
    /// The price in cents.
    pub price_cents: u32,
}

/// Everything the shop sells.
pub const PRODUCTS: &[Product] = &[
    Product {
        id: "sencha",
        name: "Sencha green tea",
        blurb: "Steamed Japanese green tea, 100 g.",
        price_cents: 850,
    },
    Product {
        id: "earl-grey",
        name: "Earl Grey",
        blurb: "Black tea with bergamot, 100 g.",
        price_cents: 650,
    },
    Product {
        id: "teapot",
        name: "Cast-iron teapot",
        blurb: "Holds 0.6 l; keeps it hot.",
        price_cents: 3900,
    },
    Product {
        id: "mug",
        name: "Stoneware mug",
        blurb: "Glazed by hand; no two alike.",
        price_cents: 1200,
    },
];

/// The product with `id`, if the shop sells it.
pub fn find(id: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|product| product.id == id)
}

/// `cents` as a price: `$12.50`.
pub fn price(cents: u64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}
