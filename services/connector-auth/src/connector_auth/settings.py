"""Environment of connector-auth; read once, in main.py, and handed to the composition root."""

from servicekit import ServiceSettings


class Settings(ServiceSettings):
    pass
