"""Stock levels from internal warehouses to Amazon listings (stock.changed -> Amazon -> stock.published)."""
