"""FreeSWITCH call controller: Kazoo-style callflows driven over outbound ESL."""

__version__ = "0.1.0"
