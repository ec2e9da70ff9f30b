"""The scheduling domain: holds and appointments on a resource's calendar."""
