"""Amazon listings, variations and FBA stock into Kafka (Amazon -> listing.updated, fba.inventory), and the SKU links."""
