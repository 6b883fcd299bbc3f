"""Amazon's marketplaces and regions, defined once for every lib and service of ours."""

from marketplaces.marketplace import MARKETPLACES, Marketplace, marketplace, marketplace_for_country, marketplaces_in
from marketplaces.region import Region

__all__ = ["MARKETPLACES", "Marketplace", "Region", "marketplace", "marketplace_for_country", "marketplaces_in"]
