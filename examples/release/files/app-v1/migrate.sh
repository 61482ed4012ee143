#!/bin/sh
# The app's "migration": records the schema version in the shared data directory.
set -e
echo "schema v1" > data/schema
