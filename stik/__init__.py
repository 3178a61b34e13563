"""Stik: the composition root — configuration, the aiohttp application, the command line."""
