"""Environment of catalog-sync; read once, in main.py, and handed to the composition root."""

from servicekit import ServiceSettings


class Settings(ServiceSettings):
    pass
