# Recipes an operator keeps next to hive.ts. `just --list` shows them.

hive := justfile_directory() / "bin/hive"
lab_nodes := "web-1,web-2,gpu-1,desk-1"

# List the fleet
nodes *ARGS:
    {{hive}} nodes {{ARGS}}

# Evaluate and build every node, deploy nothing
build:
    {{hive}} build

# Build, push and switch every node
deploy-all:
    {{hive}} apply

# Build, push and switch the nodes tagged TAG
deploy TAG:
    {{hive}} apply --on @{{TAG}}

# What runs where, and what drifted from hive.ts
fleet-status:
    {{hive}} status

# Uptime of every node
fleet-uptime:
    {{hive}} exec -- uptime

# The test suite (end-to-end tests need root)
test:
    npm test

# Bring up the demo lab that hive.ts describes
lab-up:
    npm run --silent lab -- up --name demo --subnet 10.78 --nodes {{lab_nodes}}

# Take the demo lab down, leaving nothing behind
lab-down:
    npm run --silent lab -- down --name demo
