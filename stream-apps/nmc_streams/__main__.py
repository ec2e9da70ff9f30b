"""`python -m nmc_streams <app>`: same as `nmc worker <app>`."""

from nmc_streams.cli import worker_app

worker_app(prog_name="nmc_streams")
