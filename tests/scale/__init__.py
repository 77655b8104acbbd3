"""Tests of the scale tier: its services, and mosaico over a shared catalog and S3."""
