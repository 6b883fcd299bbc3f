"""Amazon listings, variations and FBA stock into Kafka (Amazon -> listing.updated, fba.inventory), and SKU links."""
