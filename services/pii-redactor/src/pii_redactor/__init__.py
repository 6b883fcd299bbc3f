"""The buyer PII vault: keeps ship-to data for fulfilment and redacts it 30 days after completion."""
