# Variable file for staging: weir plan -f infra/examples/orders-platform -var-file infra/examples/orders-platform/env/staging.hcl
env                    = "staging"
orders_shards          = 1
orders_retention_hours = 24
