"""Kafka authorization: the platform's principals, their ACL set (`model`), applying it
through the Admin API (`admin`) and `nmc acl plan|apply` (`cli`)."""
